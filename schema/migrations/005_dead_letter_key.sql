-- The index on dead_queue (002), built online: ALGORITHM=INPLACE, LOCK=NONE reads the table while
-- enqueues, claims and acks go on, and the server refuses rather than copies if it cannot. It
-- comes after 004 because on MariaDB a table with an indexed virtual column can no longer gain a
-- column INSTANT or online ("online rebuild with indexed virtual columns"; tried on 10.11), which
-- 004 needs. MySQL 8.0's manual lists "Adding a secondary index on a virtual column" as in place
-- with concurrent DML, and INSTANT ADD COLUMN without that restriction (manual only, not run here).
-- Databases that applied 002's first text have this index already: the runner takes the
-- duplicate key name (1061) as "already done".
ALTER TABLE queue_messages ADD KEY ix_queue_messages_dead (dead_queue, id), ALGORITHM=INPLACE, LOCK=NONE
