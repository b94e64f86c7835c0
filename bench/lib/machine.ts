/**
 * How fast this machine is right now: benchmark figures only compare within one run, and a
 * shared two-core machine changes speed with what else runs on it. Recorded with every run.
 */
import { loadavg } from 'node:os';
import type mysql from 'mysql2/promise';
import { figure } from './stats.js';

export interface MachineProbe {
  /** Load average (1, 5, 15 min) when the probe ran. */
  load: number[];
  /** A fixed piece of JavaScript work (JSON round trips), median of 5. */
  cpuWorkMs: number;
  /** `SELECT 1` over mysql2, median of 200: the network and protocol floor. */
  mysqlRoundTripMs: number;
  /** A one-row autocommit UPDATE, median of 100: the redo log flush (fsync) a commit waits for. */
  commitMs: number;
}

export async function probeMachine(pool: mysql.Pool): Promise<MachineProbe> {
  const document = { id: '0190f0c8-4b6e-7000-8000-000000000000', payload: { to: '+15550001111', text: 'hello '.repeat(20) }, n: [1, 2, 3] };
  const cpu: number[] = [];
  for (let rep = 0; rep < 5; rep++) {
    const started = performance.now();
    for (let i = 0; i < 20_000; i++) JSON.parse(JSON.stringify(document));
    cpu.push(performance.now() - started);
  }

  const connection = await pool.getConnection();
  try {
    const roundTrips: number[] = [];
    for (let i = 0; i < 200; i++) {
      const started = performance.now();
      await connection.query('SELECT 1');
      roundTrips.push(performance.now() - started);
    }
    await connection.query('CREATE TABLE IF NOT EXISTS bench_probe (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB');
    await connection.query('REPLACE INTO bench_probe VALUES (1, 0)');
    const commits: number[] = [];
    for (let i = 0; i < 100; i++) {
      const started = performance.now();
      await connection.query('UPDATE bench_probe SET v = v + 1 WHERE id = 1');
      commits.push(performance.now() - started);
    }
    await connection.query('DROP TABLE bench_probe');
    return { load: loadavg(), cpuWorkMs: figure(cpu).median, mysqlRoundTripMs: figure(roundTrips).median, commitMs: figure(commits).median };
  } finally {
    connection.release();
  }
}
