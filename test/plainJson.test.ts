import { expect, it } from 'vitest';
import { walkPlainJson, type PlainJsonFault } from '../lib/plainJson.js';

function faults(value: unknown, maxDepth = 8): [PlainJsonFault, PropertyKey[]][] {
  const found: [PlainJsonFault, PropertyKey[]][] = [];
  walkPlainJson(value, { maxDepth, onFault: (fault, path) => (found.push([fault, path]), true) });
  return found;
}

it('accepts plain JSON', () => {
  expect(walkPlainJson({ a: [1, 'x', null, true, { b: Object.create(null) as object }] }, { maxDepth: 8, onFault: () => false })).toBe(true);
  expect(faults(JSON.parse('{"__proto__": 1}'))).toEqual([['proto_key', ['__proto__']]]);
});

it('names each fault with its path, and walks no further into a faulty node', () => {
  expect(faults({ n: Number.NaN, s: '\ud800', list: [undefined, new Date(0)], u: undefined, '\udc00': 1 })).toEqual([
    ['finite_number', ['n']],
    ['lone_surrogate', ['s']],
    ['not_json', ['list', 0]],
    ['not_json', ['list', 1]],
    ['undefined_entry', ['u']],
    ['lone_surrogate_key', ['\udc00']],
  ]);
  expect(faults({ [Symbol('s')]: 1 })).toEqual([['symbol_key', []]]);
  expect(faults([[[1]]], 2)).toEqual([['max_depth', [0, 0]]]);
});

it('stops when told to, and counts containers', () => {
  const sizes: string[] = [];
  const seen: PlainJsonFault[] = [];
  const clean = walkPlainJson([Number.NaN, Number.NaN, { a: 1, b: 2 }], {
    maxDepth: 8,
    onFault: (fault) => (seen.push(fault), false),
    onContainer: (kind, size) => void sizes.push(`${kind}:${size}`),
  });
  expect({ clean, seen, sizes }).toEqual({ clean: false, seen: ['finite_number'], sizes: ['array:3'] });
});
