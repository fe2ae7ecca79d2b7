// Where labs record what they own, and the sweep that removes what dead runs left behind.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { removeResources, type LabState } from './resources.js';

export function labStateDir(): string {
  return process.env.XDPLAB_STATE_DIR ?? (process.getuid?.() === 0 ? '/run/xdplab/labs' : join(process.env.XDG_RUNTIME_DIR ?? '/tmp', 'xdplab', 'labs'));
}

/**
 * Where the lab keeps what it measured and remembers across runs (the boot time of each QEMU),
 * inside the state dir: a directory, so the sweep (which reads the state dir's *.json files as
 * labs) never takes a cache file for a lab.
 */
export function labCacheDir(stateDir = labStateDir()): string {
  return join(stateDir, 'cache');
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

export interface Leftovers { labs: LabState[]; strayNamespaces: string[] }

/** Labs whose owner is dead, and xl- namespaces that no live lab owns. */
export function findLeftovers(): Leftovers {
  const dir = labStateDir();
  const labs: LabState[] = [];
  const owned = new Set<string>();
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      try {
        const s = JSON.parse(readFileSync(join(dir, f), 'utf8')) as LabState;
        if (alive(s.pid) && s.pid !== process.pid) {
          for (const r of s.resources) if (r.kind === 'netns') owned.add(r.name);
        } else if (s.pid !== process.pid) labs.push(s);
      } catch { /* a torn write: ignore */ }
    }
  }
  for (const s of labs) for (const r of s.resources) if (r.kind === 'netns') owned.add(r.name);
  let names: string[] = [];
  try {
    names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith('xl-'));
  } catch { /* no ip */ }
  return { labs, strayNamespaces: names.filter((n) => !owned.has(n)) };
}

/**
 * Removes leftovers; returns one line per removed thing. `beforeRemoving` sees each dead lab
 * first (to finish its run's report). Stray namespaces (xl- ones no lab file names) are
 * removed only when asked: `doctor --cleanup` does; the start of a run leaves them to it.
 */
export function cleanupLeftovers(options: { strayNamespaces?: boolean; beforeRemoving?: (lab: LabState) => string[] } = {}): string[] {
  const { labs, strayNamespaces } = findLeftovers();
  const done: string[] = [];
  for (const s of labs) {
    done.push(...(options.beforeRemoving?.(s) ?? []));
    done.push(...removeResources([...s.resources].reverse()));
    rmSync(join(labStateDir(), `${s.id}.json`), { force: true });
  }
  if (options.strayNamespaces ?? true) done.push(...removeResources(strayNamespaces.map((name) => ({ kind: 'netns' as const, name }))));
  return done;
}
