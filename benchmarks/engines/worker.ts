// A child process that runs one engine on one AF_XDP port:
//   node dist/benchmarks/engines/worker.js --netns NS --ifname IF --engine txonly|rxonly
//        --mode native|skb --seconds S --batch 64 --frame-bytes 64 [more flags: --help]
// It opens the port inside the namespace, runs the engine for a warm-up and then the measured
// window, and prints exactly one JSON line on stdout: the result, or {"ok":false,"error":...}
// (exit 1). Progress goes to stderr as JSON lines ({"event":"ready"|"window"|"sample"}), so a
// parent can line up its own measurements with the window. The port is closed on SIGINT/SIGTERM
// (the partial result is printed, exit 130/143) and on error.
import koffi from 'koffi';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { AfXdpPort, LabError, withNetns, type PortStatistics, type XskStatistics } from '../../native/index.js';
import { errnoName } from '../../native/errors.js';
import { SOL_XDP } from '../../native/afxdp/constants.js';
import { errno, libc } from '../../native/sys/libc.js';
import { ENGINE_NAMES, createEngine, isEngineName, runEngine, type EngineName } from './engine.js';

/** XDP_MAX_TX_SKB_BUDGET (linux/if_xdp.h, Linux 6.17+): frames per sendto in copy mode. */
export const XDP_MAX_TX_SKB_BUDGET = 9;
/** The kernel's default copy-mode budget per sendto (MAX_PER_SOCKET_BUDGET / TX_BATCH_SIZE). */
export const KERNEL_DEFAULT_TX_BUDGET = 32;

export interface WorkerOptions {
  netns?: string;
  ifname: string;
  /** A second interface in the same namespace: io/macswap forward between the two ports. */
  peerIfname?: string;
  flows: number;
  engine: EngineName;
  mode: 'native' | 'skb';
  forceCopy: boolean;
  seconds: number;
  warmupMs: number;
  batch: number;
  frameBytes: number;
  frameSize: 2048 | 4096;
  frameCount: number;
  ringSize: number;
  busyPollBudget: number;
  txBudget: number;
  cpu?: number;
  sampleMs: number;
  srcMac?: string;
  dstMac?: string;
  /** inhibit + sock-fds from xdplab helper: the sockets, and the ifindex and mode it attached. */
  sockFds?: string;
  ifindex?: number;
  /** txonly: stop queueing after this many frames (a fixed count, e.g. for exact checks). */
  maxPackets?: number;
}

export interface WorkerResult {
  ok: true;
  engine: EngineName;
  netns: string | null;
  ifname: string;
  modeRequested: 'native' | 'skb';
  mode: 'native' | 'skb';
  zeroCopy: boolean;
  /** Frames the engine moved in the measured window: received (rxonly) or completed (txonly). */
  packets: number;
  rx: number;
  tx: number;
  seconds: number;
  mpps: number;
  warmupSeconds: number;
  bursts: number;
  interrupted: boolean;
  cpu: number | null;
  txBudget: { requested: number; applied: boolean; error?: string };
  options: WorkerOptions;
  /** Port statistics since the port opened (drain included). */
  stats: PortStatistics;
  /** Changes of the port statistics inside the measured window (setup and warm-up excluded). */
  windowStats: Partial<Record<keyof XskStatistics, number>>;
  /**
   * CPU time this process used inside the measured window: in user space (the engine) and in
   * the kernel (system calls, and the copy-mode send path they run). The user share bounds what
   * a faster engine could gain.
   */
  windowCpu?: { userSeconds: number; systemSeconds: number };
}

function statsDelta(a: PortStatistics, b: PortStatistics): Partial<Record<keyof XskStatistics, number>> {
  const out: Partial<Record<keyof XskStatistics, number>> = {};
  for (const k of Object.keys(b) as (keyof PortStatistics)[]) {
    if (k === 'perQueue') continue;
    out[k] = b[k] - a[k];
  }
  return out;
}

export interface WorkerError { ok: false; error: { code: string; message: string; hint?: string } }

const USAGE = `usage: worker.js --ifname IF --engine txonly|rxonly [--netns NS] [--mode native|skb]
  [--seconds 5] [--warmup-ms 1000] [--batch 64] [--frame-bytes 64] [--frame-size 4096]
  [--frame-count 4096] [--ring-size 2048] [--busy-poll 0] [--tx-budget 0] [--cpu N]
  [--sample-ms 1000] [--force-copy] [--src-mac MAC] [--dst-mac MAC] [--max-packets N]
  [--sock-fds FD:FD --ifindex N]   sockets from xdplab helper (no capabilities needed)`;

function usage(message: string): never {
  throw new LabError({ code: 'EUSAGE', message, hint: USAGE });
}

function int(name: string, value: string | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) usage(`--${name}: expected an integer from ${min} to ${max}, got '${value}'`);
  return n;
}

