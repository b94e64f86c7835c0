/**
 * namedList: a list of values as named parameters (the Data API has no array parameters). A pure
 * helper; the real stack shows the names bind as the text says, with ten or more values (where
 * `:id1` is a prefix of `:id10`) and with values that look like SQL or like a placeholder.
 */
import { describe, expect, it } from 'vitest';
import { namedList } from '../../lib/sql/namedList.js';
import { idOf, insertFixtures } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

describe('namedList', () => {
  it('names each value by the prefix and its position, in order', () => {
    expect(namedList('queue', ['a', 'b', 'c'])).toEqual({ placeholders: ':queue0, :queue1, :queue2', params: { queue0: 'a', queue1: 'b', queue2: 'c' } });
    expect(namedList('id', ['only'])).toEqual({ placeholders: ':id0', params: { id0: 'only' } });
  });

  it('answers no placeholders and no parameters for no values (a caller must not send `IN ()`)', () => {
    expect(namedList('queue', [])).toEqual({ placeholders: '', params: {} });
  });

  it('keeps duplicates and empty strings, one parameter each, and puts no value into the text', () => {
    const list = namedList('q', ['x', 'x', '', "'; DROP TABLE t; --", ':q0']);
    expect(list.placeholders).toBe(':q0, :q1, :q2, :q3, :q4');
    expect(Object.values(list.params)).toEqual(['x', 'x', '', "'; DROP TABLE t; --", ':q0']);
  });

  it('gives two lists with different prefixes disjoint parameter names', () => {
    const heads = namedList('head', ['a', 'b']);
    const next = namedList('next', ['c']);
    expect({ ...heads.params, ...next.params }).toEqual({ head0: 'a', head1: 'b', next0: 'c' });
  });

  it('binds each name to its own value through the Data API, past ten values and with values that look like SQL', async () => {
    const ids = Array.from({ length: 12 }, (_, n) => idOf(n + 1));
    await insertFixtures(
      stack,
      ids.map((id, n) => ({ id, queue: n === 1 ? ':id10' : n === 2 ? "it's" : `nl${n}` })),
    );
    // Every other id, and queues that are only found when `:id1` is not read as a prefix of `:id10`.
    const wanted = ids.filter((_, n) => n % 2 === 1);
    const byId = namedList('id', wanted);
    const byQueue = namedList('queue', [':id10', "it's", 'nl11', 'nl11']);
    const rows = await stack.db.query(
      `SELECT id, queue FROM queue_messages WHERE id IN (${byId.placeholders}) AND queue IN (${byQueue.placeholders}) ORDER BY id`,
      { ...byId.params, ...byQueue.params },
    );
    expect(rows).toEqual([
      { id: idOf(2), queue: ':id10' },
      { id: idOf(12), queue: 'nl11' },
    ]);
    const all = namedList('id', ids);
    const [count] = await stack.db.query(`SELECT COUNT(*) AS n FROM queue_messages WHERE id IN (${all.placeholders})`, all.params);
    expect(Number(count!.n)).toBe(12);
  });
});
