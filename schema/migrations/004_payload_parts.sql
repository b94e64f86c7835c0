-- Payloads up to 1 MiB. A payload too large for its message row (the Data API documents 64 KB
-- per returned row) is kept here in slices of at most 48 KiB of its JSON text, read back slice by
-- slice, so no row and no response passes the documented limits whichever reading AWS applies.
-- Deleting a message (retention, purge) deletes its slices.
CREATE TABLE IF NOT EXISTS queue_payload_parts (
  message_id CHAR(36)         CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  part       SMALLINT UNSIGNED NOT NULL,
  -- UTF-8 bytes of `data`, for paging reads by size.
  bytes      INT UNSIGNED     NOT NULL,
  data       MEDIUMTEXT       CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  PRIMARY KEY (message_id, part),
  CONSTRAINT fk_queue_payload_parts_message FOREIGN KEY (message_id) REFERENCES queue_messages (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
-- statement
-- How many slices hold the payload (0: it is in the row). INSTANT: a column with a default at the
-- end is added without copying the table, on MySQL 8.0 and MariaDB alike; refused rather than copied.
ALTER TABLE queue_messages ADD COLUMN payload_parts SMALLINT UNSIGNED NOT NULL DEFAULT 0, ALGORITHM=INSTANT