export function parseWorkerArgs(argv: string[]): WorkerOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      netns: { type: 'string' }, ifname: { type: 'string' }, engine: { type: 'string' }, mode: { type: 'string' },
      seconds: { type: 'string' }, 'warmup-ms': { type: 'string' }, batch: { type: 'string' },
      'frame-bytes': { type: 'string' }, 'frame-size': { type: 'string' }, 'frame-count': { type: 'string' },
      'ring-size': { type: 'string' }, 'busy-poll': { type: 'string' }, 'tx-budget': { type: 'string' },
      cpu: { type: 'string' }, 'sample-ms': { type: 'string' }, 'force-copy': { type: 'boolean' },
      'src-mac': { type: 'string' }, 'dst-mac': { type: 'string' },
      'peer-ifname': { type: 'string' }, flows: { type: 'string' }, 'max-packets': { type: 'string' },
      'sock-fds': { type: 'string' }, ifindex: { type: 'string' },
    },
  });
  if (!values.ifname) usage('--ifname is required');
  const engine = values.engine ?? '';
  if (!isEngineName(engine)) usage(`--engine: expected one of ${ENGINE_NAMES.join(', ')}, got '${engine}'`);
  const mode = values.mode ?? 'native';
  if (mode !== 'native' && mode !== 'skb') usage(`--mode: expected native or skb, got '${mode}'`);
  const seconds = Number(values.seconds ?? '5');
  if (!(seconds > 0)) usage(`--seconds: expected a positive number, got '${values.seconds}'`);
  const frameSize = int('frame-size', values['frame-size'], 4096, 2048, 4096);
  if (frameSize !== 2048 && frameSize !== 4096) usage('--frame-size: expected 2048 or 4096');
  const o: WorkerOptions = {
    ifname: values.ifname,
    engine,
    mode,
    forceCopy: values['force-copy'] ?? false,
    seconds,
    warmupMs: int('warmup-ms', values['warmup-ms'], 1000, 0),
    batch: int('batch', values.batch, 64, 1, 4096),
    frameBytes: int('frame-bytes', values['frame-bytes'], 64, 60, frameSize),
    frameSize,
    frameCount: int('frame-count', values['frame-count'], 4096, 64),
    ringSize: int('ring-size', values['ring-size'], 2048, 64, 16384),
    busyPollBudget: int('busy-poll', values['busy-poll'], 0, 0, 65535),
    txBudget: int('tx-budget', values['tx-budget'], 0, 0, 16384),
    sampleMs: int('sample-ms', values['sample-ms'], 1000, 0),
    flows: int('flows', values.flows, 1, 1, 65535),
  };
  if (values['peer-ifname']) o.peerIfname = values['peer-ifname'];
  if (values.netns) o.netns = values.netns;
  if (values.cpu !== undefined) o.cpu = int('cpu', values.cpu, 0, 0, 1023);
  if (values['src-mac']) o.srcMac = values['src-mac'];
  if (values['dst-mac']) o.dstMac = values['dst-mac'];
  if ((values['sock-fds'] === undefined) !== (values.ifindex === undefined)) usage('--sock-fds and --ifindex go together');
  if (values['sock-fds'] !== undefined) { o.sockFds = values['sock-fds']; o.ifindex = int('ifindex', values.ifindex, 0, 1); }
  if (values['max-packets'] !== undefined) o.maxPackets = int('max-packets', values['max-packets'], 0, 1);
  return o;
}

/** Pins the calling thread (not the process: Node's helper threads stay where they are). */
export function pinThisThread(cpu: number): void {
  const lib = koffi.load('libc.so.6');
  const setaffinity = lib.func('int sched_setaffinity(int pid, size_t size, void *mask)');
  const mask = Buffer.alloc(128);
  mask[cpu >> 3] = 1 << (cpu & 7);
  if ((setaffinity(0, mask.length, mask) as number) !== 0) {
    throw new LabError({ code: errnoName(errno()), message: `cpu: sched_setaffinity to CPU ${cpu} failed with ${errnoName(errno())}`, field: 'cpu', hint: 'nproc lists the CPUs this process may use' });
  }
}

/** Raises the copy-mode frames-per-sendto budget; returns whether the kernel took it. */
export function setTxBudget(fd: number, budget: number): { applied: boolean; error?: string } {
  const v = Buffer.alloc(4);
  v.writeUInt32LE(budget, 0);
  if ((libc().setsockopt(fd, SOL_XDP, XDP_MAX_TX_SKB_BUDGET, v, 4) as number) === 0) return { applied: true };
  const name = errnoName(errno());
  return {
    applied: false,
    error: name === 'ENOPROTOOPT' ? 'this kernel has no XDP_MAX_TX_SKB_BUDGET (Linux 6.17+)'
      : name === 'EACCES' ? `budget ${budget} outside [32, tx ring size]` : name,
  };
}

function emit(event: Record<string, unknown>): void {
  process.stderr.write(JSON.stringify(event) + '\n');
}

