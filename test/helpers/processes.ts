// Child processes for tests: node fixtures, optionally inside a namespace and with fewer
// privileges, with line-by-line output and a guaranteed kill at the end.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

export interface Child { proc: ChildProcess; lines: string[]; next(match: (l: string) => boolean, timeoutMs?: number): Promise<string>; kill(): void }

export function start(cmd: string, args: string[]): Child {
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: Array<{ match: (l: string) => boolean; resolve: (l: string) => void }> = [];
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    lines.push(l);
    for (const w of [...waiters]) if (w.match(l)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(l); }
  });
  return {
    proc, lines,
    next(match, timeoutMs = 15000) {
      const found = lines.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for output of ${cmd} ${args.join(' ')}; got: ${lines.join(' | ')} stderr: ${stderr}`)), timeoutMs);
        waiters.push({ match, resolve: (l) => { clearTimeout(t); resolve(l); } });
        proc.once('exit', (code) => setTimeout(() => reject(new Error(`${cmd} exited (${code}); output: ${lines.join(' | ')} stderr: ${stderr}`)), 50));
      });
    },
    kill() { if (proc.exitCode === null) proc.kill('SIGKILL'); },
  };
}

/** Runs a node fixture inside `netns`, optionally through setpriv/prlimit first. */
export function nodeInNetns(netns: string, script: string, args: string[], wrap: string[] = []): Child {
  return start('ip', ['netns', 'exec', netns, ...wrap, process.execPath, fixture(script), ...args]);
}

export const UNPRIVILEGED = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'];
