import { randomBytes } from 'node:crypto';

/**
 * Makes UUIDv7s (RFC 9562): 48 bits of Unix milliseconds, then random bits. Ids made in the same
 * millisecond count up in the 12-bit `rand_a` field (the RFC's method 1, §6.2), so a batch's ids
 * sort in the order the messages were given and append to the clustered index; FIFO order relies
 * on it. Every id is greater than the one before it, whatever the clock does: when the clock steps
 * back (NTP, a test's manual clock), ids keep the last millisecond and count on, as §6.2 asks; when
 * a millisecond's 4,096 values run out, they borrow the next millisecond rather than repeat.
 *
 * Hand-written rather than the `uuidv7` package: its V7Generator takes the time as an argument
 * too, but when the clock steps back more than 10 s it resets to it (generateOrResetCore) or gives
 * no id (generateOrAbortCore), where FIFO queues need ids that keep increasing; this is 20 lines,
 * with their layout and order under test (test/ids.test.ts).
 */
export function uuidv7Generator(): (now?: number) => string {
  let lastMs = -1;
  let sequence = 0;
  return (now = Date.now()) => {
    if (now > lastMs) {
      lastMs = now;
      sequence = randomBytes(2).readUInt16BE() & 0x3ff; // leave headroom for 3,000+ ids in one ms
    } else {
      sequence += 1;
      if (sequence > 0xfff) {
        lastMs += 1;
        sequence = 0;
      }
    }
    const bytes = randomBytes(16);
    bytes.writeUIntBE(lastMs, 0, 6);
    bytes[6] = 0x70 | (sequence >> 8);
    bytes[7] = sequence & 0xff;
    bytes[8] = 0x80 | (bytes[8]! & 0x3f);
    const hex = bytes.toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };
}

/** The process's UUIDv7s, each greater than the last (see uuidv7Generator); `now` in Unix ms. */
export const uuidv7 = uuidv7Generator();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}
