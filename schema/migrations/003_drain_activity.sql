-- Wake on enqueue, coalesced through the database. A drain run that lingers promises to keep
-- polling a queue until drain_active_until; an enqueue wakes a drain only when no run promises
-- that far ahead and no wake went out in the last interval (woken_at). queue_state has a row per
-- queue that has been paused, drained or woken: a few rows, so this ALTER is instant.
ALTER TABLE queue_state
  ADD COLUMN drain_active_until DATETIME(3) NULL,
  ADD COLUMN woken_at DATETIME(3) NULL
