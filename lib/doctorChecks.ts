/** How `aurora-queue doctor` runs and reports its checks (lib/doctor.ts, lib/doctorFull.ts). */

export interface DoctorCheck {
  name: string;
  result: 'pass' | 'fail' | 'info';
  detail: string;
  ms: number;
}

export type CheckOutcome = Omit<DoctorCheck, 'name' | 'ms'>;

/** Checks run one after another, each timed; a check that throws fails with what it threw. */
export class DoctorChecks {
  readonly checks: DoctorCheck[] = [];

  async run(name: string, check: () => Promise<CheckOutcome>): Promise<DoctorCheck> {
    const started = performance.now();
    let outcome: CheckOutcome;
    try {
      outcome = await check();
    } catch (error) {
      outcome = { result: 'fail', detail: failureDetail(error) };
    }
    const done = { name, ...outcome, ms: Math.round(performance.now() - started) };
    this.checks.push(done);
    return done;
  }
}

/**
 * A failed check's detail: the error's whole message (a cluster's own error text is what an
 * operator diagnoses with), cut at 500 characters. Stored errors use lib/errors.ts describeError.
 */
export function failureDetail(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
