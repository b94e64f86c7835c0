-- Dead letters by queue, without reading the queue's finished history (listing, redrive and
-- purge stay fast with millions of done messages). The column is NULL for every status but
-- 'dead', so claims, acks and retries never change the key of its index (005): InnoDB leaves a
-- secondary index alone when its key does not change, and the drain's hot path pays nothing.
--
-- VIRTUAL and ALGORITHM=INSTANT: only metadata changes, on a populated queue_messages too; the
-- server refuses rather than copies if it cannot. (This file first added the column STORED with
-- its index: a STORED generated column copies the table under a write lock. Databases that
-- applied that text keep its STORED column, which reads the same; the line below tells the
-- runner so.) Verified on MariaDB 10.11 with rows in the table; MySQL 8.0 lists "Adding a
-- VIRTUAL column" as INSTANT in its manual (innodb-online-ddl-operations), not run here.
-- supersedes 231d596cbd8e006247821337bdc14a292ee42b0e86e3924f963424a8ec966755
ALTER TABLE queue_messages
  ADD COLUMN dead_queue VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin
    GENERATED ALWAYS AS (IF(status = 'dead', queue, NULL)) VIRTUAL,
  ALGORITHM=INSTANT
