/**
 * Fault injection for reliability tests. Not part of the Data API: it makes the local server
 * fail the way AWS can (cluster resuming, 5xx before or after the statement ran, slow calls),
 * on demand and countably.
 */
import { badRequest } from './errors.js';

export type FaultKind = 'resuming' | 'unavailable' | 'unavailable-after' | 'internal' | 'delay';

/**
 * - resuming: DatabaseResumingException (400) before running the statement;
 * - unavailable: ServiceUnavailableError (503) before running;
 * - unavailable-after: runs the call, then answers 503 (the response is lost);
 * - internal: InternalServerErrorException (500) before running;
 * - delay: waits `delayMs`, then runs normally.
 */
export interface FaultRule {
  kind: FaultKind;
  /** The next N matching calls (default 1). Ignored when `probability` is set. */
  count?: number;
  /** Each matching call fails with this probability, until cleared. */
  probability?: number;
  delayMs?: number;
  /** Operation names, e.g. ['Execute', 'BeginTransaction']; default all. */
  operations?: string[];
  /** Only calls whose SQL contains this text (a test failing one statement of several); default any. */
  statementContains?: string;
}

export interface FaultInjector {
  inject(rule: FaultRule): void;
  clear(): void;
  /** Faults fired so far. */
  injected(): number;
}

const KINDS: readonly FaultKind[] = ['resuming', 'unavailable', 'unavailable-after', 'internal', 'delay'];

interface ActiveRule {
  rule: FaultRule;
  remaining: number;
}

export class Faults implements FaultInjector {
  private rules: ActiveRule[] = [];
  private fired = 0;

  inject(rule: FaultRule): void {
    this.rules.push({ rule: validateRule(rule), remaining: rule.count ?? 1 });
  }

  clear(): void {
    this.rules = [];
  }

  injected(): number {
    return this.fired;
  }

  /** The fault to apply to this call (its SQL, if it has one), if any; rules fire in the order they were injected. */
  take(operation: string, sql?: string): FaultRule | undefined {
    for (let i = 0; i < this.rules.length; i++) {
      const active = this.rules[i]!;
      const { rule } = active;
      if (rule.operations !== undefined && !rule.operations.includes(operation)) continue;
      if (rule.statementContains !== undefined && !(sql ?? '').includes(rule.statementContains)) continue;
      if (rule.probability !== undefined) {
        if (Math.random() >= rule.probability) continue;
      } else if (--active.remaining <= 0) {
        this.rules.splice(i, 1);
      }
      this.fired++;
      return rule;
    }
    return undefined;
  }
}

/** Checks a rule that may come from an HTTP body. */
export function validateRule(input: unknown): FaultRule {
  const rule = input as Partial<FaultRule> | null;
  if (typeof rule !== 'object' || rule === null || !KINDS.includes(rule.kind as FaultKind)) {
    throw badRequest(`Fault kind must be one of ${KINDS.join(', ')}`);
  }
  if (rule.count !== undefined && !(Number.isInteger(rule.count) && rule.count > 0)) throw badRequest('Fault count must be a positive integer');
  if (rule.probability !== undefined && !(typeof rule.probability === 'number' && rule.probability >= 0 && rule.probability <= 1)) {
    throw badRequest('Fault probability must be between 0 and 1');
  }
  if (rule.delayMs !== undefined && !(typeof rule.delayMs === 'number' && rule.delayMs >= 0)) throw badRequest('Fault delayMs must be a non-negative number');
  if (rule.operations !== undefined && !(Array.isArray(rule.operations) && rule.operations.every((op) => typeof op === 'string'))) {
    throw badRequest('Fault operations must be a list of operation names');
  }
  if (rule.statementContains !== undefined && typeof rule.statementContains !== 'string') throw badRequest('Fault statementContains must be text');
  return rule as FaultRule;
}
