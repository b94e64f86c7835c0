/**
 * `count` items sent in slices of `batch` (the last may be smaller), `inFlight` slices at once, as
 * the insert and enqueue measurements send them; answers the wall time in milliseconds.
 */
export async function inBatches(count: number, batch: number, inFlight: number, send: (first: number, size: number) => Promise<void>): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const size = Math.min(batch, count - next);
      const first = next;
      next += size;
      await send(first, size);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: inFlight }, worker));
  return performance.now() - started;
}
