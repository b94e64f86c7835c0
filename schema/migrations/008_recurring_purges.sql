-- Recurring slots whose message was purged (lib/sql/recurringPurges.ts). A slot's message is its
-- only record that the slot was enqueued (its dedup key, lib/recurring.ts), and a run enqueues any
-- slot within its look-back whose key is free; a purge frees the key long before retention would,
-- so without this a process that had not stored the slot itself would enqueue it again. One row
-- per entry and queue: the newest slot purged. The recurring insert skips slots at or before it,
-- so the table stays as small as the config and needs no expiry.
CREATE TABLE IF NOT EXISTS queue_recurring_purges (
  queue          VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  entry          VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  purged_through DATETIME(3)  NOT NULL,
  updated_at     DATETIME(3)  NOT NULL,
  PRIMARY KEY (queue, entry)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
