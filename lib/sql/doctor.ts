/**
 * The statements `aurora-queue doctor` runs against a cluster: each answers one question about
 * how the engine and the Data API behave, so the product's assumptions are checked where it runs.
 */
import { DataApiUnavailableError, StatementTimeoutError } from '../db/errors.js';
import type { Db, SqlParams } from '../db/types.js';
import { CLAIM_BATCH } from './claimBatch.js';
import { CLAIM_GROUP_HEADS, FIND_GROUP_HEADS } from './claimGroupHeads.js';
import { namedList } from './namedList.js';
import { executeWithLockWait } from './schemaMigrations.js';

/*
 * @@log_bin says whether the binary log is written; binlog_format always has a value on MySQL,
 * logging or not, so it alone cannot tell.
 */
const SERVER_SETTINGS = 'SELECT VERSION() AS version, @@log_bin AS log_bin, @@GLOBAL.binlog_format AS binlog_format, @@time_zone AS time_zone';

export interface ServerSettings {
  version: string;
  logBin: boolean;
  binlogFormat: string | null;
  timeZone: string;
}

export async function serverSettings(db: Db): Promise<ServerSettings> {
  const [row] = await db.query(SERVER_SETTINGS, {}, { idempotent: true });
  const logBin = row?.log_bin;
  return {
    version: String(row?.version),
    logBin: logBin === true || Number(logBin) === 1 || String(logBin).toUpperCase() === 'ON',
    binlogFormat: (row?.binlog_format as string | null) ?? null,
    timeZone: String(row?.time_zone),
  };
}

export async function appliedSchemaVersion(db: Db): Promise<number | undefined> {
  const [row] = await db.query('SELECT MAX(version) AS version FROM schema_migrations', {}, { idempotent: true });
  return row?.version === null || row?.version === undefined ? undefined : Number(row.version);
}

/** The claim's row source, as the optimizer plans it for this queue. */
export async function explainClaimScan(db: Db, queue: string, now: Date): Promise<{ key: string | null; type: string; extra: string }> {
  const [row] = await db.query<{ key: string | null; type: string | null; Extra: string | null }>(
    `EXPLAIN SELECT id FROM queue_messages FORCE INDEX (ix_queue_messages_claim)
     WHERE queue = :queue AND finished_at IS NULL AND available_at <= :now
     ORDER BY priority DESC, available_at LIMIT 100 FOR UPDATE SKIP LOCKED`,
    { queue, now },
    { idempotent: true },
  );
  return { key: row?.key ?? null, type: String(row?.type), extra: row?.Extra ?? '' };
}

/** A JSON document sent as a plain string parameter, read back by JSON functions. */
export async function jsonRoundTrip(db: Db, document: object): Promise<{ number: unknown; text: unknown }> {
  const [row] = await db.query(
    `SELECT JSON_EXTRACT(:doc, '$.n') + 0 AS n, JSON_UNQUOTE(JSON_EXTRACT(:doc, '$.s')) AS s`,
    { doc: JSON.stringify(document) },
    { idempotent: true },
  );
  return { number: row?.n, text: row?.s };
}

/** A row of `bytes` bytes: whether it comes back says which reading of the 64 KB row limit applies. */
export async function bigRow(db: Db, bytes: number): Promise<number> {
  const [row] = await db.query<{ big: string | null }>('SELECT REPEAT(:c, :n) AS big', { c: 'x', n: bytes }, { idempotent: true });
  return (row?.big ?? '').length;
}

const PROBE_QUEUE = '__aurora_queue_doctor';

/**
 * Whether an UPDATE that changes nothing is counted: 1 means the Data API reports matched rows,
 * 0 changed rows. Uses a queue_state row of its own and removes it.
 */
