import { OUTPUT_LIMITS } from '../../schema/messages.js';

/** What becomes of a handler's return value: nothing to store, its JSON text, or why it was not stored. */
export type EncodedResult = { kind: 'none' } | { kind: 'stored'; text: string } | { kind: 'refused'; rule: string };

const NONE: EncodedResult = Object.freeze({ kind: 'none' });

/**
 * A handler's return value as the JSON text stored with its message. undefined (and null, which
 * says as little) stores nothing. A value JSON cannot hold (a function, a BigInt, a cycle) or
 * text over OUTPUT_LIMITS.maxResultBytes is the handler's bug, not the message's: the message is
 * still done, with no result, and the drain logs a warning naming the rule. Refusing the outcome
 * would run the message's side effects again for a result nobody may read.
 */
export function encodeResult(value: unknown): EncodedResult {
  if (value === undefined || value === null) return NONE;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    return { kind: 'refused', rule: `the result must be JSON (${error instanceof Error ? error.message : String(error)})` };
  }
  if (text === undefined) return { kind: 'refused', rule: `the result must be JSON, not a ${typeof value}` };
  const bytes = Buffer.byteLength(text);
  if (bytes > OUTPUT_LIMITS.maxResultBytes) {
    return { kind: 'refused', rule: `the result must be at most ${OUTPUT_LIMITS.maxResultBytes} bytes of JSON text, got ${bytes}` };
  }
  return { kind: 'stored', text };
}
