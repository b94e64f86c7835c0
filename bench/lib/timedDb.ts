/**
 * A Db that times every statement it passes on, grouped by what the statement does, and tracks
 * how many were in flight at once: where a drain run's wall time goes, in round trips.
 */
import type { Db, Row, SqlParams, StatementOptions } from '../../lib/db/types.js';

export interface StatementTimes {
  /** Milliseconds per call, in call order. */
  [kind: string]: number[];
}

export interface TimedDb extends Db {
  readonly times: StatementTimes;
  /** Most statements in flight at once. */
  readonly maxInFlight: number;
  /** Time-weighted mean of statements in flight while any was. */
  meanInFlight(): number;
}

/** Names a statement by its first keywords and main clause: `UPDATE … JSON_TABLE … 'done'` → ack. */
export function statementKind(sql: string): string {
  const text = sql.replace(/\s+/g, ' ').trim();
  if (/queue_permits/.test(text)) return /SKIP LOCKED/.test(text) ? 'permits' : /^UPDATE/i.test(text) ? 'permit release' : 'permit setup';
  if (/FOR UPDATE SKIP LOCKED/i.test(text) && /^UPDATE/i.test(text)) return 'claim';
  if (/^SELECT/i.test(text) && /GROUP BY queue, group_head/.test(text)) return 'heads';
  if (/^SELECT/i.test(text) && /last_round/.test(text)) return 'fair turns';
  if (/^SELECT/i.test(text) && /PARTITION BY group_head|FORCE INDEX \(ix_queue_messages_fair\)/.test(text)) return 'candidates';
  if (/^INSERT IGNORE INTO queue_groups/i.test(text)) return 'group setup';
  if (/^INSERT IGNORE INTO queue_group_permits/i.test(text)) return 'group permit setup';
  if (/^SELECT/i.test(text) && /running_bytes/.test(text)) return 'read';
  if (/SET m\.status = 'done'/.test(text)) return 'ack';
  if (/SET m\.status = 'retrying'/.test(text)) return 'reschedule';
  if (/SET m\.status = 'dead'/.test(text)) return 'dead-letter';
  if (/^INSERT INTO queue_messages/i.test(text)) return 'insert';
  if (/^DELETE/i.test(text)) return 'delete';
  return text.split(' ').slice(0, 3).join(' ').toLowerCase();
}

export function timedDb(db: Db): TimedDb {
  const times: StatementTimes = {};
  let inFlight = 0;
  let maxInFlight = 0;
  let busyMs = 0;
  let weightedMs = 0;
  let lastChange = performance.now();
  const change = (delta: number) => {
    const now = performance.now();
    if (inFlight > 0) {
      busyMs += now - lastChange;
      weightedMs += (now - lastChange) * inFlight;
    }
    lastChange = now;
    inFlight += delta;
    maxInFlight = Math.max(maxInFlight, inFlight);
  };
  const timed = async <T>(sql: string, work: () => Promise<T>): Promise<T> => {
    const kind = statementKind(sql);
    const started = performance.now();
    change(+1);
    try {
      return await work();
    } finally {
      change(-1);
      (times[kind] ??= []).push(performance.now() - started);
    }
  };
  return {
    query: <T extends Row = Row>(sql: string, params?: SqlParams, options?: StatementOptions) => timed(sql, () => db.query<T>(sql, params, options)),
    execute: (sql, params, options) => timed(sql, () => db.execute(sql, params, options)),
    batch: (sql, sets, options) => timed(sql, () => db.batch(sql, sets, options)),
    transaction: (work) => db.transaction(work),
    withTransactionId: (id) => db.withTransactionId(id),
    get transactionId() {
      return db.transactionId;
    },
    get stats() {
      return db.stats;
    },
    times,
    get maxInFlight() {
      return maxInFlight;
    },
    meanInFlight: () => (busyMs === 0 ? 0 : weightedMs / busyMs),
  };
}
