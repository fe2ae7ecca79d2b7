// What /proc says about a process, for telling a process from a later one with the same pid.
import { readFileSync } from 'node:fs';

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot), or undefined when gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The kernel's clock tick for /proc times (USER_HZ: 100 on Linux). */
export const CLK_TCK = 100;

/** CPU time a process has used so far (fields 14 and 15 of /proc/PID/stat), or undefined when gone. */
export function processCpuSeconds(pid: number): { userSeconds: number; systemSeconds: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { userSeconds: Number(f[11]) / CLK_TCK, systemSeconds: Number(f[12]) / CLK_TCK };
  } catch {
    return undefined;
  }
}
