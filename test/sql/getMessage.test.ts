/** getMessage: one message by id, every field decoded. */
import { describe, expect, it } from 'vitest';
import { getMessage } from '../../lib/sql/getMessage.js';
import { at, explain, expectAccess, idOf, insertBackground, insertFixtures, statementsOf } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

describe('getMessage', () => {
  it('reads a message with its fields decoded, and nothing for an unknown id', async () => {
    const [id] = await insertFixtures(stack, [
      {
        id: idOf(1),
        queue: 'get',
        type: 'sms.send',
        payload: '{"to":"+15550100","text":"é😀"}',
        status: 'retrying',
        priority: -5,
        attempts: 2,
        maxAttempts: 7,
        availableAt: at(90_000),
        dedupKey: 'k-😀',
        groupKey: 'g',
        traceContext: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 rojo=1',
        lastError: 'boom',
        updatedAt: at(1_000),
      },
    ]);
    expect(await getMessage(stack.db, id!)).toEqual({
      id,
      queue: 'get',
      type: 'sms.send',
      payload: { to: '+15550100', text: 'é😀' },
      payloadParts: 0,
      status: 'retrying',
      priority: -5,
      attempts: 2,
      maxAttempts: 7,
      availableAt: at(90_000),
      dedupKey: 'k-😀',
      groupKey: 'g',
      traceContext: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 rojo=1',
      lastError: 'boom',
      createdAt: at(0),
      updatedAt: at(1_000),
      finishedAt: null,
    });
    expect(await getMessage(stack.db, idOf(2))).toBeUndefined();
  });

  it('reads one row by primary key', async () => {
    await insertBackground(stack);
    const [call] = await statementsOf(stack.db, (db) => getMessage(db, idOf(900_001)));
    const plan = await explain(stack.db, call!);
    expectAccess(plan, { queue_messages: 'PRIMARY' });
    expect(plan[0]!.type).toBe('const');
  });
});
