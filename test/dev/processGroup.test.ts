import { expect, it } from 'vitest';
import { groupAlive, spawnProcessGroup } from '../../dev/processGroup.js';

it('stops the leader and everything it started', async () => {
  // A shell with a grandchild in the background: signalling the leader alone would orphan it.
  const group = spawnProcessGroup('sleepers', 'sh', ['-c', 'sleep 60 & sleep 60'], { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(groupAlive(group.child.pid!)).toBe(true);
  await group.stop();
  expect(await group.exited).toBe('SIGTERM');
  expect(groupAlive(group.child.pid!)).toBe(false);
});

it('kills a group that ignores the polite signal once the grace time is over', async () => {
  const group = spawnProcessGroup('stubborn', 'sh', ['-c', 'trap "" TERM INT; sleep 60 & wait'], { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const started = Date.now();
  await group.stop({ signal: 'SIGINT', graceMs: 300 });
  expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  expect(groupAlive(group.child.pid!)).toBe(false);
  // A second stop is the same stop.
  await group.stop();
});

it('resolves for a command that cannot start', async () => {
  const group = spawnProcessGroup('missing', '/nonexistent/aq-binary', [], { stdio: 'ignore' });
  expect(await group.exited).toBe('spawn failed');
  await group.stop();
});
