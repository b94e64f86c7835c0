import { expect, it } from 'vitest';
import { ENQUEUE_LIMITS } from '../schema/messages.js';
import { assessPlan, binlogOutcome, engineOutcome } from '../lib/doctor.js';
import { bigPayload } from '../lib/doctorFull.js';
import type { PlanRow } from '../lib/sql/doctor.js';

const row = (table: string | null, type: string | null, key: string | null, extra = ''): PlanRow => ({
  id: 1,
  selectType: 'SIMPLE',
  table,
  type,
  key,
  rows: 1,
  extra,
});

it('accepts MySQL 8.0 and 8.4 engines and the local MariaDB, nothing else', () => {
  expect(engineOutcome('8.0.39')).toMatchObject({ result: 'pass', detail: '8.0.39 (MySQL 8.0: Aurora MySQL 3)' });
  expect(engineOutcome('8.4.5')).toMatchObject({ result: 'pass', detail: '8.4.5 (MySQL 8.4)' });
  expect(engineOutcome('10.11.19-MariaDB-0+deb12u1')).toMatchObject({ result: 'pass' });
  expect(engineOutcome('5.7.44')).toMatchObject({ result: 'fail' });
  expect(engineOutcome('9.1.0')).toMatchObject({ result: 'fail' });
});

it('reads whether the binary log is written from log_bin, and fails statement-based logging', () => {
  // binlog_format has a value on MySQL whether or not the log is written.
  expect(binlogOutcome({ logBin: false, binlogFormat: 'ROW' })).toEqual({ result: 'info', detail: expect.stringMatching(/^binary logging off/) });
  expect(binlogOutcome({ logBin: true, binlogFormat: 'MIXED' })).toEqual({ result: 'info', detail: 'binary logging on, binlog_format MIXED' });
  expect(binlogOutcome({ logBin: true, binlogFormat: 'STATEMENT' })).toMatchObject({ result: 'fail', detail: expect.stringMatching(/ROW or MIXED/) });
});

it('fails a claim plan on a full scan or a filesort over a table, not on a derived table scanned or sorted', () => {
  const claim = [
    row('<derived2>', 'ALL', null),
    row('m', 'eq_ref', 'PRIMARY'),
    row('queue_messages', 'ref', 'ix_queue_messages_claim', 'Using where; Using index'),
  ];
  expect(assessPlan(claim)).toMatchObject({ result: 'pass' });

  const heads = [
    row('<derived2>', 'ALL', null, 'Using where; Using temporary; Using filesort'),
    row('h', 'eq_ref', 'PRIMARY'),
    row('queue_messages', 'range', 'ix_queue_messages_group', 'Using index for group-by'),
  ];
  const derivedSort = assessPlan(heads);
  expect(derivedSort.result).toBe('pass');
  expect(derivedSort.detail).toMatch(/the filesort on <derived2> sorts that derived table's rows \(the due heads, one per group\), not queue_messages/);

  const scanned = assessPlan([row('<derived2>', 'ALL', null), row('m', 'ALL', null, 'Using where')]);
  expect(scanned).toMatchObject({ result: 'fail', detail: expect.stringMatching(/^full scan of m;/) });

  const sorted = assessPlan([row('queue_messages', 'ref', 'ix_queue_messages_claim', 'Using where; Using filesort')]);
  expect(sorted).toMatchObject({ result: 'fail', detail: expect.stringMatching(/^filesort over queue_messages's rows;/) });

  expect(assessPlan([])).toMatchObject({ result: 'fail' });
});

it("builds the round trip's payload at exactly the 1 MiB limit, of multi-byte and quote-heavy text", () => {
  const payload = bigPayload();
  const json = JSON.stringify(payload);
  expect(Buffer.byteLength(json, 'utf8')).toBe(ENQUEUE_LIMITS.maxPayloadBytes);
  for (const character of ['é', '日', '😀', '"', '\\', "'"]) expect(payload.text).toContain(character);
  expect(JSON.parse(json)).toEqual(payload);
});
