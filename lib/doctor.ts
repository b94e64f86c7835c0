/**
 * What `aurora-queue doctor` checks on a cluster (deployed or local): the settings and behaviours
 * the product relies on or had to choose without seeing AWS. Each check says pass, fail or info
 * (a fact worth knowing that does not break anything), and how long its call took. With `full`,
 * it also runs every kind of statement the product runs on scratch queues of its own
 * (lib/doctorFull.ts) and removes them.
 */
import type { App } from './app.js';
import { headCandidatesFor } from './drain/claim.js';
import { DoctorChecks, type CheckOutcome, type DoctorCheck } from './doctorChecks.js';
import { runFullChecks } from './doctorFull.js';
import { loadMigrations } from './migrate.js';
import { isGroupedQueue } from './queues.js';
import {
  appliedSchemaVersion,
  bigRow,
  explainClaimBatch,
  explainClaimGroupHeads,
  explainClaimScan,
  explainFindGroupHeads,
  jsonRoundTrip,
  serverSettings,
  unchangedUpdateCount,
  ungroupedLiveMessages,
  type PlanRow,
  type ServerSettings,
} from './sql/doctor.js';

export type { CheckOutcome, DoctorCheck } from './doctorChecks.js';

export interface DoctorOptions {
  /** Also run the product's statements on scratch queues (doctor --full). */
  full?: boolean;
}

const ROW_PROBE_BYTES = 70_000;

export async function runDoctor(app: App, options: DoctorOptions = {}): Promise<DoctorCheck[]> {
  const run = new DoctorChecks();
  const check = run.run.bind(run);
  const { db } = app;

  await check('Data API reachable, engine', async () => engineOutcome((await serverSettings(db)).version));
  await check('time zone', async () => {
    const { timeZone } = await serverSettings(db);
    // Timestamps travel as UTC text; a session zone other than UTC would shift NOW() only, which the product never uses for state.
    return { result: 'info', detail: `session time_zone ${timeZone}; the product writes and compares UTC values it sends itself` };
  });
  await check('binlog format', async () => binlogOutcome(await serverSettings(db)));
  await check('schema version', async () => {
    const latest = Math.max(...loadMigrations().map((m) => m.version));
    const applied = await appliedSchemaVersion(db);
    return applied === latest
      ? { result: 'pass', detail: `migrations applied up to ${applied}` }
      : { result: 'fail', detail: `applied ${applied ?? 'none'}, this build needs ${latest}: run aurora-queue migrate` };
  });
  await check('claim uses the claim index', async () => {
    const queue = [...app.queues.keys()][0] ?? 'default';
    const plan = await explainClaimScan(db, queue, app.clock.now());
    const ok = plan.key === 'ix_queue_messages_claim' && plan.type !== 'ALL' && !/filesort/i.test(plan.extra);
    return { result: ok ? 'pass' : 'fail', detail: `key ${plan.key ?? 'none'}, access ${plan.type}${plan.extra ? `, ${plan.extra}` : ''}` };
  });
  await check('FIFO and grouped queues hold grouped messages only', async () => {
    const grouped = [...app.queues.values()].filter(isGroupedQueue).map((queue) => queue.name);
    if (grouped.length === 0) return { result: 'info', detail: 'no FIFO or grouped queue declared' };
    const stranded = [...(await ungroupedLiveMessages(db, grouped))];
    if (stranded.length === 0) return { result: 'pass', detail: `${grouped.join(', ')}: every live message has a group` };
    return {
      result: 'fail',
      detail:
        stranded.map(([queue, n]) => `${queue} holds ${n} live message(s) without a group`).join('; ') +
        ': enqueued before the queue became FIFO or grouped, they are never claimed there (its claim takes grouped messages only); drain them without fifo or groups first, or cancel them',
    };
  });
  await check('JSON parameter as a string', async () => {
    const answer = await jsonRoundTrip(db, { n: 42, s: 'é "quoted"' });
    const ok = Number(answer.number) === 42 && answer.text === 'é "quoted"';
    return { result: ok ? 'pass' : 'fail', detail: ok ? 'JSON functions read a string parameter as the document' : `read back ${JSON.stringify(answer)}` };
  });
  await check('rows over 64 KB', async () => {
    try {
      const length = await bigRow(db, ROW_PROBE_BYTES);
      return {
        result: 'info',
        detail: `a ${ROW_PROBE_BYTES}-byte row came back (${length} bytes): this cluster does not apply the documented 64 KB row limit; the product never relies on it`,
      };
    } catch (error) {
      return {
        result: 'info',
        detail: `a ${ROW_PROBE_BYTES}-byte row was refused (${error instanceof Error ? error.name : 'error'}): the documented 64 KB row limit applies, as the product assumes`,
      };
    }
  });
  await check('rows counted by an UPDATE', async () => {
    const counted = await unchangedUpdateCount(db, app.clock.now());
    return {
      result: 'info',
      detail: counted === 1 ? 'matched rows (an UPDATE that changes nothing counts 1)' : `changed rows (an UPDATE that changes nothing counts ${counted})`,
    };
  });
  await claimPlanChecks(app, run);

  if (options.full === true) await runFullChecks(app, run);
  return run.checks;
}

/** MySQL 8.0 (Aurora MySQL 3) and 8.4 pass, and the local MariaDB; anything else fails. */
export function engineOutcome(version: string): CheckOutcome {
  const mariadb = /mariadb/i.test(version);
  const mysql = mariadb ? null : /^8\.(0|4)\./.exec(version);
  if (mariadb) return { result: 'pass', detail: `${version} (MariaDB: the local stand-in)` };
  if (mysql !== null) return { result: 'pass', detail: `${version} (MySQL 8.${mysql[1]}${mysql[1] === '0' ? ': Aurora MySQL 3' : ''})` };
  return { result: 'fail', detail: `${version}, expected MySQL 8.0 or 8.4` };
}