export async function unchangedUpdateCount(db: Db, now: Date): Promise<number> {
  await db.execute(
    'INSERT INTO queue_state (queue, updated_at) VALUES (:queue, :now) ON DUPLICATE KEY UPDATE updated_at = :now',
    { queue: PROBE_QUEUE, now },
    { idempotent: true },
  );
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

/** One row of EXPLAIN's table: how one table (or derived table) of the statement is read. */
export interface PlanRow {
  id: number | null;
  selectType: string;
  /** A base table's alias, `<derivedN>`/`<unionN,M>`/`<subqueryN>` for a temporary result, null for none. */
  table: string | null;
  /** The access type: ALL is a full scan. */
  type: string | null;
  key: string | null;
  rows: number | null;
  extra: string;
}

/** EXPLAIN's columns as the Data API returns them (a column can be missing); numbers may come as text. */
type ExplainRow = {
  id?: number | string | null;
  select_type?: string | null;
  table?: string | null;
  type?: string | null;
  key?: string | null;
  rows?: number | string | null;
  Extra?: string | null;
};

async function explain(db: Db, statement: string, params: SqlParams): Promise<PlanRow[]> {
  const rows = await db.query<ExplainRow>(`EXPLAIN ${statement}`, params, { idempotent: true });
  return rows.map((row) => ({
    id: row.id === null || row.id === undefined ? null : Number(row.id),
    selectType: row.select_type ?? '',
    table: row.table ?? null,
    type: row.type ?? null,
    key: row.key ?? null,
    rows: row.rows === null || row.rows === undefined ? null : Number(row.rows),
    extra: row.Extra ?? '',
  }));
}

/** A lease that ended long ago: EXPLAIN needs a value for every parameter, and runs nothing. */
const EXPLAIN_TOKEN = '00000000-0000-0000-0000-000000000000';

/** The unordered claim exactly as lib/drain/claim.ts runs it (CLAIM_BATCH). */
export function explainClaimBatch(db: Db, input: { queue: string; limit: number; now: Date }): Promise<PlanRow[]> {
  return explain(db, CLAIM_BATCH, { ...input, leaseToken: EXPLAIN_TOKEN, leaseUntil: input.now });
}

/** The FIFO claim's read of the due heads, as run (FIND_GROUP_HEADS). */
export function explainFindGroupHeads(db: Db, input: { queue: string; limit: number; now: Date }): Promise<PlanRow[]> {
  return explain(db, FIND_GROUP_HEADS, { ...input });
}

/**
 * The FIFO claim's lease of `heads` candidate heads, with followers, as run (CLAIM_GROUP_HEADS):
 * the candidates are ids no message has (the plan is the same for any ids; nothing is leased).
 */
export function explainClaimGroupHeads(db: Db, input: { queue: string; limit: number; heads: number; now: Date }): Promise<PlanRow[]> {
  const ids = Array.from({ length: input.heads }, (_, n) => `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`);
  return explain(db, CLAIM_GROUP_HEADS(input.heads), {
    ...namedList('head', ids).params,
    ...namedList('next', ids).params,
    queue: input.queue,
    limit: input.limit,
    now: input.now,
    leaseToken: EXPLAIN_TOKEN,
    leaseUntil: input.now,
    followers: 1,
  });
}

/*
 * DDL probes on a scratch table of doctor's own: each statement run twice provokes the MySQL
 * error the migration runner must read as "already done" (1050, 1060, 1061; 1091 once). The name
 * cannot be a parameter, so it is checked to be one doctor made.
 */
const PROBE_TABLE = /^doctor_probe_[0-9a-f]{12}$/;

function probeTable(table: string): string {
  if (!PROBE_TABLE.test(table)) throw new Error(`not a doctor probe table: ${table}`);
  return table;
}

export const DDL_PROBES = {
  createTable: (table: string) => `CREATE TABLE ${probeTable(table)} (id INT NOT NULL, PRIMARY KEY (id)) ENGINE=InnoDB`,
  addColumn: (table: string) => `ALTER TABLE ${probeTable(table)} ADD COLUMN probe INT NULL`,
  addKey: (table: string) => `ALTER TABLE ${probeTable(table)} ADD KEY ix_probe (probe)`,
  dropMissingKey: (table: string) => `ALTER TABLE ${probeTable(table)} DROP KEY ix_missing`,
  dropTable: (table: string) => `DROP TABLE IF EXISTS ${probeTable(table)}`,
} as const;

export type DdlProbe = keyof typeof DDL_PROBES;

/**
 * Runs one probe as the migration runner runs a DDL statement (lib/migrate.ts): its marker comment
 * first, in a transaction of its own that waits at most `lockWaitSeconds` for the table's lock,
 * continued after a call timeout. The error, if any, is the statement's, as the runner sees it.
 */
export async function runDdlProbe(db: Db, input: { probe: DdlProbe; table: string; marker: string; lockWaitSeconds: number }): Promise<void> {
  if (!/^\/\* [\w -]+ \*\/$/.test(input.marker)) throw new Error(`bad marker: ${input.marker}`);
  await executeWithLockWait(db, `${input.marker}\n${DDL_PROBES[input.probe](input.table)}`, { seconds: input.lockWaitSeconds, mayStillRun: mayStillRun });
}

/** As the runner decides: a call that ended without the statement's outcome (it may still run). */
const mayStillRun = (error: unknown) => error instanceof StatementTimeoutError || (error instanceof DataApiUnavailableError && error.requestMayHaveRun);

const PROBE_TABLE_EXISTS = 'SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :table';

export async function probeTableExists(db: Db, table: string): Promise<boolean> {
  const [row] = await db.query(PROBE_TABLE_EXISTS, { table: probeTable(table) }, { idempotent: true });
  return Number(row?.n ?? 0) > 0;
}

/**
 * A slow statement shaped like a migration's (several lines, a comment inside), named by doctor's
 * own probe marker (`doctor_probe_<hex>`, never input): it runs `seconds` while another call reads
 * the process list. The SQL the process list should show; send it with runSlowStatement.
 */
export function slowProbeStatement(probe: string, seconds: number): string {
  if (!/^doctor_probe_[0-9a-f]+$/.test(probe) || !Number.isInteger(seconds)) throw new RangeError(`not a doctor probe: ${probe}, ${seconds} s`);
  return `SELECT SLEEP(${seconds}) AS ${probe}\n-- a comment inside, as migrations have\nFROM DUAL`;
}

/** Sends a slowProbeStatement (behind the marker comment the migration runner puts first). */
export async function runSlowStatement(db: Db, statement: string): Promise<void> {
  await db.query(statement, undefined, { idempotent: true });
}

const RUNNING_LIKE = 'SELECT INFO AS info FROM information_schema.PROCESSLIST WHERE INFO LIKE :pattern AND ID <> CONNECTION_ID()';

/** The texts other sessions are running that contain `marker`, as the process list shows them. */
export async function runningStatementsWith(db: Db, marker: string): Promise<string[]> {
  const rows = await db.query(RUNNING_LIKE, { pattern: `%${marker}%` }, { idempotent: true });
  return rows.map((row) => String(row.info));
}

/*
 * Doctor's scratch queues: every table that holds rows per queue. Payload slices are found through
 * their messages while those exist, and by the ids doctor made once they are gone (a slice without
 * its message would be an orphan the foreign key should have removed).
 */
const scratchCounts = (queues: string, ids: string) => `
SELECT
  (SELECT COUNT(*) FROM queue_messages WHERE queue IN (${queues})) AS queue_messages,
  (SELECT COUNT(*) FROM queue_payload_parts WHERE message_id IN (${ids})) AS queue_payload_parts,
  (SELECT COUNT(*) FROM queue_permits WHERE queue IN (${queues})) AS queue_permits,
  (SELECT COUNT(*) FROM queue_group_slots WHERE queue IN (${queues})) AS queue_group_slots,
  (SELECT COUNT(*) FROM queue_state WHERE queue IN (${queues})) AS queue_state,
  (SELECT COUNT(*) FROM queue_recurring_purges WHERE queue IN (${queues})) AS queue_recurring_purges`;

export const SCRATCH_TABLES = ['queue_messages', 'queue_payload_parts', 'queue_permits', 'queue_group_slots', 'queue_state', 'queue_recurring_purges'] as const;

export type ScratchCounts = Record<(typeof SCRATCH_TABLES)[number], number>;

/** Rows of the scratch queues (and of the given message ids' payload slices) in every table. */
export async function countScratchRows(db: Db, input: { queues: readonly string[]; messageIds: readonly string[] }): Promise<ScratchCounts> {
  const queues = namedList('queue', input.queues);
  // An id no message has keeps the IN list valid when doctor made none.
  const ids = namedList('id', input.messageIds.length > 0 ? input.messageIds : [EXPLAIN_TOKEN]);
  const [row] = await db.query(scratchCounts(queues.placeholders, ids.placeholders), { ...queues.params, ...ids.params }, { idempotent: true });
  return Object.fromEntries(SCRATCH_TABLES.map((table) => [table, Number(row?.[table] ?? 0)])) as ScratchCounts;
}

/* Slices first: they go with their messages anyway (ON DELETE CASCADE), but not if the key were missing. */
const DELETE_SCRATCH = {
  queue_payload_parts: (queues: string) => `
DELETE p FROM queue_messages AS m FORCE INDEX (ix_queue_messages_claim)
STRAIGHT_JOIN queue_payload_parts AS p ON p.message_id = m.id
WHERE m.queue IN (${queues})`,
  queue_messages: (queues: string) => `DELETE FROM queue_messages WHERE queue IN (${queues})`,
  queue_permits: (queues: string) => `DELETE FROM queue_permits WHERE queue IN (${queues})`,
  queue_group_slots: (queues: string) => `DELETE FROM queue_group_slots WHERE queue IN (${queues})`,
  queue_state: (queues: string) => `DELETE FROM queue_state WHERE queue IN (${queues})`,
  queue_recurring_purges: (queues: string) => `DELETE FROM queue_recurring_purges WHERE queue IN (${queues})`,
} as const;

/**
 * Deletes every row of the scratch queues, table by table, each table tried even when another
 * failed; answers the rows deleted per table and the errors.
 */
export async function deleteScratchRows(db: Db, queues: readonly string[]): Promise<{ deleted: Partial<ScratchCounts>; errors: string[] }> {
  const { placeholders, params } = namedList('queue', queues);
  const deleted: Partial<ScratchCounts> = {};
  const errors: string[] = [];
  // In DELETE_SCRATCH's order (slices before their messages), not SCRATCH_TABLES'.
  for (const table of Object.keys(DELETE_SCRATCH) as (keyof typeof DELETE_SCRATCH)[]) {
    try {
      deleted[table] = (await db.execute(DELETE_SCRATCH[table](placeholders), params, { idempotent: true })).numberOfRecordsUpdated;
    } catch (error) {
      errors.push(`${table}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    }
  }
  return { deleted, errors };
}

/** How many messages of a queue are stored, and of those how many carry `dedupKey`. */
const COUNT_QUEUE_MESSAGES = `
SELECT COUNT(*) AS n, COALESCE(SUM(dedup_key = :dedupKey), 0) AS keyed
FROM queue_messages FORCE INDEX (ix_queue_messages_claim) WHERE queue = :queue`;

export async function countQueueMessages(db: Db, input: { queue: string; dedupKey: string }): Promise<{ stored: number; keyed: number }> {
  const [row] = await db.query(COUNT_QUEUE_MESSAGES, { ...input }, { idempotent: true });
  return { stored: Number(row?.n ?? 0), keyed: Number(row?.keyed ?? 0) };
}
