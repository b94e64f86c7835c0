-- Dead letters by queue, without reading the queue's finished history (listing, redrive and
-- purge stay fast with millions of done messages). The column is NULL for every status but
-- 'dead', so claims, acks and retries never change this index's key: InnoDB leaves a secondary
-- index alone when its key does not change, and the drain's hot path pays nothing for it.
ALTER TABLE queue_messages
  ADD COLUMN dead_queue VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin
    GENERATED ALWAYS AS (IF(status = 'dead', queue, NULL)) STORED,
  ADD KEY ix_queue_messages_dead (dead_queue, id)
