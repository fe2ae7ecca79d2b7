// Starts an engine worker (benchmarks/engines/worker.ts) as a lab process and follows it: its
// stderr events (ready, window, sample with cumulative counts) as they come, and the one JSON
// result line on stdout when it ends.
import { createInterface } from 'node:readline';
import type { Lab } from '../lab/lab.js';
import { distPath } from '../paths.js';
import { WorkerEventSchema, WorkerResultSchema, type WorkerReady, type WorkerResult, type WorkerSampleEvent, type WorkerSpecInput } from '../contracts/worker.js';
import { LabError } from '../contracts/errors.js';

export type { WorkerSpecInput as WorkerSpec, WorkerSampleEvent };
export type WorkerOutcome = WorkerResult;

/** The worker's argv: its script and the spec as one JSON argument (parsed by the worker's schema). */
export function workerArgs(spec: WorkerSpecInput): string[] {
  return [distPath('benchmarks', 'engines', 'worker.js'), JSON.stringify(spec)];
}

const quote = (a: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

export interface RunningWorker {
  commandLine: string;
  ready: Promise<WorkerReady>;
  done: Promise<WorkerOutcome>;
  stop(): void;
}

/** Node in dist/ (under Electron, process.execPath is Electron: run it as Node). */
export function startWorker(lab: Lab, spec: WorkerSpecInput, onSample?: (s: WorkerSampleEvent) => void, passedFd?: number): RunningWorker {
  const args = workerArgs(spec);
  lab.recordXdp(spec.netns, spec.ifname);
  if (spec.peerIfname) lab.recordXdp(spec.netns, spec.peerIfname);
  const child = lab.spawn(undefined, process.execPath, args, {
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    ...(passedFd !== undefined ? { stdio: ['ignore', 'pipe', 'pipe', passedFd] } : {}),
  });
  let stdout = '';
  const errLines: string[] = [];
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  let resolveReady!: (r: WorkerReady) => void;
  let rejectReady!: (e: Error) => void;
  const ready = new Promise<WorkerReady>((res, rej) => { resolveReady = res; rejectReady = rej; });
  ready.catch(() => { /* surfaced through done */ });
  createInterface({ input: child.stderr! }).on('line', (line) => {
    const ev = parseJsonLine(line, WorkerEventSchema);
    if (!ev) { errLines.push(line); return; }
    if (ev.event === 'ready') resolveReady({ mode: ev.mode, zeroCopy: ev.zeroCopy });
    else if (ev.event === 'sample') onSample?.(ev);
  });
  const done = new Promise<WorkerOutcome>((resolve) => {
    child.once('close', (code) => {
      const r = parseJsonLine(stdout.trim().split('\n').pop() ?? '', WorkerResultSchema)
        ?? { ok: false, error: { code: 'EWORKER', message: `engine worker exited (${code}) without a result: ${errLines.slice(-3).join(' ').slice(0, 300)}` } };
      if (!r.ok) rejectReady(new LabError(r.error));
      resolve(r);
    });
  });
  return {
    commandLine: ['node', ...args].map(quote).join(' '),
    ready,
    done,
    stop: () => { if (child.exitCode === null) child.kill('SIGINT'); },
  };
}

/** One JSON line parsed with its schema; undefined for anything else (a stray log line). */
function parseJsonLine<T>(line: string, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }): T | undefined {
  let v: unknown;
  try { v = JSON.parse(line); } catch { return undefined; }
  const parsed = schema.safeParse(v);
  return parsed.success ? parsed.data : undefined;
}
