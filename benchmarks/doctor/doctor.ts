// Runs the checks (concurrently, results in a fixed order) and formats them for people or machines.
import { describeError } from '../contracts/errors.js';
import { cleanupLine, recoverDeadRuns } from '../report/recovery.js';
import { CHECKS, type Check, type CheckContext, type Severity } from './checks.js';

export interface CheckResult { id: string; ok: boolean; detail: string; severity: Severity }

const INFORMATIONAL = 'informational: does not fail doctor';

/** Runs every check; a check that throws becomes a not-ok result instead of ending the run. */
export async function runChecks(ctx: CheckContext = {}, checks: Check[] = CHECKS): Promise<CheckResult[]> {
  return Promise.all(checks.map(async (c): Promise<CheckResult> => {
    let ok: boolean;
    let detail: string;
    try {
      ({ ok, detail } = await c.run(ctx));
    } catch (err) {
      ok = false;
      detail = `the check itself failed: ${describeError(err)}`;
    }
    if (!ok && c.severity === 'info') detail += ` (${INFORMATIONAL})`;
    return { id: c.id, ok, detail, severity: c.severity };
  }));
}

/** Doctor passes when every required check is ok. */
export function passed(results: CheckResult[]): boolean {
  return results.every((r) => r.ok || r.severity !== 'required');
}

/** `ok`, `FAIL` (a required check), `warn` (an informational one). */
export function statusWord(r: CheckResult): string {
  return r.ok ? 'ok' : r.severity === 'required' ? 'FAIL' : 'warn';
}

export function formatHuman(results: CheckResult[]): string {
  const width = Math.max(13, ...results.map((r) => r.id.length)) + 1;
  const lines = results.map((r) => `${statusWord(r).padEnd(4)} ${r.id.padEnd(width)}${r.detail}`);
  const failed = results.filter((r) => !r.ok && r.severity === 'required').map((r) => r.id);
  const warned = results.filter((r) => !r.ok && r.severity !== 'required').map((r) => r.id);
  const ok = results.length - failed.length - warned.length;
  const counts = `${results.length} checks: ${ok} ok, ${failed.length} failed, ${warned.length} informational not ok${warned.length ? ` (${warned.join(', ')})` : ''}`;
  lines.push(failed.length
    ? `doctor: ${counts}; required checks failed: ${failed.join(', ')}`
    : `doctor: ${counts}; every required check passed`);
  return lines.join('\n') + '\n';
}

export function formatJson(results: CheckResult[], cleanedUp?: string[]): string {
  return JSON.stringify({ checks: results, ...(cleanedUp ? { cleanup: cleanedUp } : {}) }) + '\n';
}

export interface DoctorOptions { json: boolean; cleanup: boolean; qemu?: string }

/** The whole command: optional cleanup, the checks, the output; returns the exit code. */
export async function doctor(opts: DoctorOptions, out: (text: string) => void): Promise<number> {
  let cleanedUp: string[] | undefined;
  if (opts.cleanup) {
    cleanedUp = recoverDeadRuns({ strayNamespaces: true });
    if (!opts.json) {
      out(cleanedUp.length ? cleanedUp.map(cleanupLine).join('\n') + '\n' : 'nothing to clean up\n');
    }
  }
  const results = await runChecks(opts.qemu ? { qemu: opts.qemu } : {});
  out(opts.json ? formatJson(results, cleanedUp) : formatHuman(results));
  return passed(results) ? 0 : 1;
}
