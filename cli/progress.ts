/**
 * A progress display for long runs (the demo): one redrawn line with a bar on a terminal, a plain
 * line every few seconds otherwise (CI logs, pipes), where redrawing would only make noise.
 */
import { formatCount } from './format.js';

export interface ProgressSnapshot {
  total: number;
  done: number;
  dead: number;
  /** Failed at least once and waiting for their next attempt. */
  retrying: number;
  running: number;
  /** Finished messages per second since the start. */
  ratePerSecond: number;
}

const BAR_WIDTH = 24;

export function progressLine(snapshot: ProgressSnapshot, options: { bar: boolean }): string {
  const finished = snapshot.done + snapshot.dead;
  const share = snapshot.total === 0 ? 1 : Math.min(1, finished / snapshot.total);
  const percent = `${Math.floor(share * 100)}%`.padStart(4);
  const counts =
    `${formatCount(finished)}/${formatCount(snapshot.total)}  ` +
    `done ${formatCount(snapshot.done)}  retrying ${formatCount(snapshot.retrying)}  dead ${formatCount(snapshot.dead)}  ` +
    `${formatCount(snapshot.ratePerSecond)} msg/s`;
  if (!options.bar) return `progress ${percent.trim()}  ${counts}`;
  const filled = Math.round(share * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${percent}  ${counts}`;
}

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressReporterOptions {
  output: ProgressOutput;
  /** Reads the current counts; errors are shown as a stale line, not thrown. */
  read: () => Promise<ProgressSnapshot>;
  /** Redraws per second on a terminal: every 250 ms; lines otherwise: every 2 s. */
  ttyIntervalMs?: number;
  lineIntervalMs?: number;
}

export class ProgressReporter {
  readonly #options: ProgressReporterOptions;
  readonly #tty: boolean;
  #timer: NodeJS.Timeout | undefined;
  #reading: Promise<void> | undefined;
  #last: ProgressSnapshot | undefined;
  #drawn = false;

  constructor(options: ProgressReporterOptions) {
    this.#options = options;
    this.#tty = options.output.isTTY === true;
  }

  start(): void {
    const interval = this.#tty ? (this.#options.ttyIntervalMs ?? 250) : (this.#options.lineIntervalMs ?? 2_000);
    this.#timer = setInterval(() => void this.#tick(), interval);
  }

  /** Stops the timer, waits for a read in flight, and draws the final state once more. */
  async stop(final?: ProgressSnapshot): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#reading;
    const snapshot = final ?? this.#last;
    if (snapshot !== undefined) this.#draw(snapshot);
    if (this.#tty && this.#drawn) this.#options.output.write('\n');
  }

  #tick(): Promise<void> {
    // A slow read must not pile up reads behind it.
    this.#reading ??= this.#options
      .read()
      .then((snapshot) => {
        this.#last = snapshot;
        if (this.#timer !== undefined) this.#draw(snapshot);
      })
      .catch(() => {})
      .finally(() => {
        this.#reading = undefined;
      });
    return this.#reading;
  }

  #draw(snapshot: ProgressSnapshot): void {
    if (this.#tty) {
      // Carriage return and erase-line: the bar redraws in place.
      this.#options.output.write(`\r\x1b[2K${progressLine(snapshot, { bar: true })}`);
      this.#drawn = true;
    } else {
      this.#options.output.write(`${progressLine(snapshot, { bar: false })}\n`);
    }
  }
}
