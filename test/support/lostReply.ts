/**
 * A Db whose chosen statements run and then lose their reply: the call reaches the database and
 * commits, and the caller gets the 503 ServiceUnavailableError the Data API answers when its
 * response is lost, which lib/db classifies as DataApiUnavailableError with `requestMayHaveRun`.
 * The retry layer (lib/db/retry.ts) re-sends such a call only when the statement is marked
 * `{ idempotent: true }`, so a test sees exactly what a second run of the statement does; a
 * statement not marked so surfaces the error instead.
 */
import { BatchExecuteStatementCommand, ExecuteStatementCommand, ServiceUnavailableError, type RDSDataClient } from '@aws-sdk/client-rds-data';
import { createDataApiClient, createDb, LOCAL_RESOURCE_ARN, LOCAL_SECRET_ARN } from '../../lib/db/index.js';
import type { Db } from '../../lib/db/types.js';

export interface LostReplyOptions {
  /** Which statements lose their reply: a predicate on the SQL text (Execute and BatchExecute). */
  when: (sql: string) => boolean;
  /** How many matching calls lose their reply (default 1); later ones answer normally. */
  times?: number;
}

export interface LostReplyDb {
  /** Re-sends without waiting: the retry layer's sleeps are skipped. */
  db: Db;
  /** Replies lost so far (each one a statement that ran). */
  lost(): number;
  /** Calls of matching statements that reached the database, re-sends included. */
  sent(): number;
}

export function lostReplyDb(stack: { endpoint: string; database: string }, options: LostReplyOptions): LostReplyDb {
  const client = createDataApiClient({ endpoint: stack.endpoint });
  let remaining = options.times ?? 1;
  let lost = 0;
  let sent = 0;
  const wrapped = {
    async send(command: unknown) {
      const sql = command instanceof ExecuteStatementCommand || command instanceof BatchExecuteStatementCommand ? command.input.sql : undefined;
      const matches = sql !== undefined && options.when(sql);
      if (matches) sent++;
      const output = await client.send(command as ExecuteStatementCommand);
      if (!matches || remaining <= 0) return output;
      remaining--;
      lost++;
      throw new ServiceUnavailableError({ message: 'The reply was lost (test/support/lostReply.ts)', $metadata: { httpStatusCode: 503 } });
    },
  } as unknown as RDSDataClient;
  const db = createDb({ client: wrapped, resourceArn: LOCAL_RESOURCE_ARN, secretArn: LOCAL_SECRET_ARN, database: stack.database, sleep: async () => {} });
  return { db, lost: () => lost, sent: () => sent };
}
