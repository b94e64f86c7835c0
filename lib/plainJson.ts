import { LONE_SURROGATE } from '../schema/messages.js';

/**
 * Where a value departs from plain JSON:
 *   - not_json: a node no JSON text can hold (undefined, a function, a bigint, a class instance).
 *   - finite_number: NaN or an infinity.
 *   - lone_surrogate / lone_surrogate_key: a string or key that is not valid Unicode.
 *   - max_depth: arrays and objects nested deeper than allowed.
 *   - undefined_entry, symbol_key, proto_key: an object entry JSON.stringify drops (the first
 *     two) or that a parser treats apart (`__proto__`); JSON text can still be made of the value.
 */
export type PlainJsonFault =
  'not_json' | 'finite_number' | 'lone_surrogate' | 'lone_surrogate_key' | 'max_depth' | 'undefined_entry' | 'symbol_key' | 'proto_key';

export interface PlainJsonWalk {
  /** Levels of arrays and objects allowed: the value itself is level 1. */
  maxDepth: number;
  /**
   * Called for each fault with its node and the node's path (a copy, from the walked value). A faulty node
   * is not walked further, but for proto_key, whose value is. Answer false to stop the walk.
   */
  onFault(fault: PlainJsonFault, path: PropertyKey[], node: unknown): boolean;
  /** Called for each array and plain object walked, with its number of items or own string keys. */
  onContainer?(kind: 'array' | 'object', size: number): void;
}

/**
 * Walks a value as plain JSON, depth first: null, booleans, finite numbers, strings, arrays and
 * objects whose prototype is Object.prototype or null. The one walk of the enqueue's payload check
 * and the webhook's fast path; each decides what a fault means to it. Answers whether it found none.
 */
export function walkPlainJson(value: unknown, walk: PlainJsonWalk): boolean {
  const path: PropertyKey[] = [];
  let clean = true;
  let stopped = false;
  const fault = (kind: PlainJsonFault, node: unknown): void => {
    clean = false;
    if (!walk.onFault(kind, [...path], node)) stopped = true;
  };
  const visit = (node: unknown, depth: number): void => {
    if (stopped || node === null || typeof node === 'boolean') return;
    if (typeof node === 'number') {
      if (!Number.isFinite(node)) fault('finite_number', node);
      return;
    }
    if (typeof node === 'string') {
      if (LONE_SURROGATE.test(node)) fault('lone_surrogate', node);
      return;
    }
    if (typeof node !== 'object' || !(Array.isArray(node) || isPlainObject(node))) return fault('not_json', node);
    if (depth > walk.maxDepth) return fault('max_depth', node);
    if (Array.isArray(node)) {
      walk.onContainer?.('array', node.length);
      for (let i = 0; i < node.length && !stopped; i++) {
        path.push(i);
        visit(node[i], depth + 1);
        path.pop();
      }
      return;
    }
    const keys = Object.keys(node);
    walk.onContainer?.('object', keys.length);
    if (Object.getOwnPropertySymbols(node).length > 0) fault('symbol_key', node);
    for (let i = 0; i < keys.length && !stopped; i++) {
      const key = keys[i]!;
      const item = (node as Record<string, unknown>)[key];
      path.push(key);
      if (LONE_SURROGATE.test(key)) fault('lone_surrogate_key', item);
      else if (item === undefined) fault('undefined_entry', item);
      else {
        if (key === '__proto__') fault('proto_key', item);
        if (!stopped) visit(item, depth + 1);
      }
      path.pop();
    }
  };
  visit(value, 1);
  return clean;
}

function isPlainObject(value: object): boolean {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