export async function runWorker(o: WorkerOptions): Promise<{ result: WorkerResult; signal: NodeJS.Signals | null }> {
  if (o.cpu !== undefined) pinThisThread(o.cpu);
  const control = { stop: false };
  let signal: NodeJS.Signals | null = null;
  const onSignal = (s: NodeJS.Signals) => { signal = s; control.stop = true; };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const tuning = { frameSize: o.frameSize, frameCount: o.frameCount, ringSize: o.ringSize, busyPollBudget: o.busyPollBudget };
  const openPort = (ifname: string) => (o.sockFds
    // Sockets from xdplab helper, created in a namespace this process cannot enter.
    ? AfXdpPort.openProvided({ ifname, mode: o.mode, inhibit: true, 'sock-fds': o.sockFds, queues: o.sockFds.split(':').length, ...(o.forceCopy ? { 'force-copy': true } : {}) }, tuning, { ifindex: o.ifindex!, mode: o.mode })
    : withNetns(o.netns, () => AfXdpPort.open({ ifname, mode: o.mode, ...(o.forceCopy ? { 'force-copy': true } : {}) }, tuning)));
  const port = openPort(o.ifname);
  let peer: AfXdpPort | undefined;
  try {
    if (o.peerIfname) peer = openPort(o.peerIfname);
    let txBudget: WorkerResult['txBudget'] = { requested: o.txBudget, applied: false };
    if (o.txBudget > 0) {
      for (const q of [...port.queues, ...(peer?.queues ?? [])]) txBudget = { requested: o.txBudget, ...setTxBudget(q.fd, o.txBudget) };
    }
    const engine = createEngine(o.engine);
    engine.prepare(port, {
      batch: o.batch,
      frameBytes: o.frameBytes,
      frame: { ...(o.srcMac ? { srcMac: o.srcMac } : {}), ...(o.dstMac ? { dstMac: o.dstMac } : {}) },
      flows: o.flows,
      ...(o.maxPackets !== undefined ? { maxPackets: o.maxPackets } : {}),
      ...(peer ? { peer } : {}),
    });
    emit({ event: 'ready', pid: process.pid, mode: port.mode, zeroCopy: port.zeroCopy, txBudget });
    let atStart: PortStatistics | null = null;
    let atEnd: PortStatistics | null = null;
    let cpuAtStart: NodeJS.CpuUsage | undefined;
    let windowCpu: WorkerResult['windowCpu'];
    const r = await runEngine(port, engine, {
      warmupMs: o.warmupMs,
      durationMs: o.seconds * 1000,
      sampleMs: o.sampleMs,
      control,
      onSample: (s) => emit({ event: 'sample', ...s }),
      onWindow: (edge, tMs) => {
        // One getsockopt per queue at each edge of the window, none in between.
        if (edge === 'start') { atStart = port.stats(); cpuAtStart = process.cpuUsage(); return emit({ event: 'window', edge, tMs }); }
        atEnd = port.stats();
        const used = process.cpuUsage(cpuAtStart);
        windowCpu = { userSeconds: used.user / 1e6, systemSeconds: used.system / 1e6 };
        emit({ event: 'window', edge, tMs });
      },
    });
    engine.finish(port);
    // Let the last transmissions complete (bounded) so that the statistics are final.
    const drainEnd = performance.now() + 200;
    let quiet = 0;
    while (quiet < 50 && performance.now() < drainEnd) quiet = port.reclaim() === 0 ? quiet + 1 : 0;
    const packets = o.engine === 'rxonly' ? r.rx : r.tx;
    const stats = port.stats();
    return {
      signal,
      result: {
        ok: true, engine: o.engine, netns: o.netns ?? null, ifname: o.ifname, modeRequested: o.mode,
        mode: port.mode, zeroCopy: port.zeroCopy, packets, rx: r.rx, tx: r.tx, seconds: r.seconds,
        mpps: r.seconds > 0 ? packets / r.seconds / 1e6 : 0, warmupSeconds: r.warmupSeconds, bursts: r.bursts,
        interrupted: r.stoppedEarly, cpu: o.cpu ?? null, txBudget, options: o, stats,
        windowStats: atStart && atEnd ? statsDelta(atStart, atEnd) : {},
        ...(windowCpu ? { windowCpu } : {}),
      },
    };
  } finally {
    peer?.close();
    port.close();
  }
}

function errorJson(err: unknown): WorkerError {
  if (err instanceof LabError) return { ok: false, error: err.toJSON() };
  return { ok: false, error: { code: 'EWORKER', message: err instanceof Error ? err.message : String(err) } };
}

async function main(): Promise<void> {
  try {
    const o = parseWorkerArgs(process.argv.slice(2));
    const { result, signal } = await runWorker(o);
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exitCode = signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 0;
  } catch (err) {
    process.stdout.write(JSON.stringify(errorJson(err)) + '\n');
    process.exitCode = 1;
  }
}

// Run only as the entry point (the bench and tests import the helpers above).
function isEntryPoint(): boolean {
  try { return !!process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href; } catch { return false; }
}
if (isEntryPoint()) void main();
