-- Keyed flow control (lib/sql/groupLimits.ts): per-group concurrency and rate on a queue declared
-- with `groups`, and per-group runtime overrides and pause.
--
-- queue_groups: one row per group the drain has seen or an operator has set. Its settings are
-- NULL where the queue's declaration applies. The grouped claim locks the rows of the groups it
-- claims from (FOR UPDATE SKIP LOCKED) and counts each group's messages in flight while it holds
-- the row, so two drains never claim from one group at once and a group's in-flight count cannot
-- be read stale by a concurrent claim: this is what holds `concurrency` across every drain.
CREATE TABLE IF NOT EXISTS queue_groups (
  queue           VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  group_key       VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  concurrency     INT UNSIGNED NULL,
  rate_per_second DOUBLE       NULL,
  paused          TINYINT(1)   NOT NULL DEFAULT 0,
  updated_at      DATETIME(3)  NOT NULL,
  PRIMARY KEY (queue, group_key),
  -- The dashboard's and the CLI's list of paused or overridden groups, without a scan of every group.
  KEY ix_queue_groups_paused (queue, paused)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
-- statement
-- A group's rate permits, as queue_permits (006) holds a queue's: ceil(rate) rows per group, each
-- taken for a window by one start, so no window starts more of the group than its rate allows.
-- held_by is the claim that took it last and window_ms its window then: a claim that reaches its
-- drain late keeps its permits a window from its messages' actual start, by its lease token.
CREATE TABLE IF NOT EXISTS queue_group_permits (
  queue     VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  group_key VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  slot      INT UNSIGNED NOT NULL,
  free_at   DATETIME(3)  NOT NULL,
  held_by   CHAR(36)     CHARACTER SET ascii COLLATE ascii_bin NULL,
  window_ms INT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (queue, group_key, slot),
  KEY ix_queue_group_permits_holder (queue, held_by)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
