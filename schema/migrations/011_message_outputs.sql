-- What a handler hands back: its result (what `handle` returned, as JSON text) and its latest
-- progress (`context.progress`). A side table, not columns of queue_messages: a message row is
-- already at the edge of the Data API's 64 KB per row with a full inline payload, and adding a
-- column to queue_messages online takes the steps of 010. Deleting a message deletes its outputs.
--
-- lease_token: the claim under which `result` was written. A result is written just before its
-- message is marked done, under the same lease; should that mark lose the lease (the message was
-- claimed again meanwhile), the result stays here but is shown only while the message's own
-- lease_token (kept on a finished row) is the same, so only the run that finished the message
-- has its result shown (lib/sql/getMessage.ts).
CREATE TABLE IF NOT EXISTS queue_message_outputs (
  message_id   CHAR(36)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  lease_token  CHAR(36)     CHARACTER SET ascii COLLATE ascii_bin NULL,
  -- At most 48 KiB (RESULT_LIMITS in schema/messages.ts): a row read alone stays under 64 KB.
  result       MEDIUMTEXT   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  -- UTF-8 bytes of `result`, so a read can tell whether it fits beside the message's payload.
  result_bytes INT UNSIGNED NULL,
  -- JSON text of at most 512 bytes.
  progress     TEXT         CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  progress_at  DATETIME(3)  NULL,
  updated_at   DATETIME(3)  NOT NULL,
  PRIMARY KEY (message_id),
  CONSTRAINT fk_queue_message_outputs_message FOREIGN KEY (message_id) REFERENCES queue_messages (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
