// What a process holds, read from /proc: resident memory, open fds (by kind), mappings, threads.
// Shared by the soak and leak benchmarks, with the small statistics they judge growth by.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface ProcessStats {
  /** VmRSS, VmHWM (peak RSS) and VmLck/VmPin (locked and pinned: where a UMEM shows) in KiB. */
  rssKiB: number;
  hwmKiB: number;
  lockedKiB: number;
  pinnedKiB: number;
  threads: number;
  fds: number;
  /** Lines of /proc/PID/maps. */
  maps: number;
}

function statusField(status: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status);
  return m ? Number(m[1]) : NaN;
}

/** One reading of a process ('self' or a pid); undefined when it has gone. */
export function processStats(pid: number | 'self'): ProcessStats | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
    // readdir of /proc/self/fd opens a directory fd of its own: counted for 'self', constantly.
    const fds = readdirSync(`/proc/${pid}/fd`).length;
    return {
      rssKiB: statusField(status, 'VmRSS'),
      hwmKiB: statusField(status, 'VmHWM'),
      lockedKiB: statusField(status, 'VmLck'),
      pinnedKiB: statusField(status, 'VmPin'),
      threads: statusField(status, 'Threads'),
      fds,
      maps: maps.split('\n').filter(Boolean).length,
    };
  } catch {
    return undefined;
  }
}

/** Open fds by what they are: socket, anon_inode:bpf-prog, anon_inode:bpf-map, pipe, /dev/..., file. */
export function fdKinds(pid: number | 'self'): Record<string, number> {
  const out: Record<string, number> = {};
  let names: string[] = [];
  try { names = readdirSync(`/proc/${pid}/fd`); } catch { return out; }
  for (const n of names) {
    let target: string;
    try { target = readlinkSync(`/proc/${pid}/fd/${n}`); } catch { continue; }
    const kind = target.startsWith('socket:') ? 'socket'
      : target.startsWith('pipe:') ? 'pipe'
        : target.startsWith('anon_inode:') ? target.replace(/^anon_inode:\[?([^\]]*)\]?$/, 'anon_inode:$1')
          : target.startsWith('/dev/') ? target
            : 'file';
    out[kind] = (out[kind] ?? 0) + 1;
  }
  return out;
}

/** Direct children of a process (every thread's children file). */
export function childPids(pid: number): number[] {
  const out = new Set<number>();
  let tasks: string[] = [];
  try { tasks = readdirSync(`/proc/${pid}/task`); } catch { return []; }
  for (const t of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/)) if (c) out.add(Number(c));
    } catch { /* thread gone */ }
  }
  return [...out];
}

export function commandLine(pid: number): string {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' '); } catch { return ''; }
}

/** Least-squares slope of y over x (units of y per unit of x); NaN with fewer than 2 points. */
export function slope(xs: number[], ys: number[]): number {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return NaN;
  const mx = xs.slice(0, n).reduce((a, b) => a + b, 0) / n;
  const my = ys.slice(0, n).reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) { num += (xs[i]! - mx) * (ys[i]! - my); den += (xs[i]! - mx) ** 2; }
  return den === 0 ? NaN : num / den;
}

export function spread(xs: number[]): number {
  return xs.length ? Math.max(...xs) - Math.min(...xs) : NaN;
}

/** The machine and versions, as the datapath bench records them. */
export function machine(): Record<string, unknown> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const q = (cmd: string, args: string[]) => { try { return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { return null; } };
  return {
    kernel: release(),
    cpuModel: cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1]?.trim() ?? 'unknown',
    cores: cpus().length,
    node: process.version,
    libxdp: q('dpkg-query', ['-W', '-f=${Version}', 'libxdp1']),
    libbpf: q('dpkg-query', ['-W', '-f=${Version}', 'libbpf1']),
    gitCommit: q('git', ['-C', REPO, 'rev-parse', 'HEAD']),
  };
}

/** The load of the machine while a bench ran: loadavg, and what other processes used most. */
export function loadavg(): number[] {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
}
