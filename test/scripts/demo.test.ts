/**
 * `npm run demo`, smaller: every text ends done or dead as the fake provider decided, the summary
 * adds up, the demo's database is gone afterwards, and no process outlives it (also on Ctrl-C).
 */
import { randomUUID } from 'node:crypto';
import mysql from 'mysql2/promise';
import { afterAll, expect, it } from 'vitest';
import { DATABASE_URL, dropTestDatabase } from '../support/database.js';
import { killGroup, processesWithMarker, runNpmScript } from './helpers.js';

const databases: string[] = [];
afterAll(async () => {
  for (const database of databases) await dropTestDatabase(database);
});

function demoDatabase(): string {
  const name = `aq_test_demo_${randomUUID().slice(0, 8)}`;
  databases.push(name);
  return name;
}

async function databaseExists(name: string): Promise<boolean> {
  const connection = await mysql.createConnection(DATABASE_URL);
  try {
    const [rows] = (await connection.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = ?', [name])) as any[];
    return rows.length > 0;
  } finally {
    await connection.end();
  }
}

/** The count column of a summary row, e.g. "done   291   97%" → 291. */
function summaryCount(output: string, label: string): number {
  const match = new RegExp(`^${label} +([\\d,]+)`, 'm').exec(output);
  if (!match) throw new Error(`no "${label}" row in:\n${output}`);
  return Number(match[1]!.replace(/,/g, ''));
}

it('delivers every text or dead-letters it, and reports the run', async () => {
  const marker = randomUUID();
  const database = demoDatabase();
  const script = runNpmScript(['demo', '--', '--messages', '300', '--batch', '100', '--seed', '7', '--database', database], {
    ...process.env,
    AQ_TEST_MARKER: marker,
  });
  try {
    expect(await script.exited, script.output()).toBe(0);
  } finally {
    killGroup(script.child);
  }
  const output = script.output();
  expect(output).toContain('enqueued 300 texts in 3 batches of up to 100');
  // Not a terminal: progress comes as whole lines, the last at 100%.
  expect(output).toMatch(/^progress 100% {2}300\/300 {2}done [\d,]+ {2}retrying 0 {2}dead \d+ {2}[\d,]+ msg\/s$/m);
  const done = summaryCount(output, 'done');
  const dead = summaryCount(output, 'dead');
  expect(done + dead).toBe(300);
  expect(summaryCount(output, 'texts')).toBe(300);
  // The provider accepted exactly the texts that are done: none was sent twice, none lost.
  expect(output).toMatch(new RegExp(`^provider calls +[\\d,]+ +accepted ${done}, 500 \\d+, 429 \\d+, sent twice 0$`, 'm'));
  expect(summaryCount(output, 'retries')).toBeGreaterThan(0);
  expect(await databaseExists(database)).toBe(false);
  expect(processesWithMarker(marker) ?? []).toEqual([]);
}, 120_000);

it('stops on Ctrl-C, gives its database back and leaves no process', async () => {
  const marker = randomUUID();
  const database = demoDatabase();
  // Slow enough to be interrupted mid-drain: most calls fail and each text may try many times.
  const args = ['demo', '--', '--messages', '2000', '--failure-rate', '0.8', '--max-attempts', '50', '--database', database];
  const script = runNpmScript(args, { ...process.env, AQ_TEST_MARKER: marker });
  try {
    await script.waitFor(/^enqueued 2,000 texts/m, 60_000);
    script.interrupt();
    await script.exited;
    const deadline = Date.now() + 20_000;
    while ((processesWithMarker(marker) ?? []).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(processesWithMarker(marker) ?? [], script.output()).toEqual([]);
  } finally {
    killGroup(script.child);
  }
  expect(script.output()).toContain('SIGINT: stopping the demo');
  expect(script.output()).not.toMatch(/^summary/m);
  expect(await databaseExists(database)).toBe(false);
}, 120_000);

it('refuses bad options with a message', async () => {
  const script = runNpmScript(['demo', '--', '--failure-rate', '0.9', '--throttle-rate', '0.2'], { ...process.env });
  try {
    expect(await script.exited).toBe(1);
  } finally {
    killGroup(script.child);
  }
  expect(script.output()).toContain('demo: --failure-rate plus --throttle-rate must stay below 1');
});
