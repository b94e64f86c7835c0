-- The trace context of the request that enqueued a message (lib/tracing.ts): its W3C `traceparent`,
-- then a space and its `tracestate` when it has one, so the drain can run the message's attempts
-- in spans of the producer's trace. NULL when the producer sent none (or tracing is not in use).
-- ASCII: both headers are printable ASCII by their specification, and anything else is dropped
-- at enqueue; 55 characters of traceparent, a space and the 512 characters of tracestate the W3C
-- specification asks a vendor to propagate.
--
-- Online on both engines, in the steps of 006 and 007 and for their reason: MariaDB cannot add a
-- column INSTANT (nor online) to a table with an indexed virtual column, and queue_messages has
-- two (dead_queue, group_lease). Both indexes go, the column is added INSTANT, and the indexes
-- come back built online, the FIFO claim's first. Meanwhile the FIFO claim's in-flight check
-- reads group_lease without its index (lib/sql/claimGroupHeads.ts takes no index hint there for
-- this reason): slower, still right. A run that stops midway is taken up again (1091, 1060, 1061).
ALTER TABLE queue_messages DROP INDEX ix_queue_messages_dead, ALGORITHM=INPLACE, LOCK=NONE
-- statement
ALTER TABLE queue_messages DROP INDEX ix_queue_messages_group_lease, ALGORITHM=INPLACE, LOCK=NONE
-- statement
ALTER TABLE queue_messages
  ADD COLUMN trace_context VARCHAR(568) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ALGORITHM=INSTANT
-- statement
ALTER TABLE queue_messages ADD KEY ix_queue_messages_group_lease (queue, group_lease), ALGORITHM=INPLACE, LOCK=NONE
-- statement
ALTER TABLE queue_messages ADD KEY ix_queue_messages_dead (dead_queue, id), ALGORITHM=INPLACE, LOCK=NONE
