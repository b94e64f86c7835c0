import { expect, it } from 'vitest';
import { clip } from '../lib/clip.js';

it('keeps text within the limit as it is', () => {
  expect(clip('abc', { chars: 3 })).toBe('abc');
  expect(clip('😀😀', { chars: 2 })).toBe('😀😀'); // 4 UTF-16 units, 2 characters
  expect(clip('éé', { bytes: 4 })).toBe('éé');
  expect(clip('', { bytes: 0 })).toBe('');
});

it('cuts to the limit in characters, the ellipsis included, never splitting a surrogate pair', () => {
  expect(clip('abcdef', { chars: 4 })).toBe('abc…');
  expect(clip('😀😀😀', { chars: 2 })).toBe('😀…');
  expect(clip('x'.repeat(10_000), { chars: 2_000 })).toHaveLength(2_000);
});

it('cuts to the limit in UTF-8 bytes, the ellipsis (3 bytes) included, never splitting a character', () => {
  expect(clip('abcdef', { bytes: 5 })).toBe('ab…');
  const clipped = clip('😀'.repeat(600), { bytes: 2_000 });
  expect(clipped).toBe(`${'😀'.repeat(499)}…`);
  expect(Buffer.byteLength(clipped)).toBeLessThanOrEqual(2_000);
  expect(clip('ééé', { bytes: 5 })).toBe('é…');
  for (const text of ['a'.repeat(700), 'é'.repeat(400), `${'a'.repeat(666)}😀`]) {
    const result = clip(text, { bytes: 667 });
    expect(Buffer.byteLength(result)).toBeLessThanOrEqual(667);
    if (Buffer.byteLength(text) <= 667) expect(result).toBe(text);
    else expect(result.endsWith('…')).toBe(true);
  }
});
