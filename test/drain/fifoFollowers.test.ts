/** Which of a FIFO claim's messages wait for their head (lib/drain/followers.ts): pure, no database. */
import { describe, expect, it } from 'vitest';
import { FifoFollowers } from '../../lib/drain/followers.js';

interface Message {
  id: string;
  groupKey: string | null;
}

const m = (id: string, groupKey: string | null): Message => ({ id, groupKey });

describe('FifoFollowers', () => {
  it('takes the later message of each group the claim holds twice, by id, whatever the order it came in', () => {
    const followers = new FifoFollowers<Message>();
    const taken = followers.take([m('03', 'a'), m('01', 'a'), m('02', 'b'), m('04', null), m('05', null)]);
    expect([...taken]).toEqual(['03']);
    expect(followers.size).toBe(1);
    expect(followers.detach('01')?.id).toBe('03');
    expect(followers.size).toBe(0);
  });

  it('leaves messages without a group alone, and takes nothing from a claim of heads only', () => {
    const followers = new FifoFollowers<Message>();
    expect(followers.take([m('01', null), m('02', null), m('03', 'a'), m('04', 'b')]).size).toBe(0);
    expect(followers.size).toBe(0);
  });

  it('hands a follower over once: detaching again, or a head without one, gives nothing', () => {
    const followers = new FifoFollowers<Message>();
    followers.take([m('01', 'a'), m('02', 'a'), m('03', 'b'), m('04', 'b')]);
    expect(followers.detach('03')?.id).toBe('04');
    expect(followers.detach('03')).toBeUndefined();
    expect(followers.detach('02')).toBeUndefined();
    expect(followers.size).toBe(1);
  });

  it('keeps the followers of earlier claims while taking a new one’s', () => {
    const followers = new FifoFollowers<Message>();
    followers.take([m('01', 'a'), m('02', 'a')]);
    followers.take([m('05', 'b'), m('06', 'b')]);
    expect(followers.size).toBe(2);
    expect(followers.detach('01')?.id).toBe('02');
    expect(followers.detach('05')?.id).toBe('06');
  });

  it('does not reorder the claim it was given', () => {
    const followers = new FifoFollowers<Message>();
    const messages = [m('02', 'a'), m('01', 'a')];
    followers.take(messages);
    expect(messages.map((message) => message.id)).toEqual(['02', '01']);
  });
});
