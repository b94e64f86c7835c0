-- The queue's tables. One statement per file section: the migration runner splits on lines
-- that hold only `-- statement`, because the Data API runs one statement per call.
-- SQL here must run on Aurora MySQL 3 (MySQL 8.0) and on MariaDB 10.11 (the local stand-in).

CREATE TABLE IF NOT EXISTS queue_messages (
  -- UUIDv7 made by the product: time-ordered, so inserts append to the clustered index and a
  -- batch needs no read-back of generated ids.
  id            CHAR(36)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  queue         VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  type          VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  payload       JSON         NOT NULL,
  -- UTF-8 bytes of the payload's JSON text, so a claim can page its reads under the Data API's
  -- 1 MiB response limit without reading the payloads first.
  payload_bytes INT UNSIGNED NOT NULL,
  -- waiting: never attempted; running: leased by a drainer; retrying: failed, waiting for its
  -- next attempt; done, dead, cancelled: finished.
  status        ENUM('waiting','running','retrying','done','dead','cancelled') NOT NULL,
  -- Higher runs first.
  priority      SMALLINT     NOT NULL DEFAULT 0,
  attempts      INT UNSIGNED NOT NULL DEFAULT 0,
  max_attempts  INT UNSIGNED NOT NULL,
  -- When the message may next be claimed. While `running` it is the lease deadline (the SQS
  -- visibility timeout): a crashed drainer's messages become claimable again by themselves.
  available_at  DATETIME(3)  NOT NULL,
  -- Set by each claim; every write after a claim checks it, so a drainer whose lease expired
  -- cannot overwrite the newer state of a message another drainer has since claimed.
  lease_token   CHAR(36)     CHARACTER SET ascii COLLATE ascii_bin NULL,
  dedup_key     VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  -- Enqueues refused as duplicates of this message; lets a batch insert count its duplicates.
  dedup_hits    INT UNSIGNED NOT NULL DEFAULT 0,
  last_error    TEXT         CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  created_at    DATETIME(3)  NOT NULL,
  updated_at    DATETIME(3)  NOT NULL,
  -- NULL while the message is live. The claim index starts (queue, finished_at), so a claim's
  -- `finished_at IS NULL` is an equality on the index prefix: finished rows are never scanned
  -- and the claim's cost does not grow with them; retention uses the same prefix as a range.
  finished_at   DATETIME(3)  NULL,
  PRIMARY KEY (id),
  -- Claim: rows are read in index order (priority, then due time), which is what lets
  -- FOR UPDATE SKIP LOCKED skip rows locked by a concurrent claim instead of waiting on them.
  KEY ix_queue_messages_claim (queue, finished_at, priority DESC, available_at),
  KEY ix_queue_messages_lease (lease_token),
  -- Idempotent enqueue: one message per (queue, dedup_key); NULL keys do not collide.
  UNIQUE KEY ux_queue_messages_dedup (queue, dedup_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
-- statement
CREATE TABLE IF NOT EXISTS queue_state (
  queue      VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  paused_at  DATETIME(3) NULL,
  updated_at DATETIME(3) NOT NULL,
  PRIMARY KEY (queue)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
