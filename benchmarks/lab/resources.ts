// What a lab owns (namespaces, links, processes, XDP programs, files), as recorded in its state
// file, and their removal: by the lab itself on close, and by the sweep after a crash.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { processStartTime } from './proc.js';
import { detachXdplabPrograms } from './xdp-leftovers.js';

export type Resource =
  | { kind: 'netns'; name: string }
  | { kind: 'link'; name: string; netns?: string }
  /** startTime (from /proc/PID/stat) tells the process from a later one that reused its pid. */
  | { kind: 'process'; pid: number; command: string; startTime?: string }
  /** An interface where xdplab (or a tool it runs) attaches XDP programs; only theirs are removed. */
  | { kind: 'xdp'; ifname: string; netns?: string }
  | { kind: 'file'; path: string };

export interface LabState {
  id: string;
  pid: number;
  createdAt: string;
  resources: Resource[];
  /** The report directory of the run this lab serves, so a sweep can mark a dead run's report. */
  reportDir?: string;
}

/** Removes resources (used by close and by doctor --cleanup); returns what it removed. */
export function removeResources(resources: Resource[]): string[] {
  const done: string[] = [];
  const quiet = (cmd: string, args: string[]) => {
    try { execFileSync(cmd, args, { stdio: 'ignore' }); return true; } catch { return false; }
  };
  for (const r of resources) {
    switch (r.kind) {
      case 'process':
        // A pid reused by an unrelated process since is not ours to kill.
        if (r.startTime && processStartTime(r.pid) !== r.startTime) break;
        try { process.kill(r.pid, 'SIGKILL'); done.push(`process ${r.pid} (${r.command.slice(0, 60)})`); } catch { /* already gone */ }
        break;
      case 'xdp':
        done.push(...detachXdplabPrograms(r.netns, r.ifname));
        break;
      case 'link':
        if (quiet('ip', [...(r.netns ? ['-n', r.netns] : []), 'link', 'del', r.name])) done.push(`link ${r.name}`);
        break;
      case 'netns':
        if (quiet('ip', ['netns', 'del', r.name])) done.push(`namespace ${r.name}`);
        break;
      case 'file':
        try { rmSync(r.path, { recursive: true, force: true }); done.push(`file ${r.path}`); } catch { /* ignore */ }
        break;
    }
  }
  return done;
}
