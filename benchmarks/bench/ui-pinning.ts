// CPU placement for bench:ui on a 2-core machine. The run engine already pins the device under
// test's worker to CPU 1 and the peer (generator) to CPU 0. This bench process (the engine: run
// manager, sampler, web server, WebSocket) is pinned to CPU 0 in both modes, and so is Chromium
// in the UI mode: everything the UI adds lands on the CPU the DUT does not use. What each
// process actually got is read back from /proc and saved with the results.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { procStat } from '../lab/proc.js';

/** Pins every thread of this process (and so the children it starts later) to `cpu`. */
export function pinSelf(cpu: number): void {
  execFileSync('taskset', ['-a', '-pc', String(cpu), String(process.pid)], { stdio: 'ignore' });
}

function allowedCpus(pid: number): string {
  try { return /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '?'; } catch { return '?'; }
}

/** This process's descendants: pid -> command name. */
function descendants(root: number): Map<number, string> {
  const parent = new Map<number, { comm: string; ppid: number }>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const s = procStat(d);
    if (s) parent.set(Number(d), s);
  }
  const isOurs = (pid: number): boolean => {
    for (let p = parent.get(pid)?.ppid, hops = 0; p && hops < 32; p = parent.get(p)?.ppid, hops++) if (p === root) return true;
    return false;
  };
  return new Map([...parent].filter(([pid]) => isOurs(pid)).map(([pid, s]) => [pid, s.comm]));
}

/** CPU seconds used so far by this process's descendants whose command name starts with `prefix` (Chromium's processes). */
export function descendantCpuSeconds(prefix: string, root = process.pid): Map<number, number> {
  const out = new Map<number, number>();
  for (const [pid, comm] of descendants(root)) {
    if (!comm.startsWith(prefix)) continue;
    const s = procStat(pid);
    if (s) out.set(pid, s.userSeconds + s.systemSeconds);
  }
  return out;
}

/** This process's descendants by command name, with the CPUs each may run on ("chromium: 0"). */
export function descendantPlacement(root = process.pid): Record<string, string[]> {
  const out: Record<string, Set<string>> = { [`${procStat(root)?.comm ?? 'bench'} (this process)`]: new Set([allowedCpus(root)]) };
  for (const [pid, comm] of descendants(root)) (out[comm] ??= new Set()).add(allowedCpus(pid));
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...v]]));
}
