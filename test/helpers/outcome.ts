// Shared by the property tests: run one call of the code under test, and say whether it ended
// as a value or as a LabError. Any other exception fails the property (fast-check then shrinks
// the input to a small counterexample), and so does a call that runs past BOUND_MS: the calls
// are synchronous, so a real hang shows as the test's timeout, and a near-hang (a regular
// expression backtracking on a long input) as this bound. It is a bound, not a speed claim:
// every call here takes well under a millisecond.
import { LabError } from '../../benchmarks/contracts/errors.js';

export const BOUND_MS = 2000;

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: LabError };

export function outcome<T>(what: string, f: () => T): Outcome<T> {
  const t0 = performance.now();
  let result: Outcome<T>;
  try {
    result = { ok: true, value: f() };
  } catch (err) {
    if (!(err instanceof LabError)) {
      throw new Error(`${what} threw ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)} instead of a LabError`, { cause: err });
    }
    result = { ok: false, error: err };
  }
  const ms = performance.now() - t0;
  if (ms > BOUND_MS) throw new Error(`${what} ran for ${Math.round(ms)} ms (bound ${BOUND_MS} ms)`);
  return result;
}

/** A LabError that says what was wrong: a code, a message and (for option errors) a field. The
 * field may be '' when the offending member's name is itself '' ("Invalid parameter ''"). */
export function wellFormed(e: LabError, needsField: boolean): boolean {
  const ok = typeof e.code === 'string' && e.code.length > 0 && typeof e.message === 'string' && e.message.length > 0;
  return ok && (!needsField || typeof e.field === 'string');
}

/** Runs of each property: enough to find the bugs below in seconds, not minutes. */
export const RUNS = Number(process.env.XDPLAB_PROPERTY_RUNS ?? 500);
