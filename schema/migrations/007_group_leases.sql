-- Which group each running message holds (lib/sql/claimGroupHeads.ts): a FIFO group has a message
-- in flight while one of its rows is 'running' under a live lease, and the claim refuses a group
-- that has one. This is what keeps one message in flight per group when a message commits late:
-- ids are made before the insert commits, so a producer's open transaction (the outbox), a client
-- batching linger or a re-sent insert can commit a message whose id sorts before one of its group
-- that already started, and "the lowest unfinished id" alone would then let both run.
--
-- VIRTUAL, NULL for every status but 'running' and for messages without a group, so enqueues and
-- the hot path of ungrouped queues never change its index's key (InnoDB leaves a secondary index
-- alone when its key does not change), as for dead_queue (002).
--
-- Online on both engines, in the steps of 006 and for its reason: MariaDB cannot add a column
-- INSTANT to a table with an indexed virtual column, so ix_queue_messages_dead goes first and comes
-- back built online; a run that stops midway is taken up again (1091, 1060, 1061; lib/migrate.ts).
ALTER TABLE queue_messages DROP INDEX ix_queue_messages_dead, ALGORITHM=INPLACE, LOCK=NONE
-- statement
ALTER TABLE queue_messages
  ADD COLUMN group_lease VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin
    GENERATED ALWAYS AS (IF(status = 'running', group_key, NULL)) VIRTUAL,
  ALGORITHM=INSTANT
-- statement
ALTER TABLE queue_messages ADD KEY ix_queue_messages_dead (dead_queue, id), ALGORITHM=INPLACE, LOCK=NONE
-- statement
ALTER TABLE queue_messages ADD KEY ix_queue_messages_group_lease (queue, group_lease), ALGORITHM=INPLACE, LOCK=NONE
-- statement
-- A FIFO queue's groups hashed to a fixed number of slots (lib/sql/groupSlots.ts). A producer
-- that enqueues grouped messages inside its own transaction (the outbox) holds a shared lock on
-- their groups' slots until it commits, and the FIFO claim locks a head's slot FOR UPDATE SKIP
-- LOCKED: it passes over a group whose producer has not committed yet (so the group's later
-- messages keep their place behind the uncommitted one) without waiting, and claims every other
-- group. Slots rather than a row per group: a row must exist and be committed before a producer
-- can lock it, and creating one inside the producer's transaction would leave it invisible,
-- hence unlocked, to the claim. Groups that share a slot wait for each other's producers only.
CREATE TABLE IF NOT EXISTS queue_group_slots (
  queue VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  slot  INT UNSIGNED NOT NULL,
  PRIMARY KEY (queue, slot)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
