-- FIFO message groups (lib/sql/claimGroupHeads.ts). group_key is the group a message belongs to
-- (NULL: none); group_head repeats it while the message is unfinished and is NULL once it is done,
-- dead or cancelled, so the index below holds each live group's messages in id (enqueue) order
-- and the group's head is its first entry. group_head is a plain column set by the statements
-- that finish and redrive a message, not a generated one: MariaDB does not read an index on a
-- virtual column with a loose index scan (one dive per group; tried on 10.11), and a STORED column
-- would copy the table. For a message without a group both stay NULL and no write changes them,
-- so the drain's hot path never rewrites this index for ungrouped queues.
--
-- Online on both engines, in four steps. MariaDB cannot add a column INSTANT (nor online) to a
-- table that has an indexed virtual column ("online rebuild with indexed virtual columns"; tried
-- on 10.11), and queue_messages has one: dead_queue (002, indexed by 005). So its index goes,
-- the columns are added INSTANT, and the index comes back built online, as 005 built it; listing
-- dead letters reads the dead_queue column without its index meanwhile (slower, still right).
-- MySQL 8.0 would add the columns INSTANT without this (its manual; not run here), and takes the
-- same four steps online. A run that stops midway is taken up again: each step that already took
-- effect is recognised (1091, 1060, 1061; lib/migrate.ts), the two indexes in steps of their own.
ALTER TABLE queue_messages DROP INDEX ix_queue_messages_dead, ALGORITHM=INPLACE, LOCK=NONE
-- statement
ALTER TABLE queue_messages
  ADD COLUMN group_key  VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  ADD COLUMN group_head VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  ALGORITHM=INSTANT
-- statement
ALTER TABLE queue_messages ADD KEY ix_queue_messages_dead (dead_queue, id), ALGORITHM=INPLACE, LOCK=NONE
-- statement
ALTER TABLE queue_messages ADD KEY ix_queue_messages_group (queue, group_head, id), ALGORITHM=INPLACE, LOCK=NONE
-- statement
-- Queue-wide limits (lib/sql/permits.ts): one row per permit. A queue with ratePerSecond R has R
-- 'rate' permits, each usable once a second (a sliding window); with concurrency C it has C 'run'
-- permits, each held by one claim (held_by, its lease token) until its handlers end, and never
-- past the claim's lease (free_at), so a crashed drain frees them by itself. A claim takes its
-- permits in one statement with FOR UPDATE SKIP LOCKED, as it takes messages.
CREATE TABLE IF NOT EXISTS queue_permits (
  queue   VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  kind    ENUM('rate','run') NOT NULL,
  slot    INT UNSIGNED NOT NULL,
  free_at DATETIME(3) NOT NULL,
  held_by CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL,
  PRIMARY KEY (queue, kind, slot),
  -- A take reads only free permits (free_at <= now), in this index's order, so its cost is what it
  -- takes, not the size of the limit; a release finds a claim's permits by their holder.
  KEY ix_queue_permits_free (queue, kind, free_at),
  KEY ix_queue_permits_holder (queue, held_by)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
