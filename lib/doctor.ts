/**
 * What `aurora-queue doctor` checks on a cluster (deployed or local): the settings and behaviours
 * the product relies on or had to choose without seeing AWS. Each check says pass, fail or info
 * (a fact worth knowing that does not break anything), and how long its call took.
 */
import type { App } from './app.js';
import { loadMigrations } from './migrate.js';
import { appliedSchemaVersion, bigRow, explainClaimScan, jsonRoundTrip, serverSettings, unchangedUpdateCount, ungroupedLiveMessages } from './sql/doctor.js';

export interface DoctorCheck {
  name: string;
  result: 'pass' | 'fail' | 'info';
  detail: string;
  ms: number;
}

const ROW_PROBE_BYTES = 70_000;

export async function runDoctor(app: App): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const check = async (name: string, run: () => Promise<Omit<DoctorCheck, 'name' | 'ms'>>) => {
    const started = performance.now();
    try {
      checks.push({ name, ...(await run()), ms: Math.round(performance.now() - started) });
    } catch (error) {
      checks.push({ name, result: 'fail', detail: error instanceof Error ? `${error.name}: ${error.message}` : String(error), ms: Math.round(performance.now() - started) });
    }
  };
  const { db } = app;

  await check('Data API reachable, engine', async () => {
    const settings = await serverSettings(db);
    const mysql8 = /^8\.0\./.test(settings.version);
    const mariadb = /mariadb/i.test(settings.version);
    return { result: mysql8 || mariadb ? 'pass' : 'fail', detail: `${settings.version}${mysql8 ? ' (MySQL 8.0: Aurora MySQL 3)' : mariadb ? ' (MariaDB: the local stand-in)' : ', expected MySQL 8.0'}` };
  });
  await check('time zone', async () => {
    const { timeZone } = await serverSettings(db);
    // Timestamps travel as UTC text; a session zone other than UTC would shift NOW() only, which the product never uses for state.
    return { result: 'info', detail: `session time_zone ${timeZone}; the product writes and compares UTC values it sends itself` };
  });
  await check('binlog format', async () => {
    const { binlogFormat } = await serverSettings(db);
    return { result: 'info', detail: binlogFormat === null ? 'binary logging off' : `binlog_format ${binlogFormat}` };
  });
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
  await check('FIFO queues hold grouped messages only', async () => {
    const fifo = [...app.queues.values()].filter((queue) => queue.fifo).map((queue) => queue.name);
    if (fifo.length === 0) return { result: 'info', detail: 'no FIFO queue declared' };
    const stranded = [...(await ungroupedLiveMessages(db, fifo))];
    if (stranded.length === 0) return { result: 'pass', detail: `${fifo.join(', ')}: every live message has a group` };
    return {
      result: 'fail',
      detail:
        stranded.map(([queue, n]) => `${queue} holds ${n} live message(s) without a group`).join('; ') +
        ': enqueued before the queue became FIFO, they are never claimed there (a FIFO claim takes group heads only); drain them with fifo: false first, or cancel them',
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
      return { result: 'info', detail: `a ${ROW_PROBE_BYTES}-byte row came back (${length} bytes): this cluster does not apply the documented 64 KB row limit; the product never relies on it` };
    } catch (error) {
      return { result: 'info', detail: `a ${ROW_PROBE_BYTES}-byte row was refused (${error instanceof Error ? error.name : 'error'}): the documented 64 KB row limit applies, as the product assumes` };
    }
  });
  await check('rows counted by an UPDATE', async () => {
    const counted = await unchangedUpdateCount(db, app.clock.now());
    return { result: 'info', detail: counted === 1 ? 'matched rows (an UPDATE that changes nothing counts 1)' : `changed rows (an UPDATE that changes nothing counts ${counted})` };
  });
  return checks;
}
