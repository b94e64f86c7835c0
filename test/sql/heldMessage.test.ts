/** heldRows: the JSON rows every statement about held messages sends (the statements' own suites run them). */
import { describe, expect, it } from 'vitest';
import { heldAttempts, heldRows } from '../../lib/sql/heldMessage.js';

describe('heldRows', () => {
  it('sends each lease token once, its messages under it in the order given, even when claims interleave', () => {
    const rows = heldRows(
      [
        { id: 'a', leaseToken: 't1' },
        { id: 'b', leaseToken: 't2', attempts: 3 },
        { id: 'c', leaseToken: 't1' },
      ],
      heldAttempts,
    );
    expect(rows).toEqual([
      { leaseToken: 't1', messages: [{ id: 'a' }, { id: 'c' }] },
      { leaseToken: 't2', messages: [{ id: 'b', attempts: 3 }] },
    ]);
    // No attempts key where none was given: the column reads NULL, and the stored count stands.
    expect(JSON.stringify(rows)).toBe('[{"leaseToken":"t1","messages":[{"id":"a"},{"id":"c"}]},{"leaseToken":"t2","messages":[{"id":"b","attempts":3}]}]');
  });

  it("adds each message's own fields beside its id, and only those (attempts too only when asked)", () => {
    expect(heldRows([{ id: 'a', leaseToken: 't1', attempts: 2, error: 'boom' }], (message) => ({ error: message.error }))).toEqual([
      { leaseToken: 't1', messages: [{ id: 'a', error: 'boom' }] },
    ]);
  });
});
