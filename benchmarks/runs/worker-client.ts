// Starts an engine worker (benchmarks/engines/worker.ts) as a lab process and follows it: its
// stderr events (ready, window, sample with cumulative counts) as they come, and the one JSON
// result line on stdout when it ends.
import { createInterface } from 'node:readline';
import { LabError } from '../../native/errors.js';
import type { Lab } from '../lab/lab.js';
import { distPath } from '../paths.js';

export interface WorkerSpec {
  netns?: string;
  ifname: string;
  peerIfname?: string;
  engine: 'txonly' | 'rxonly' | 'io' | 'macswap';
  mode: 'native' | 'skb';
  forceCopy?: boolean;
  seconds: number;
  warmupMs: number;
  batch?: number;
  frameBytes?: number;
  flows?: number;
  cpu?: number;
  sampleMs?: number;
  srcMac?: string;
  dstMac?: string;
  /** A socket from xdplab helper, open in this process: the worker inherits it as fd 3. */
  passedFd?: number;
  ifindex?: number;
  frameCount?: number;
  ringSize?: number;
  /** txonly: stop after this many frames. */
  maxPackets?: number;
  /** XDP_MAX_TX_SKB_BUDGET on every port (0 or unset: the kernel's default). */
  txBudget?: number;
}

export interface WorkerSampleEvent { tMs: number; rx: number; tx: number; phase: 'warmup' | 'measure' }
export interface WorkerReady { mode: 'native' | 'skb'; zeroCopy: boolean }

export interface WorkerOutcome {
  ok: boolean;
  packets: number;
  rx: number;
  tx: number;
  seconds: number;
  mode?: 'native' | 'skb';
  zeroCopy?: boolean;
  stats?: Record<string, unknown>;
  /** Statistics changes inside the measured window only. */
  windowStats?: Record<string, number>;
  /** The worker's CPU time inside the measured window, in user space and in the kernel. */
  windowCpu?: { userSeconds: number; systemSeconds: number };
  error?: { code: string; message: string; hint?: string };
}

export function workerArgs(s: WorkerSpec): string[] {
  const a = [distPath('benchmarks', 'engines', 'worker.js'), '--ifname', s.ifname, '--engine', s.engine, '--mode', s.mode,
    '--seconds', String(s.seconds), '--warmup-ms', String(s.warmupMs), '--sample-ms', String(s.sampleMs ?? 1000)];
  if (s.netns) a.push('--netns', s.netns);
  if (s.peerIfname) a.push('--peer-ifname', s.peerIfname);
  if (s.forceCopy) a.push('--force-copy');
  if (s.batch) a.push('--batch', String(s.batch));
  if (s.frameBytes) a.push('--frame-bytes', String(s.frameBytes));
  if (s.flows && s.flows > 1) a.push('--flows', String(s.flows));
  if (s.cpu !== undefined) a.push('--cpu', String(s.cpu));
  if (s.srcMac) a.push('--src-mac', s.srcMac);
  if (s.dstMac) a.push('--dst-mac', s.dstMac);
  if (s.passedFd !== undefined) a.push('--sock-fds', '3', '--ifindex', String(s.ifindex));
  if (s.frameCount) a.push('--frame-count', String(s.frameCount));
  if (s.ringSize) a.push('--ring-size', String(s.ringSize));
  if (s.maxPackets !== undefined) a.push('--max-packets', String(s.maxPackets));
  if (s.txBudget) a.push('--tx-budget', String(s.txBudget));
  return a;
}

export interface RunningWorker {
  commandLine: string;
  ready: Promise<WorkerReady>;
  done: Promise<WorkerOutcome>;
  stop(): void;
}

/** Node in dist/ (under Electron, process.execPath is Electron: run it as Node). */
export function startWorker(lab: Lab, spec: WorkerSpec, onSample?: (s: WorkerSampleEvent) => void): RunningWorker {
  const args = workerArgs(spec);
  lab.recordXdp(spec.netns, spec.ifname);
  if (spec.peerIfname) lab.recordXdp(spec.netns, spec.peerIfname);
  const child = lab.spawn(undefined, process.execPath, args, {
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    ...(spec.passedFd !== undefined ? { stdio: ['ignore', 'pipe', 'pipe', spec.passedFd] } : {}),
  });
  let stdout = '';
  const errLines: string[] = [];
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  let resolveReady!: (r: WorkerReady) => void;
  let rejectReady!: (e: Error) => void;
  const ready = new Promise<WorkerReady>((res, rej) => { resolveReady = res; rejectReady = rej; });
  ready.catch(() => { /* surfaced through done */ });
  createInterface({ input: child.stderr! }).on('line', (line) => {
    let ev: Record<string, unknown> | undefined;
    try { ev = JSON.parse(line) as Record<string, unknown>; } catch { errLines.push(line); return; }
    if (ev.event === 'ready') resolveReady({ mode: ev.mode as 'native' | 'skb', zeroCopy: ev.zeroCopy as boolean });
    else if (ev.event === 'sample') onSample?.(ev as unknown as WorkerSampleEvent);
  });
  const done = new Promise<WorkerOutcome>((resolve) => {
    child.once('close', (code) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      let r: WorkerOutcome | undefined;
      try { r = JSON.parse(last) as WorkerOutcome; } catch { /* below */ }
      if (!r) {
        r = { ok: false, packets: 0, rx: 0, tx: 0, seconds: 0, error: { code: 'EWORKER', message: `engine worker exited (${code}) without a result: ${errLines.slice(-3).join(' ').slice(0, 300)}` } };
      }
      if (!r.ok) rejectReady(new LabError({ code: r.error?.code ?? 'EWORKER', message: r.error?.message ?? 'worker failed', ...(r.error?.hint ? { hint: r.error.hint } : {}) }));
      resolve(r);
    });
  });
  return {
    commandLine: ['node', ...args].join(' '),
    ready,
    done,
    stop: () => { if (child.exitCode === null) child.kill('SIGINT'); },
  };
}
