/**
 * The statements `aurora-queue doctor` runs against a cluster: each answers one question about
 * how the engine and the Data API behave, so the product's assumptions are checked where it runs.
 */
import type { Db } from '../db/types.js';
import { namedList } from './namedList.js';

export async function serverSettings(db: Db): Promise<{ version: string; binlogFormat: string | null; timeZone: string }> {
  const [row] = await db.query('SELECT VERSION() AS version, @@GLOBAL.binlog_format AS binlog_format, @@time_zone AS time_zone', {}, { idempotent: true });
  return { version: String(row?.version), binlogFormat: (row?.binlog_format as string | null) ?? null, timeZone: String(row?.time_zone) };
}

export async function appliedSchemaVersion(db: Db): Promise<number | undefined> {
  const [row] = await db.query('SELECT MAX(version) AS version FROM schema_migrations', {}, { idempotent: true });
  return row?.version === null || row?.version === undefined ? undefined : Number(row.version);
}

/** The claim's row source, as the optimizer plans it for this queue. */
export async function explainClaimScan(db: Db, queue: string, now: Date): Promise<{ key: string | null; type: string; extra: string }> {
  const [row] = await db.query(
    `EXPLAIN SELECT id FROM queue_messages FORCE INDEX (ix_queue_messages_claim)
     WHERE queue = :queue AND finished_at IS NULL AND available_at <= :now
     ORDER BY priority DESC, available_at LIMIT 100 FOR UPDATE SKIP LOCKED`,
    { queue, now },
    { idempotent: true },
  );
  return { key: (row?.key as string | null) ?? null, type: String(row?.type), extra: String(row?.Extra ?? '') };
}

/** A JSON document sent as a plain string parameter, read back by JSON functions. */
export async function jsonRoundTrip(db: Db, document: object): Promise<{ number: unknown; text: unknown }> {
  const [row] = await db.query(`SELECT JSON_EXTRACT(:doc, '$.n') + 0 AS n, JSON_UNQUOTE(JSON_EXTRACT(:doc, '$.s')) AS s`, { doc: JSON.stringify(document) }, { idempotent: true });
  return { number: row?.n, text: row?.s };
}

/** A row of `bytes` bytes: whether it comes back says which reading of the 64 KB row limit applies. */
export async function bigRow(db: Db, bytes: number): Promise<number> {
  const [row] = await db.query('SELECT REPEAT(:c, :n) AS big', { c: 'x', n: bytes }, { idempotent: true });
  return String(row?.big ?? '').length;
}

const PROBE_QUEUE = '__aurora_queue_doctor';

/**
 * Whether an UPDATE that changes nothing is counted: 1 means the Data API reports matched rows,
 * 0 changed rows. Uses a queue_state row of its own and removes it.
 */
export async function unchangedUpdateCount(db: Db, now: Date): Promise<number> {
  await db.execute('INSERT INTO queue_state (queue, updated_at) VALUES (:queue, :now) ON DUPLICATE KEY UPDATE updated_at = :now', { queue: PROBE_QUEUE, now }, { idempotent: true });
  try {
    const result = await db.execute('UPDATE queue_state SET updated_at = :now WHERE queue = :queue', { queue: PROBE_QUEUE, now }, { idempotent: true });
    return result.numberOfRecordsUpdated;
  } finally {
    await db.execute('DELETE FROM queue_state WHERE queue = :queue', { queue: PROBE_QUEUE }, { idempotent: true });
  }
}

/**
 * Live messages without a group in FIFO queues, by queue: enqueued before the queue became FIFO,
 * they are never claimed there (a FIFO claim takes group heads only). Reads the queues' live rows
 * through the claim index, as the drain does; an operator's check, not a hot path.
 */
export async function ungroupedLiveMessages(db: Db, queues: readonly string[]): Promise<Map<string, number>> {
  if (queues.length === 0) return new Map();
  const { placeholders, params } = namedList('queue', queues);
  const rows = await db.query(
    `SELECT queue, COUNT(*) AS n FROM queue_messages FORCE INDEX (ix_queue_messages_claim)
     WHERE queue IN (${placeholders}) AND finished_at IS NULL AND group_key IS NULL
     GROUP BY queue`,
    params,
    { idempotent: true },
  );
  return new Map(rows.map((row) => [String(row.queue), Number(row.n)]));
}
