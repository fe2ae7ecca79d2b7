// Tests that need root or a tool state what is missing; the reason becomes part of the suite's
// name so that the summary lists it.
import { execFileSync } from 'node:child_process';
import { describe } from 'vitest';

function hasTool(tool: string): boolean {
  try { execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }); return true; } catch { return false; }
}

export interface Needs { root?: boolean; tools?: string[] }

export function missing(needs: Needs): string | undefined {
  if (needs.root && process.getuid?.() !== 0) return 'needs root (namespaces, XDP programs, AF_XDP sockets)';
  const absent = (needs.tools ?? []).filter((t) => !hasTool(t));
  if (absent.length) return `needs ${absent.join(', ')} (npm run setup installs them)`;
  return undefined;
}

/** describe() that skips with the reason in its name when a requirement is missing. */
export function suite(name: string, needs: Needs, fn: () => void): void {
  const reason = missing(needs);
  if (reason) describe.skip(`${name} [skipped: ${reason}]`, fn);
  else describe(name, fn);
}