/**
 * Whether the binary log is written comes from @@log_bin (binlog_format has a value either way).
 * Written as STATEMENT fails: the product's statements are unsafe for statement-based logging.
 */
export function binlogOutcome(settings: Pick<ServerSettings, 'logBin' | 'binlogFormat'>): CheckOutcome {
  const format = settings.binlogFormat ?? 'unset';
  if (!settings.logBin) return { result: 'info', detail: `binary logging off (log_bin 0; binlog_format ${format} applies only once it is on)` };
  if (format.toUpperCase() === 'STATEMENT') {
    return {
      result: 'fail',
      detail:
        'binary logging on with binlog_format STATEMENT: the claim (SKIP LOCKED), UPDATE/DELETE … LIMIT and the enqueue (ON DUPLICATE KEY UPDATE, two unique keys) are unsafe for statement-based logging (warning 1592, replicas may drift); set binlog_format to ROW or MIXED in the cluster parameter group',
    };
  }
  return { result: 'info', detail: `binary logging on, binlog_format ${format}` };
}

/**
 * Both claims explained as the drain runs them, on a declared queue (a FIFO one for the FIFO
 * claim when there is one: the plan depends on the table's statistics, not on the queue's kind).
 */
async function claimPlanChecks(app: App, run: DoctorChecks): Promise<void> {
  const queues = [...app.queues.values()];
  const plain = queues[0];
  const fifo = queues.find((queue) => queue.fifo) ?? plain;
  const now = app.clock.now();
  const { db } = app;
  await run.run('plan: claim (CLAIM_BATCH)', async () =>
    assessPlan(await explainClaimBatch(db, { queue: plain?.name ?? 'default', limit: plain?.batchSize ?? 10, now })),
  );
  let headsPlan: PlanRow[] = [];
  await run.run('plan: FIFO heads read (FIND_GROUP_HEADS)', async () => {
    headsPlan = await explainFindGroupHeads(db, { queue: fifo?.name ?? 'default', limit: headCandidatesFor(fifo?.batchSize ?? 10), now });
    return assessPlan(headsPlan);
  });
  await run.run('plan: FIFO heads by loose index scan', async () => looseIndexScan(headsPlan));
  await run.run('plan: FIFO claim (CLAIM_GROUP_HEADS)', async () => {
    const limit = fifo?.batchSize ?? 10;
    return assessPlan(await explainClaimGroupHeads(db, { queue: fifo?.name ?? 'default', limit, heads: headCandidatesFor(limit), now }));
  });
}

/** A base table's row in EXPLAIN; `<derivedN>`, `<unionN,M>`, `<subqueryN>` name temporary results. */
const isBaseTable = (row: PlanRow): row is PlanRow & { table: string } => row.table !== null && !row.table.startsWith('<');

/**
 * A claim's plan passes unless it reads a table in full (access type ALL) or sorts the rows of a
 * table (filesort on a base table's row: the queue's rows, read and locked before the sort). A
 * filesort on a derived table's row sorts that derived table: FIND_GROUP_HEADS sorts its heads
 * (at most one row per group, after the loose scan), never the queue.
 */
export function assessPlan(rows: readonly PlanRow[]): CheckOutcome {
  if (rows.length === 0 || rows.every((row) => row.type === null && row.table === null && row.extra === '')) {
    return { result: 'fail', detail: 'EXPLAIN answered no plan rows (is explain_format set to something other than TRADITIONAL?)' };
  }
  const fullScans = rows.filter((row) => isBaseTable(row) && row.type === 'ALL');
  const tableSorts = rows.filter((row) => isBaseTable(row) && /filesort/i.test(row.extra));
  const derivedSorts = rows.filter((row) => !isBaseTable(row) && row.table !== null && /filesort/i.test(row.extra));
  const plan = rows
    .filter((row) => row.table !== null)
    .map(describeRow)
    .join('; ');
  const problems = [...fullScans.map((row) => `full scan of ${row.table}`), ...tableSorts.map((row) => `filesort over ${row.table}'s rows`)];
  const notes = derivedSorts.map((row) => `the filesort on ${row.table} sorts that derived table's rows (the due heads, one per group), not queue_messages`);
  return {
    result: problems.length === 0 ? 'pass' : 'fail',
    detail: [problems.length > 0 ? problems.join(', ') : 'no full scan, no filesort over a table', ...notes, `plan: ${plan}`].join('; '),
  };
}

function describeRow(row: PlanRow): string {
  return [row.table, row.type, row.key, row.extra === '' ? undefined : `(${row.extra})`].filter((part) => part !== null && part !== undefined).join(' ');
}

/** Whether the optimizer chose the loose index scan for the FIFO heads; its cost decides, so info only. */
function looseIndexScan(rows: readonly PlanRow[]): Promise<CheckOutcome> {
  const group = rows.find((row) => row.key === 'ix_queue_messages_group');
  if (group === undefined)
    return Promise.resolve({
      result: 'info',
      detail: `the heads read does not use ix_queue_messages_group (plan: ${rows.map(describeRow).join('; ') || 'none'})`,
    });
  const chosen = /Using index for group-by/i.test(group.extra);
  return Promise.resolve({
    result: 'info',
    detail: chosen
      ? 'chosen (Using index for group-by): one index dive per live group'
      : `not chosen on this table's statistics (${group.type} on ix_queue_messages_group, ${group.extra || 'no extra'}): the heads read walks the queue's live entries of the group index, covering, locking nothing; the optimizer picks the loose scan by cost, once groups hold several messages each`,
  });
}
