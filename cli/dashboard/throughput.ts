import type { App } from '../../lib/app.js';
import { getThroughput, type QueueThroughput } from '../../lib/operations.js';

const MINUTE_MS = 60_000;
export const THROUGHPUT_MINUTES = 60;

interface FinishedCounts {
  done: number;
  dead: number;
}

/**
 * The last hour's throughput per queue and minute, for a page that asks every few seconds. A
 * minute that ended more than a minute ago no longer changes in the table (a finished row keeps
 * its finished_at), so its done and dead counts are kept here and each refresh reads finished rows
 * of the last two minutes only, not the whole hour again. Retries are read for the whole hour each
 * time: a retrying message leaves that state when it is claimed again.
 *
 * Kept counts outlive what the table later forgets (retention, a purge, a redrive): the chart says
 * what happened in that minute.
 */
export class ThroughputHistory {
  readonly #app: App;
  /** queue → minute start (ms) → counts, for minutes that start before #settledUntil. */
  readonly #finished = new Map<string, Map<number, FinishedCounts>>();
  #settledUntil: number | undefined;

  constructor(app: App) {
    this.#app = app;
  }

  /** Minute 0 starts at `since`; the last minute is the current one. */
  async read(): Promise<{ since: Date; queues: QueueThroughput[] }> {
    const now = this.#app.clock.now().getTime();
    const currentMinute = Math.floor(now / MINUTE_MS) * MINUTE_MS;
    const since = currentMinute - (THROUGHPUT_MINUTES - 1) * MINUTE_MS;
    const finishedSince = Math.max(since, this.#settledUntil ?? since);
    const queues = await getThroughput(this.#app, {
      since: new Date(since),
      until: new Date(currentMinute + MINUTE_MS),
      finishedSince: new Date(finishedSince),
    });

    const settledUntil = currentMinute - MINUTE_MS;
    for (const series of queues) {
      let kept = this.#finished.get(series.queue);
      if (kept === undefined) this.#finished.set(series.queue, (kept = new Map<number, FinishedCounts>()));
      for (let minute = 0; minute < THROUGHPUT_MINUTES; minute++) {
        const start = since + minute * MINUTE_MS;
        if (start < finishedSince) {
          const counts = kept.get(start);
          series.done[minute] = counts?.done ?? 0;
          series.dead[minute] = counts?.dead ?? 0;
        } else if (start < settledUntil) {
          kept.set(start, { done: series.done[minute]!, dead: series.dead[minute]! });
        }
      }
      for (const start of kept.keys()) if (start < since) kept.delete(start);
    }
    this.#settledUntil = Math.max(this.#settledUntil ?? settledUntil, settledUntil);
    return { since: new Date(since), queues };
  }
}
