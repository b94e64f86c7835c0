-- A queue's pending timed wake (lib/timedWakes.ts): the time of the one-time schedule that will
-- start a drain for it, so that a drain run or an enqueue sets a wake only when it is earlier
-- than the one pending (or none is), and a busy system makes no Scheduler call per run.
-- INSTANT on both engines: queue_state has no virtual column.
ALTER TABLE queue_state ADD COLUMN wake_at DATETIME(3) NULL, ALGORITHM=INSTANT
