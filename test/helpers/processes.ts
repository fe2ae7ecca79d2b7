// Child processes for tests: node fixtures, optionally inside a namespace and with fewer
// privileges, with line-by-line output and a guaranteed kill at the end.
import { spawn, type ChildProcess } from 'node:child_process';
import { isAbsolute } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

export interface Child {
  proc: ChildProcess;
  lines: string[];
  /** Resolves with the exit code once the process has exited and all its output has been read. */
  closed: Promise<number | null>;
  /**
   * The first line (so far or to come) that matches; rejects, saying what it waited for and what
   * came, once the process has gone without printing one or after timeoutMs.
   */
  next(match: (l: string) => boolean, timeoutMs?: number): Promise<string>;
  kill(): void;
}

export function start(cmd: string, args: string[]): Child {
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: Array<{ match: (l: string) => boolean; resolve: (l: string) => void }> = [];
  let stderr = '';
  let gone: number | null | undefined;
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    lines.push(l);
    for (const w of [...waiters]) if (w.match(l)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(l); }
  });
  // 'close', not 'exit': by then every line of stdout has been read.
  const closed = new Promise<number | null>((resolve) => proc.once('close', (code) => { gone = code; resolve(code); }));
  const output = () => `output: ${lines.join(' | ')} stderr: ${stderr}`;
  return {
    proc, lines, closed,
    next(match, timeoutMs = 30000) {
      const found = lines.find(match);
      if (found !== undefined) return Promise.resolve(found);
      if (gone !== undefined) return Promise.reject(new Error(`${cmd} exited (${gone}) before printing the line awaited; ${output()}`));
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for a line of ${cmd} ${args.join(' ')}; ${output()}`)), timeoutMs);
        waiters.push({ match, resolve: (l) => { clearTimeout(t); resolve(l); } });
        void closed.then((code) => { clearTimeout(t); reject(new Error(`${cmd} exited (${code}) before printing the line awaited; ${output()}`)); });
      });
    },
    kill() { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); },
  };
}

/** The exit code once `c` has gone and its output has been read. */
export const exited = (c: Child): Promise<number | null> => c.closed;

/** Runs a node fixture (a name in test/fixtures, or a path) inside `netns`, optionally through setpriv/prlimit first. */
export function nodeInNetns(netns: string, script: string, args: string[], wrap: string[] = []): Child {
  return start('ip', ['netns', 'exec', netns, ...wrap, process.execPath, isAbsolute(script) ? script : fixture(script), ...args]);
}

export const UNPRIVILEGED = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'];
