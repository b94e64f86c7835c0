-- Cancel requests for running messages (DELETE /messages/{id} on one a drain holds). The drain
-- running a message polls the requests of its running messages (lib/sql/readCancelRequests.ts)
-- and settles it `cancelled` (lib/sql/cancelHeld.ts). A request names the lease it was made
-- under: a message whose handler finished first, and runs again later (a retry), is not
-- cancelled by a request meant for the attempt that ended. A side table, not a column: adding a
-- column to queue_messages online is the awkward case (see 004-010). Deleting a message deletes
-- its request.
CREATE TABLE IF NOT EXISTS queue_cancel_requests (
  message_id   CHAR(36)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  lease_token  CHAR(36)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  requested_at DATETIME(3) NOT NULL,
  PRIMARY KEY (message_id),
  CONSTRAINT fk_queue_cancel_requests_message FOREIGN KEY (message_id) REFERENCES queue_messages (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
