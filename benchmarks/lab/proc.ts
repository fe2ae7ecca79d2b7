// What /proc says about a process: one parser of /proc/PID/stat for every reader (telling a
// process from a later one with the same pid, CPU time, the process tree, kernel threads).
import { readFileSync } from 'node:fs';

/** The kernel's clock tick for /proc times (USER_HZ: 100 on Linux). */
export const CLK_TCK = 100;

export interface ProcStat {
  comm: string;
  ppid: number;
  userSeconds: number;
  systemSeconds: number;
  /** Field 22: start time in clock ticks since boot, as written. */
  startTime: string;
}

/** /proc/PID/stat (a thread's too: 'PID/task/TID'), or undefined when gone. */
export function procStat(pid: number | string): ProcStat | undefined {
  let stat: string;
  try { stat = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return undefined; }
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  const close = stat.lastIndexOf(')');
  const f = stat.slice(close + 2).split(' ');
  return {
    comm: stat.slice(stat.indexOf('(') + 1, close),
    ppid: Number(f[1]),
    userSeconds: Number(f[11]) / CLK_TCK,
    systemSeconds: Number(f[12]) / CLK_TCK,
    startTime: f[19]!,
  };
}

export function processStartTime(pid: number): string | undefined {
  return procStat(pid)?.startTime;
}

/** CPU time a process has used so far, or undefined when gone. */
export function processCpuSeconds(pid: number): { userSeconds: number; systemSeconds: number } | undefined {
  const s = procStat(pid);
  return s && { userSeconds: s.userSeconds, systemSeconds: s.systemSeconds };
}
