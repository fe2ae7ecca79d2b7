// Tests that need root or a tool state what is missing; the reason becomes part of the suite's
// name so that the summary lists it.
import { execFileSync } from 'node:child_process';
import { describe, it } from 'vitest';
import { copyUnreadableBy } from './readable-checkout.js';

function hasTool(tool: string): boolean {
  try { execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }); return true; } catch { return false; }
}

/** asUser: processes run through this wrapper (setpriv ...) must find what they load (readable-checkout.ts). */
export interface Needs { root?: boolean; tools?: string[]; asUser?: string[] }

export function missing(needs: Needs): string | undefined {
  if (needs.root && process.getuid?.() !== 0) return 'needs root (namespaces, XDP programs, AF_XDP sockets)';
  const absent = (needs.tools ?? []).filter((t) => !hasTool(t));
  if (absent.length) return `needs ${absent.join(', ')} (npm run setup installs them)`;
  if (needs.asUser) return copyUnreadableBy(needs.asUser);
  return undefined;
}

/** describe() that skips with the reason in its name when a requirement is missing. */
export function suite(name: string, needs: Needs, fn: () => void): void {
  const reason = missing(needs);
  if (reason) describe.skip(`${name} [skipped: ${reason}]`, fn);
  else describe(name, fn);
}

/** it() that skips with the reason in its name when a requirement is missing. */
export function itNeeds(name: string, needs: Needs, fn: () => Promise<void> | void, timeoutMs?: number): void {
  const reason = missing(needs);
  if (reason) it.skip(`${name} [skipped: ${reason}]`, fn);
  else it(name, fn, timeoutMs);
}
