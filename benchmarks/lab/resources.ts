// What a lab owns (namespaces, links, processes, XDP programs, qdiscs, files), as recorded in its state
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
  /** A root qdisc xdplab put on an interface (netem): removed only while it is still that kind. */
  | { kind: 'qdisc'; ifname: string; netns?: string; qdisc: string }
  | { kind: 'file'; path: string };

export interface LabState {
  id: string;
  pid: number;
  createdAt: string;
  resources: Resource[];
  /** The report directory of the run this lab serves, so a sweep can mark a dead run's report. */
  reportDir?: string;
}

/** The kind of an interface's root qdisc ('netem', 'noqueue', ...), or '' when it is gone. */
export function rootQdisc(netns: string | undefined, ifname: string): string {
  try {
    const out = execFileSync('tc', [...(netns ? ['-n', netns] : []), '-j', 'qdisc', 'show', 'dev', ifname, 'root'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return (JSON.parse(out) as Array<{ kind?: string }>)[0]?.kind ?? '';
  } catch {
    return '';
  }
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
      case 'qdisc':
        if (rootQdisc(r.netns, r.ifname) === r.qdisc && quiet('tc', [...(r.netns ? ['-n', r.netns] : []), 'qdisc', 'del', 'dev', r.ifname, 'root'])) done.push(`${r.qdisc} qdisc on ${r.ifname}${r.netns ? ` in ${r.netns}` : ''}`);
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
