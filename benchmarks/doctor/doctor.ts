// Runs the checks (concurrently, results in a fixed order) and formats them for people or machines.
import { hostname } from 'node:os';
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

export interface DoctorOptions {
  json: boolean; cleanup: boolean; qemu?: string;
  /** Also run the checks on this host through the peer agent over ssh, and show both. */
  peer?: { host: string; ssh?: string; connectTimeoutSeconds?: number };
}

/** The peer's side of `doctor --peer-host`: its checks, or why it could not be asked. */
export type PeerDoctor =
  | { host: string; ok: true; hostname: string; xdplab: string; passed: boolean; checks: CheckResult[] }
  | { host: string; ok: false; error: { code: string; message: string; hint?: string } };

/** The whole command: optional cleanup, the checks, the output; returns the exit code. */
/** Asks the peer's doctor (agent/peer-doctor.ts); passed in so that doctor/ needs nothing of agent/. */
export type AskPeer = (peer: NonNullable<DoctorOptions['peer']>, qemu?: string) => Promise<PeerDoctor>;

export async function doctor(opts: DoctorOptions, out: (text: string) => void, askPeer?: AskPeer): Promise<number> {
  let cleanedUp: string[] | undefined;
  if (opts.cleanup) {
    cleanedUp = recoverDeadRuns({ strayNamespaces: true });
    if (!opts.json) {
      out(cleanedUp.length ? cleanedUp.map(cleanupLine).join('\n') + '\n' : 'nothing to clean up\n');
    }
  }
  if (opts.peer) {
    if (!askPeer) throw new Error('doctor: a peer was given without a way to ask it');
    const [results, peer] = await Promise.all([runChecks(opts.qemu ? { qemu: opts.qemu } : {}), askPeer(opts.peer, opts.qemu)]);
    const peerPassed = peer.ok && peer.passed;
    if (opts.json) {
      out(JSON.stringify({ host: hostname(), checks: results, peer, ...(cleanedUp ? { cleanup: cleanedUp } : {}) }) + '\n');
    } else {
      out(`== this host (${hostname()}) ==\n${formatHuman(results)}\n`);
      out(peer.ok
        ? `== peer ${peer.host} (${peer.hostname}, xdplab ${peer.xdplab}) ==\n${formatHuman(peer.checks)}`
        : `== peer ${peer.host} ==\nFAIL could not run doctor there: ${peer.error.message}${peer.error.hint ? ` (${peer.error.hint})` : ''}\n`);
    }
    return passed(results) && peerPassed ? 0 : 1;
  }
  const results = await runChecks(opts.qemu ? { qemu: opts.qemu } : {});
  out(opts.json ? formatJson(results, cleanedUp) : formatHuman(results));
  return passed(results) ? 0 : 1;
}
