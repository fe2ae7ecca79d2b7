// Other work on the machine. A shared 2-core machine runs other people's builds and VMs; a trial
// during which other processes used CPU is not a measurement of the datapath. Every process's
// CPU time (utime + stime) is read at the start and end of the measured window; what processes
// outside the benchmark used is the trial's `otherCpu` (in CPUs: 1.0 = one core busy).
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { CLK_TCK, procStat } from './proc.js';

export interface ProcTimes { atMs: number; ticks: Map<number, { comm: string; ppid: number; ticks: number }>; steal: number }

export function procTimes(): ProcTimes {
  const ticks = new Map<number, { comm: string; ppid: number; ticks: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = procStat(name);
    if (!s) continue;
    if (Number(name) === 2 || s.ppid === 2) continue; // kernel threads: softirq work is the benchmark's
    ticks.set(Number(name), { comm: s.comm, ppid: s.ppid, ticks: Math.round((s.userSeconds + s.systemSeconds) * CLK_TCK) });
  }
  // Time the hypervisor gave this VM's CPUs to someone else (the 8th value of /proc/stat's cpu line).
  const steal = Number(readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/)[8] ?? 0);
  return { atMs: performance.now(), ticks, steal };
}

export interface OtherCpu {
  /** CPUs used by other processes plus CPU time stolen by the hypervisor (1.0 = one core). */
  cpus: number;
  stealCpus: number;
  top: Array<{ pid: number; comm: string; cpus: number }>;
}

/**
 * Waits (up to timeoutMs) for a second in which processes outside the benchmark used at most
 * `max` CPU. Returns what the last second showed.
 */
export async function waitForQuiet(max: number, ours: Set<number>, timeoutMs: number): Promise<{ waitedMs: number; last: OtherCpu }> {
  const start = performance.now();
  for (;;) {
    const a = procTimes();
    await new Promise((r) => setTimeout(r, 1000));
    const last = otherCpu(a, procTimes(), ours);
    const waitedMs = performance.now() - start;
    if (last.cpus <= max || waitedMs >= timeoutMs) return { waitedMs, last };
  }
}

/** CPU used between a and b by processes other than `ours` (and the ip/ethtool the bench runs). */
export function otherCpu(a: ProcTimes, b: ProcTimes, ours: Set<number>): OtherCpu {
  const seconds = (b.atMs - a.atMs) / 1000;
  const users: Array<{ pid: number; comm: string; cpus: number }> = [];
  for (const [pid, e] of b.ticks) {
    if (ours.has(pid) || e.comm === 'ip' || e.comm === 'ethtool') continue;
    const used = e.ticks - (a.ticks.get(pid)?.ticks ?? 0);
    if (used > 0) users.push({ pid, comm: e.comm, cpus: used / CLK_TCK / seconds });
  }
  users.sort((x, y) => y.cpus - x.cpus);
  const stealCpus = (b.steal - a.steal) / CLK_TCK / seconds;
  return { cpus: users.reduce((n, u) => n + u.cpus, 0) + stealCpus, stealCpus, top: users.slice(0, 3) };
}

/** `root` and every process below it in `t` (a run's workers, tools and VMs). */
export function processTree(t: ProcTimes, root: number): Set<number> {
  const tree = new Set([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, e] of t.ticks) if (!tree.has(pid) && tree.has(e.ppid)) { tree.add(pid); grew = true; }
  }
  return tree;
}
