/**
 * The product's `Db` interface straight over mysql2, for the physical-limit baseline: the queue's
 * own SQL functions (lib/sql) run unchanged, with the same text and `:named` parameters, but with
 * no SDK, HTTP or Data API server in between. Parameters are bound as the Data API binds them
 * (objects and arrays as JSON text, Dates in UTC); only what the baseline uses is implemented.
 * A deadlock is retried as lib/db retries it outside a transaction (same backoff, same limit),
 * and counted in `stats.byOperation.Deadlock`.
 */
import type mysql from 'mysql2/promise';
import { DEFAULT_DEADLOCK_RETRIES, deadlockBackoffMs } from '../../lib/db/retry.js';
import type { CallStats, Db, ExecuteResult, Row, SqlParams, StatementOptions } from '../../lib/db/types.js';

export function rawDb(pool: mysql.Pool): Db {
  const stats: CallStats = { calls: 0, byOperation: {} };
  const run = async <T>(sql: string, params: SqlParams | undefined, options?: StatementOptions): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      stats.calls++;
      stats.byOperation.Execute = (stats.byOperation.Execute ?? 0) + 1;
      try {
        // JSON records (as the Data API's formatRecordsAs JSON gives them) hold a JSON column's text.
        const [result] = await pool.query({ sql, ...(options?.jsonRecords === true ? { typeCast: jsonColumnsAsText } : {}) }, bind(params));
        return result as T;
      } catch (error) {
        if ((error as { errno?: number }).errno !== 1213 || attempt >= DEFAULT_DEADLOCK_RETRIES) throw error;
        stats.byOperation.Deadlock = (stats.byOperation.Deadlock ?? 0) + 1;
        await new Promise((resolve) => setTimeout(resolve, deadlockBackoffMs(attempt + 1, Math.random)));
      }
    }
  };
  const db: Db = {
    query: <T extends Row = Row>(sql: string, params?: SqlParams, options?: StatementOptions) => run<T[]>(sql, params, options),
    async execute(sql: string, params?: SqlParams): Promise<ExecuteResult> {
      const header = await run<mysql.ResultSetHeader>(sql, params);
      return { numberOfRecordsUpdated: header.affectedRows };
    },
    batch: () => Promise.reject(new Error('rawDb: batch is not part of the baseline')),
    transaction: () => Promise.reject(new Error('rawDb: transactions are not part of the baseline')),
    withTransactionId: () => {
      throw new Error('rawDb: transactions are not part of the baseline');
    },
    transactionId: undefined,
    stats,
  };
  return db;
}

// MariaDB sends a JSON column as a BLOB that mysql2 then parses: its text, as the JSON records hold it.
const jsonColumnsAsText: mysql.TypeCast = (field, next) => (field.type === 'JSON' || field.type === 'BLOB' ? field.string() : next());

/** What mysql2's `query` accepts as values (its QueryValues type is not exported). */
type Values = Parameters<mysql.Pool['query']>[1];

function bind(params: SqlParams | undefined): Values {
  const bound: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(params ?? {})) {
    if (value === undefined) bound[name] = null;
    else if (typeof value === 'object' && value !== null && !(value instanceof Date) && !(value instanceof Uint8Array)) bound[name] = JSON.stringify(value);
    else bound[name] = value;
  }
  return bound as Values;
}
