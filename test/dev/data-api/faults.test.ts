/**
 * Fault injection, seen through the SDK as the product would see AWS failing, and its HTTP
 * control endpoints.
 */
import { DatabaseResumingException, InternalServerErrorException, ServiceUnavailableError } from '@aws-sdk/client-rds-data';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { failure, startConformance, type Conformance } from './support.js';

let api: Conformance;

beforeAll(async () => {
  api = await startConformance();
  await api.execute('CREATE TABLE events (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20) NOT NULL)');
});

afterEach(() => api.server.faults.clear());

afterAll(async () => {
  await api?.close();
});

const countEvents = async (name: string) =>
  (await api.execute('SELECT COUNT(*) FROM events WHERE name = :name', { name: { stringValue: name } })).records![0]![0]!.longValue;

const insertEvent = (name: string) => api.execute('INSERT INTO events (name) VALUES (:name)', { name: { stringValue: name } });

describe('fault kinds', () => {
  it('resuming: DatabaseResumingException, and the statement did not run', async () => {
    api.server.faults.inject({ kind: 'resuming' });
    const error = await failure(insertEvent('resuming'));
    expect(error).toBeInstanceOf(DatabaseResumingException);
    expect(error.message).toMatch(/^The Aurora DB instance db-[0-9A-F]+ is resuming after being auto-paused\. Please wait a few seconds and try again\.$/);
    expect((error as unknown as DatabaseResumingException).$metadata.httpStatusCode).toBe(400);
    expect(await countEvents('resuming')).toBe(0);
  });

  it('unavailable: ServiceUnavailableError (503), and the statement did not run', async () => {
    api.server.faults.inject({ kind: 'unavailable' });
    const error = await failure(insertEvent('unavailable'));
    expect(error).toBeInstanceOf(ServiceUnavailableError);
    expect((error as unknown as ServiceUnavailableError).$metadata.httpStatusCode).toBe(503);
    expect(await countEvents('unavailable')).toBe(0);
  });

  it('unavailable-after: 503, but the statement ran', async () => {
    api.server.faults.inject({ kind: 'unavailable-after' });
    expect(await failure(insertEvent('lost-answer'))).toBeInstanceOf(ServiceUnavailableError);
    expect(await countEvents('lost-answer')).toBe(1);
  });

  it('internal: InternalServerErrorException (500)', async () => {
    api.server.faults.inject({ kind: 'internal' });
    const error = await failure(api.execute('SELECT 1'));
    expect(error).toBeInstanceOf(InternalServerErrorException);
    expect((error as unknown as InternalServerErrorException).$metadata.httpStatusCode).toBe(500);
  });

  it('delay: the call succeeds after the delay', async () => {
    api.server.faults.inject({ kind: 'delay', delayMs: 150 });
    const started = Date.now();
    expect((await api.execute('SELECT 1')).records).toEqual([[{ longValue: 1 }]]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });
});

describe('fault selection', () => {
  it('fires on the next `count` matching calls, then stops', async () => {
    const before = api.server.faults.injected();
    api.server.faults.inject({ kind: 'internal', count: 2 });
    expect(await failure(api.execute('SELECT 1'))).toBeInstanceOf(InternalServerErrorException);
    expect(await failure(api.execute('SELECT 1'))).toBeInstanceOf(InternalServerErrorException);
    expect((await api.execute('SELECT 1')).records).toEqual([[{ longValue: 1 }]]);
    expect(api.server.faults.injected() - before).toBe(2);
  });

  it('with probability 1 fires on every call until cleared; with 0 never', async () => {
    api.server.faults.inject({ kind: 'unavailable', probability: 1 });
    for (let i = 0; i < 3; i++) expect(await failure(api.execute('SELECT 1'))).toBeInstanceOf(ServiceUnavailableError);
    api.server.faults.clear();
    expect((await api.execute('SELECT 1')).records).toEqual([[{ longValue: 1 }]]);
    api.server.faults.inject({ kind: 'unavailable', probability: 0 });
    for (let i = 0; i < 3; i++) expect((await api.execute('SELECT 1')).records).toEqual([[{ longValue: 1 }]]);
  });

  it('with a probability fires on a share of the calls', async () => {
    api.server.faults.inject({ kind: 'internal', probability: 0.5 });
    let failed = 0;
    for (let i = 0; i < 60; i++) await api.execute('SELECT 1').catch(() => failed++);
    // Binomial(60, 0.5): outside 10..50 with probability < 1e-6.
    expect(failed).toBeGreaterThan(10);
    expect(failed).toBeLessThan(50);
  });

  it('only hits the listed operations', async () => {
    api.server.faults.inject({ kind: 'resuming', operations: ['BeginTransaction'] });
    expect((await api.execute('SELECT 1')).records).toEqual([[{ longValue: 1 }]]);
    expect(await failure(api.begin())).toBeInstanceOf(DatabaseResumingException);
    const id = await api.begin();
    expect(await api.rollback(id)).toBe('Rollback Complete');
  });

  it('only hits statements containing the given text', async () => {
    api.server.faults.inject({ kind: 'unavailable', operations: ['Execute'], statementContains: 'INSERT INTO events' });
    expect((await api.execute('SELECT 1')).records).toEqual([[{ longValue: 1 }]]);
    expect(await failure(api.execute('INSERT INTO events (name) VALUES (:name)', { name: { stringValue: 'refused' } }))).toBeInstanceOf(
      ServiceUnavailableError,
    );
    expect(await countEvents('refused')).toBe(0);
  });

  it('unavailable-after on CommitTransaction: the commit happened though the answer was lost', async () => {
    const id = await api.begin();
    await api.execute('INSERT INTO events (name) VALUES (:name)', { name: { stringValue: 'commit-lost' } }, { transactionId: id });
    api.server.faults.inject({ kind: 'unavailable-after', operations: ['CommitTransaction'] });
    expect(await failure(api.commit(id))).toBeInstanceOf(ServiceUnavailableError);
    expect(await countEvents('commit-lost')).toBe(1);
  });
});

describe('control over HTTP and stats', () => {
  it('injects and clears faults, sets latency and reports stats', async () => {
    const url = api.server.url;
    const post = (path: string, body: unknown) =>
      fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

    expect((await post('/_local/faults', { kind: 'resuming', count: 5 })).status).toBe(200);
    expect(await failure(api.execute('SELECT 1'))).toBeInstanceOf(DatabaseResumingException);
    expect((await fetch(url + '/_local/faults', { method: 'DELETE' })).status).toBe(200);
    expect((await api.execute('SELECT 1')).records).toEqual([[{ longValue: 1 }]]);

    expect((await post('/_local/faults', { kind: 'nope' })).status).toBe(400);

    expect((await post('/_local/latency', { ms: 120 })).status).toBe(200);
    const started = Date.now();
    await api.execute('SELECT 1');
    expect(Date.now() - started).toBeGreaterThanOrEqual(110);
    api.server.setLatency(0);

    const stats = (await (await fetch(url + '/_local/stats')).json()) as {
      calls: number;
      byOperation: Record<string, number>;
      openTransactions: number;
      faultsInjected: number;
    };
    expect(stats).toEqual({ ...api.server.stats(), faultsInjected: api.server.faults.injected() });
    expect(stats.byOperation.Execute).toBeGreaterThan(10);
    expect(stats.byOperation.BeginTransaction).toBeGreaterThanOrEqual(3);
    expect(stats.calls).toBe(Object.values(stats.byOperation).reduce((a, b) => a + b, 0));
  });
});
