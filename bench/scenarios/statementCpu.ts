/**
 * MariaDB's CPU per message for each statement of a message's life, the product's beside the plain
 * shape's (plain.ts), each kind run alone over the same due messages, one loop, over mysql2: where
 * the database's share of a drain goes (`bench/profile.ts sql`). Ticks of 10 ms: use ≥ 10,000 messages.
 */
import { randomUUID } from 'node:crypto';
import type mysql from 'mysql2/promise';
import { claimBatch } from '../../lib/sql/claimBatch.js';
import type { HeldMessage } from '../../lib/sql/heldMessage.js';
import { markHeldDone } from '../../lib/sql/markHeldDone.js';
import { readClaimedMessages } from '../../lib/sql/readClaimedMessages.js';
import { RESPONSE_PAGE_BYTES } from '../../lib/sql/responseBytes.js';
import { cpuMeter } from '../lib/cpu.js';
import { resetQueueTables } from '../lib/database.js';
import { rawDb } from '../lib/rawDb.js';
import { seedDueMessages } from '../lib/seed.js';
import { plainClaim, plainFinish } from './plain.js';

/** Claims settled per ack, as the drain's settler batches them (about 500 messages a call). */
const CLAIMS_PER_ACK = 5;

type StatementCpu = Record<'productClaim' | 'productRead' | 'productAck' | 'plainClaim' | 'plainFinish', number>;

export async function statementCpu(input: { pool: mysql.Pool; mariadbPid: number; queue: string; count: number; batch: number }): Promise<StatementCpu> {
  const { pool, queue, count, batch } = input;
  const db = rawDb(pool);
  const perMessage = async (work: () => Promise<void>): Promise<number> => {
    const meter = cpuMeter({ mariadb: input.mariadbPid });
    await work();
    return (meter.stop().mariadb! * 1_000) / count;
  };
  const fresh = async () => {
    await resetQueueTables(pool);
    await seedDueMessages(pool, queue, count);
  };

  await fresh();
  const tokens: string[] = [];
  const productClaim = await perMessage(async () => {
    for (;;) {
      const leaseToken = randomUUID();
      const now = new Date();
      if ((await claimBatch(db, { queue, limit: batch, leaseToken, now, leaseUntil: new Date(now.getTime() + 60_000) })) === 0) return;
      tokens.push(leaseToken);
    }
  });
  const held: HeldMessage[][] = [];
  const productRead = await perMessage(async () => {
    for (const leaseToken of tokens) {
      const rows = await readClaimedMessages(db, { leaseToken, maxBytes: RESPONSE_PAGE_BYTES });
      held.push(rows.map((row) => ({ id: row.id, leaseToken })));
    }
  });
  const productAck = await perMessage(async () => {
    for (let i = 0; i < held.length; i += CLAIMS_PER_ACK) await markHeldDone(db, { held: held.slice(i, i + CLAIMS_PER_ACK).flat(), now: new Date() });
  });

  await fresh();
  const claimed: string[][] = [];
  const plainClaimCpu = await perMessage(async () => {
    for (let ids = await plainClaim(pool, queue, batch); ids.length > 0; ids = await plainClaim(pool, queue, batch)) claimed.push(ids);
  });
  const plainFinishCpu = await perMessage(async () => {
    for (let i = 0; i < claimed.length; i += CLAIMS_PER_ACK) await plainFinish(pool, claimed.slice(i, i + CLAIMS_PER_ACK).flat());
  });
  return { productClaim, productRead, productAck, plainClaim: plainClaimCpu, plainFinish: plainFinishCpu };
}
