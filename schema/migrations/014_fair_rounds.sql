-- Fair shares across groups without numbering every group's backlog at each claim
-- (lib/sql/groupLimits.ts, issue 24). fair_round is a message's turn within its group as a
-- start-time fair queue gives it at enqueue: a group's next message takes one more than the
-- group's last, and never less than the queue's front (the due message a claim takes next), so a
-- group that just arrived starts at the front and a group with a backlog of 50,000 holds turns
-- 50,000 ahead. A fair claim then reads due messages in (priority, turn) order from the index
-- below, and its cost follows what it takes, not the queue's backlog. NULL (messages enqueued
-- before this migration, or before their queue was made fair) sorts first, before any turn; a
-- redriven message keeps its old turn, which sorts early too.
--
-- group_queue is the queue of an unfinished grouped message, else NULL (group_head is NULL once
-- a message is done, dead or cancelled, 006), so the index's range for a queue holds its live
-- grouped messages only and a finished history costs a fair claim nothing. fair_due_at is such a
-- message's available_at, else NULL. Both VIRTUAL: an ungrouped message's key (NULL, its priority,
-- NULL, NULL, NULL) never changes, so the hot path of ungrouped queues (a claim and a retry move
-- available_at) never rewrites this index.
--
-- The group-lease index comes back as (group_lease, queue): a read of a queue's running messages
-- (lib/sql/groupLimits.ts, a group at its concurrency) is then a range over running messages only.
-- On (queue, group_lease) the optimizer could take the queue prefix as a ref instead, and read
-- every message the queue ever had (seen on 10.11 with statistics taken while many ran). Lookups
-- of one group's running messages are equalities on both columns either way.
--
-- Online on both engines, in the steps of 010 and for its reason (MariaDB adds a column INSTANT
-- only to a table without indexed virtual columns). A run that stops midway is taken up again
-- (1091, 1060, 1061; lib/migrate.ts).
ALTER TABLE queue_messages DROP INDEX ix_queue_messages_dead, ALGORITHM=INPLACE, LOCK=NONE
-- statement
ALTER TABLE queue_messages DROP INDEX ix_queue_messages_group_lease, ALGORITHM=INPLACE, LOCK=NONE
-- statement
ALTER TABLE queue_messages ADD COLUMN fair_round BIGINT UNSIGNED NULL, ALGORITHM=INSTANT
-- statement
ALTER TABLE queue_messages
  ADD COLUMN group_queue VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin
    GENERATED ALWAYS AS (IF(group_head IS NULL, NULL, queue)) VIRTUAL,
  ADD COLUMN fair_due_at DATETIME(3) GENERATED ALWAYS AS (IF(group_head IS NULL, NULL, available_at)) VIRTUAL,
  ALGORITHM=INSTANT
-- statement
ALTER TABLE queue_messages ADD KEY ix_queue_messages_group_lease (group_lease, queue), ALGORITHM=INPLACE, LOCK=NONE
-- statement
ALTER TABLE queue_messages ADD KEY ix_queue_messages_dead (dead_queue, id), ALGORITHM=INPLACE, LOCK=NONE
-- statement
-- Covering for the fair claim's read: the due filter and the group (paused groups are left out)
-- are read from the index, in the claim's order.
ALTER TABLE queue_messages
  ADD KEY ix_queue_messages_fair (group_queue, priority DESC, fair_round, fair_due_at, group_head),
  ALGORITHM=INPLACE, LOCK=NONE
-- statement
-- Whether a queue has any group override of concurrency or rate, in one index dive each: a fair
-- queue without per-group limits claims in one statement only while it has none (lib/sql/groupLimits.ts).
ALTER TABLE queue_groups
  ADD KEY ix_queue_groups_concurrency (queue, concurrency),
  ADD KEY ix_queue_groups_rate (queue, rate_per_second),
  ALGORITHM=INPLACE, LOCK=NONE
