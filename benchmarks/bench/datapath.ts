// npm run bench:datapath -- [--seconds 5] [--pairs 5] [--rows txonly-native,rxonly-skb] [--quick]
//
// xdplab's AF_XDP datapath against dpdk-testpmd's AF_XDP PMD on one veth pair, in one run:
// raw txonly and rxonly with 64-byte frames, native and skb XDP mode. Each row alternates the
// two devices under test (A B A B ...) against the same fixed counterpart on the peer:
//   txonly rows: the DUT sends; the peer runs a 2-instruction XDP program that drops every
//                frame (the cheapest sink). Mpps = frames the drop program saw per second,
//                counted on the peer (ethtool -S xdp_drops in native mode; the veth's rx
//                packets in skb mode, where veth has no XDP counters). The row's mode is the
//                DUT's; the sink is the same in every txonly row: skb mode by default
//                (--receiver skb|native|row), because on this VM a native sink on its own CPU
//                (threaded NAPI) ran at several different speeds within one trial, and AF_XDP
//                transmit in copy mode does not depend on the sender's attach mode anyway.
//   rxonly rows: the peer runs a fixed generator (xdplab txonly by default, --generator
//                testpmd for testpmd's txonly); the DUT receives. Mpps = what the DUT counted
//                over its measured window.
// Pinning (2 cores): the DUT's busy-polling thread is on CPU 1 (xdplab: the worker pins its
// main JS thread; testpmd: -l 0,1 --main-lcore 0, so its forwarding lcore is CPU 1 and its
// main lcore, which sleeps between statistics, CPU 0); the counterpart is on CPU 0: the
// generator's polling thread, and in txonly rows the peer's kernel work (veth runs the peer's
// XDP in the sender's softirq by default; threaded NAPI pinned to CPU 0, or RPS to CPU 0 in skb
// mode, moves it off the DUT's CPU). A shared machine: each trial waits for other processes to
// go quiet, records the CPU they used in its window, and a disturbed pair is run again.
// Per-trial results, medians and per-pair ratios go to benchmarks/results/datapath-<ISO date>.json.
import { execFile, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import cliProgress from 'cli-progress';
import { LabError, XskProgram, describeError, queryXdp, withNetns } from '../../native/index.js';
import { ifNameToIndex } from '../../native/sys/libc.js';
import { programName } from '../../native/xdp/libxdp.js';
import { XdpDropProgram } from '../../native/xdp/drop-program.js';
import type { WorkerResult } from '../engines/worker.js';
import { Lab } from '../lab/lab.js';
import { placeReceiveWork, type ReceivePlacement } from '../lab/receive-work.js';
import { otherCpu, procTimes, waitForQuiet, type OtherCpu } from './quiet-machine.js';
import { Testpmd, findTestpmd, rateFromSamples, type TestpmdSample } from '../tools/testpmd.js';

const execFileAsync = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const WORKER = join(here, '..', 'engines', 'worker.js');
const REPO = resolve(here, '..', '..', '..');

export const ROWS = ['txonly-native', 'txonly-skb', 'rxonly-native', 'rxonly-skb'] as const;
export type RowName = (typeof ROWS)[number];
type Mode = 'native' | 'skb';
type Side = 'xdplab' | 'testpmd';

const DUT_CPU = 1;
/** The fixed counterpart's CPU: the generator, and the drop program's kernel work. */
const GENERATOR_CPU = 0;

interface Settings {
  seconds: number;
  warmupMs: number;
  pairs: number;
  rows: RowName[];
  batch: number;
  frameBytes: number;
  txBudget: number;
  ringSize: number;
  /** UMEM frames per queue: half may sit on the fill ring (4096 = the fill ring of a 2048 ring). */
  frameCount: number;
  busyPoll: number;
  maxOtherCpu: number;
  retries: number;
  /** Before each trial, wait up to this long for the machine to be quiet. */
  quietWaitMs: number;
  generator: Side;
  /** The drop program's mode in txonly rows: one fixed mode for every row, or the row's. */
  receiver: Mode | 'row';
  outDir: string;
}

function receiverMode(s: Settings, rowMode: Mode): Mode {
  return s.receiver === 'row' ? rowMode : s.receiver;
}

function usageError(message: string): never {
  throw new LabError({ code: 'EUSAGE', message, hint: 'flags: --seconds N --pairs N --rows txonly-native,txonly-skb,rxonly-native,rxonly-skb --quick --batch N --tx-budget N --ring-size N --frame-count N --busy-poll N --max-other-cpu CPUS --retries N --quiet-wait-ms N --warmup-ms N --generator xdplab|testpmd --receiver skb|native|row --out DIR' });
}

function parseSettings(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      seconds: { type: 'string' }, pairs: { type: 'string' }, rows: { type: 'string' }, quick: { type: 'boolean' },
      batch: { type: 'string' }, 'frame-bytes': { type: 'string' }, 'tx-budget': { type: 'string' },
      'ring-size': { type: 'string' }, 'frame-count': { type: 'string' }, 'busy-poll': { type: 'string' }, 'max-other-cpu': { type: 'string' }, retries: { type: 'string' }, 'quiet-wait-ms': { type: 'string' }, 'warmup-ms': { type: 'string' }, generator: { type: 'string' }, receiver: { type: 'string' }, out: { type: 'string' },
    },
  });
  const quick = values.quick ?? false;
  const n = (name: string, v: string | undefined, d: number, min: number): number => {
    if (v === undefined) return d;
    const x = Number(v);
    if (!Number.isFinite(x) || x < min) usageError(`--${name}: expected a number >= ${min}, got '${v}'`);
    return x;
  };
  const rows = (values.rows ?? ROWS.join(',')).split(',').map((r) => r.trim()).filter(Boolean);
  for (const r of rows) if (!(ROWS as readonly string[]).includes(r)) usageError(`--rows: unknown row '${r}' (rows: ${ROWS.join(', ')})`);
  const generator = values.generator ?? 'xdplab';
  if (generator !== 'xdplab' && generator !== 'testpmd') usageError(`--generator: expected xdplab or testpmd, got '${generator}'`);
  const receiver = values.receiver ?? 'skb';
  if (receiver !== 'skb' && receiver !== 'native' && receiver !== 'row') usageError(`--receiver: expected skb, native or row, got '${receiver}'`);
  return {
    seconds: n('seconds', values.seconds, quick ? 2 : 5, 0.5),
    warmupMs: n('warmup-ms', values['warmup-ms'], 1000, 0),
    pairs: Math.floor(n('pairs', values.pairs, quick ? 1 : 5, 1)),
    rows: rows as RowName[],
    batch: Math.floor(n('batch', values.batch, 256, 1)),
    frameBytes: Math.floor(n('frame-bytes', values['frame-bytes'], 64, 60)),
    txBudget: Math.floor(n('tx-budget', values['tx-budget'], 256, 0)),
    ringSize: Math.floor(n('ring-size', values['ring-size'], 2048, 64)),
    frameCount: Math.floor(n('frame-count', values['frame-count'], 8192, 64)),
    busyPoll: Math.floor(n('busy-poll', values['busy-poll'], 0, 0)),
    maxOtherCpu: n('max-other-cpu', values['max-other-cpu'], 0.1, 0),
    retries: Math.floor(n('retries', values.retries, 3, 0)),
    quietWaitMs: n('quiet-wait-ms', values['quiet-wait-ms'], 120_000, 0),
    generator,
    receiver,
    outDir: values.out ?? join(REPO, 'benchmarks', 'results'),
  };
}

// ---------------------------------------------------------------------------------------------
// Counters on the peer (what arrived), read with ethtool -S and ip -s link.

interface RxCounters { atMs: number; xdpDrops: number; xdpPackets: number; rxPackets: number; rxDropped: number }

async function readRxCounters(netns: string, ifname: string): Promise<RxCounters> {
  const t0 = performance.now();
  const [eth, link] = await Promise.all([
    execFileAsync('ip', ['netns', 'exec', netns, 'ethtool', '-S', ifname]),
    execFileAsync('ip', ['-n', netns, '-s', '-j', 'link', 'show', 'dev', ifname]),
  ]);
  const t1 = performance.now();
  let xdpDrops = 0;
  let xdpPackets = 0;
  for (const m of eth.stdout.matchAll(/rx_queue_\d+_xdp_(drops|packets):\s*(\d+)/g)) {
    if (m[1] === 'drops') xdpDrops += Number(m[2]); else xdpPackets += Number(m[2]);
  }
  const l = (JSON.parse(link.stdout) as Array<{ stats64?: { rx?: { packets?: number; dropped?: number } } }>)[0];
  return { atMs: (t0 + t1) / 2, xdpDrops, xdpPackets, rxPackets: l?.stats64?.rx?.packets ?? NaN, rxDropped: l?.stats64?.rx?.dropped ?? NaN };
}

interface Arrived { frames: number; seconds: number; mpps: number; counter: string; rxDropped: number }

function arrivedBetween(a: RxCounters, b: RxCounters, mode: Mode): Arrived {
  const frames = mode === 'native' ? b.xdpDrops - a.xdpDrops : b.rxPackets - a.rxPackets;
  const seconds = (b.atMs - a.atMs) / 1000;
  return {
    frames, seconds, mpps: frames / seconds / 1e6,
    counter: mode === 'native' ? 'ethtool -S rx_queue_*_xdp_drops' : 'ip -s link rx packets (generic XDP has no veth counter)',
    rxDropped: b.rxDropped - a.rxDropped,
  };
}

// ---------------------------------------------------------------------------------------------
// What is attached to the DUT's interface.

interface Attached { mode: 'none' | 'native' | 'skb' | 'hw' | 'multi'; programId: number; programName: string }

function attachedXdp(netns: string, ifname: string): Attached {
  return withNetns(netns, () => {
    const ifindex = ifNameToIndex(ifname);
    const q = queryXdp(ifindex);
    const id = q.drvProgId || q.skbProgId || q.hwProgId;
    return { mode: q.mode, programId: id, programName: id ? programName(id) : '' };
  });
}

function assertNothingAttached(netns: string, ifname: string, when: string): void {
  const a = attachedXdp(netns, ifname);
  if (a.mode !== 'none') {
    throw new LabError({ code: 'ELEFTOVER', message: `${when}: '${ifname}' still has XDP program ${a.programId} '${a.programName}' (${a.mode}) attached`, hint: 'a previous trial did not detach its program' });
  }
}

// ---------------------------------------------------------------------------------------------
// The xdplab worker as a child process.

interface WorkerEvent { event: string; edge?: string; tMs?: number; rx?: number; tx?: number; phase?: string; mode?: string }

class WorkerProcess {
  readonly commandLine: string;
  readonly child: ChildProcess;
  readonly events: Array<WorkerEvent & { atMs: number }> = [];
  private stdout = '';
  private readonly stderrTail: string[] = [];
  private listeners: Array<(e: WorkerEvent & { atMs: number }) => void> = [];
  readonly exited: Promise<number | null>;

  constructor(lab: Lab, netns: string, args: string[]) {
    const full = [WORKER, '--netns', netns, ...args];
    this.commandLine = ['ip', 'netns', 'exec', netns, process.execPath, ...full].join(' ');
    this.child = lab.spawn(netns, process.execPath, full);
    this.child.stdout!.on('data', (d: Buffer) => { this.stdout += d.toString(); });
    createInterface({ input: this.child.stderr! }).on('line', (line) => {
      const atMs = performance.now();
      if (line.startsWith('{')) {
        try {
          const e = { ...(JSON.parse(line) as WorkerEvent), atMs };
          this.events.push(e);
          for (const f of this.listeners) f(e);
          return;
        } catch { /* not an event */ }
      }
      this.stderrTail.push(line);
      if (this.stderrTail.length > 30) this.stderrTail.shift();
    });
    this.exited = new Promise((res) => this.child.once('exit', (code) => res(code)));
  }

  /** Resolves with the first event matching `pred` (past or future), or rejects on exit/timeout. */
  waitFor(pred: (e: WorkerEvent) => boolean, timeoutMs: number): Promise<WorkerEvent & { atMs: number }> {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((res, rej) => {
      const t = setTimeout(() => { done(); rej(new LabError({ code: 'ETIMEDOUT', message: `xdplab worker: no expected event within ${timeoutMs} ms`, hint: this.stderrTail.join('\n') })); }, timeoutMs);
      const onEvent = (e: WorkerEvent & { atMs: number }) => { if (pred(e)) { done(); res(e); } };
      const done = () => { clearTimeout(t); this.listeners = this.listeners.filter((f) => f !== onEvent); };
      this.listeners.push(onEvent);
      void this.exited.then(() => { if (this.listeners.includes(onEvent)) { done(); rej(this.failure('exited before the expected event')); } });
    });
  }

  failure(what: string): LabError {
    const res = this.resultOrError();
    const msg = res && !res.ok ? `${res.error.message}${res.error.hint ? ` (${res.error.hint})` : ''}` : this.stderrTail.join('\n');
    return new LabError({ code: 'EWORKER', message: `xdplab worker ${what}: ${msg}`, hint: this.commandLine });
  }

  resultOrError(): WorkerResult | { ok: false; error: { message: string; hint?: string } } | null {
    const line = this.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
    if (!line) return null;
    try { return JSON.parse(line) as WorkerResult; } catch { return null; }
  }

  async result(timeoutMs: number): Promise<WorkerResult> {
    const t = setTimeout(() => this.child.kill('SIGINT'), timeoutMs);
    await this.exited;
    clearTimeout(t);
    const r = this.resultOrError();
    if (!r || !r.ok) throw this.failure('failed');
    return r;
  }

  async stop(timeoutMs = 10_000): Promise<WorkerResult> {
    if (this.child.exitCode === null) this.child.kill('SIGINT');
    const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(t);
    const r = this.resultOrError();
    if (!r || !r.ok) throw this.failure('failed');
    return r;
  }
}

// ---------------------------------------------------------------------------------------------
// Trials.

interface Topology { lab: Lab; dutNs: string; dutIf: string; peerNs: string; peerIf: string; dutMac: string; peerMac: string }

export interface Trial {
  row: RowName;
  pair: number;
  side: Side;
  /** The figure compared: arrived Mpps (txonly) or received Mpps (rxonly). */
  mpps: number;
  /** What the DUT itself says it moved (txonly: sent; rxonly: received). */
  claimedMpps: number;
  windowSeconds: number;
  attached: Attached;
  zeroCopy: boolean | null;
  commandLine: string;
  /** txonly: frames the peer saw vs frames the DUT says it sent in the window. */
  arrived?: Arrived & { claimedFrames: number };
  /** rxonly: generator's offered load and the DUT's receive drops in the window. */
  offeredMpps?: number | null;
  rxDropped?: number;
  /** /proc/loadavg before and after the trial: other work on the machine shows up here. */
  loadavg?: { before: string; after: string };
  /** CPU used by processes outside the benchmark during the measured window. */
  otherCpu?: OtherCpu;
  attempt?: number;
  /** How long the bench waited for other processes to go quiet before the trial. */
  quietWaitMs?: number;
  /** The pair had other load above --max-other-cpu: retried; not counted unless it was the last attempt. */
  disturbed?: boolean;
  counted?: boolean;
  raw: unknown;
}

function loadavg(): string {
  return readFileSync('/proc/loadavg', 'utf8').trim();
}

function frameAddresses(t: Topology): string[] {
  return ['--src-mac', t.dutMac, '--dst-mac', t.peerMac];
}

async function xdplabTrial(t: Topology, s: Settings, row: RowName, pair: number, gen: Generator | null): Promise<Trial> {
  const [engine, mode] = row.split('-') as ['txonly' | 'rxonly', Mode];
  const args = [
    '--ifname', t.dutIf, '--engine', engine, '--mode', mode, '--seconds', String(s.seconds), '--warmup-ms', String(s.warmupMs),
    '--batch', String(s.batch), '--frame-bytes', String(s.frameBytes), '--ring-size', String(s.ringSize), '--frame-count', String(s.frameCount),
    '--cpu', String(DUT_CPU), '--sample-ms', '1000',
    ...(engine === 'txonly' && s.txBudget > 0 ? ['--tx-budget', String(s.txBudget)] : []),
    ...(engine === 'rxonly' && s.busyPoll > 0 ? ['--busy-poll', String(s.busyPoll)] : []),
    ...(engine === 'txonly' ? frameAddresses(t) : []),
  ];
  const w = new WorkerProcess(t.lab, t.dutNs, args);
  try {
    await w.waitFor((e) => e.event === 'ready', 30_000);
    const attached = attachedXdp(t.dutNs, t.dutIf);
    const start = await w.waitFor((e) => e.event === 'window' && e.edge === 'start', 30_000);
    const p0 = procTimes();
    const c0 = engine === 'txonly' ? await readRxCounters(t.peerNs, t.peerIf) : null;
    const end = await w.waitFor((e) => e.event === 'window' && e.edge === 'end', (s.seconds + 30) * 1000);
    const p1 = procTimes();
    const c1 = engine === 'txonly' ? await readRxCounters(t.peerNs, t.peerIf) : null;
    const other = otherCpu(p0, p1, new Set([process.pid, w.child.pid ?? -1, gen?.pid ?? -1]));
    const r = await w.result(15_000);
    const base = {
      row, pair, side: 'xdplab' as const, claimedMpps: r.mpps, windowSeconds: r.seconds, attached,
      zeroCopy: r.zeroCopy, commandLine: w.commandLine, otherCpu: other,
    };
    if (engine === 'txonly') {
      const arrived = arrivedBetween(c0!, c1!, receiverMode(s, mode));
      const { options: _o, ...raw } = r;
      return { ...base, mpps: arrived.mpps, arrived: { ...arrived, claimedFrames: r.tx }, raw };
    }
    const offered = gen ? gen.rateBetween(start.atMs, end.atMs) : null;
    const { options: _o, ...raw } = r;
    return { ...base, mpps: r.mpps, offeredMpps: offered, rxDropped: r.windowStats.rxDropped ?? NaN, raw };
  } catch (err) {
    w.child.kill('SIGKILL');
    await w.exited;
    throw err;
  }
}

async function testpmdTrial(t: Topology, s: Settings, row: RowName, pair: number, gen: Generator | null, prefix: string): Promise<Trial> {
  const [engine, mode] = row.split('-') as ['txonly' | 'rxonly', Mode];
  // testpmd's PMD has no attach-mode devarg and attaches natively on veth. For skb rows, attach
  // libxdp's default XSK program (the one xdplab's port attaches) in skb mode first: libxdp in
  // testpmd finds xsk_def_prog on the interface and adds its socket to that program's XSKMAP.
  const preattached = mode === 'skb'
    ? withNetns(t.dutNs, () => XskProgram.attach(t.dutIf, ifNameToIndex(t.dutIf), 'skb', 0))
    : null;
  const tp = new Testpmd({
    netns: t.dutNs, ifname: t.dutIf, forwardMode: engine, filePrefix: prefix, lcores: [0, 1], mainLcore: 0,
    ...(engine === 'txonly' ? { txpkts: s.frameBytes } : {}),
  });
  try {
    await tp.start(t.lab);
    const attached = attachedXdp(t.dutNs, t.dutIf);
    if (attached.mode !== mode || (preattached && attached.programId !== preattached.id)) {
      throw new LabError({ code: 'EMODE', message: `testpmd ${row}: expected an XSK program in ${mode} mode on '${t.dutIf}', found ${attached.mode} (${attached.programName || 'none'} id ${attached.programId})` });
    }
    // start() returned at the first statistics block after forwarding began: warm up from there.
    await new Promise((r) => setTimeout(r, s.warmupMs));
    const sA = await tp.sampleAfter(performance.now(), 10_000);
    if (!sA) throw new LabError({ code: 'ETESTPMD', message: 'testpmd: no statistics after warm-up', hint: tp.tail() });
    const p0 = procTimes();
    const c0 = engine === 'txonly' ? await readRxCounters(t.peerNs, t.peerIf) : null;
    let sB: TestpmdSample | null = sA;
    while (sB && sB.atMs < sA.atMs + s.seconds * 1000 - 300) sB = await tp.sampleAfter(sB.atMs, 10_000);
    if (!sB) throw new LabError({ code: 'ETESTPMD', message: 'testpmd: statistics stopped', hint: tp.tail() });
    const p1 = procTimes();
    const c1 = engine === 'txonly' ? await readRxCounters(t.peerNs, t.peerIf) : null;
    const other = otherCpu(p0, p1, new Set([process.pid, tp.pid ?? -1, gen?.pid ?? -1]));
    const res = await tp.stop();
    const seconds = (sB.atMs - sA.atMs) / 1000;
    const base = {
      row, pair, side: 'testpmd' as const, windowSeconds: seconds, attached, zeroCopy: null, commandLine: tp.commandLine,
      otherCpu: other,
    };
    const raw = { window: { from: sA, to: sB }, accumulated: res.accumulated, exitCode: res.exitCode, signal: res.signal, preattachedProgramId: preattached?.id ?? null };
    if (engine === 'txonly') {
      const claimedFrames = sB.txPackets - sA.txPackets;
      const arrived = arrivedBetween(c0!, c1!, receiverMode(s, mode));
      return { ...base, mpps: arrived.mpps, claimedMpps: claimedFrames / seconds / 1e6, arrived: { ...arrived, claimedFrames }, raw };
    }
    const rx = sB.rxPackets - sA.rxPackets;
    return {
      ...base, mpps: rx / seconds / 1e6, claimedMpps: rx / seconds / 1e6,
      offeredMpps: gen ? gen.rateBetween(sA.atMs, sB.atMs) : null, rxDropped: sB.rxMissed - sA.rxMissed, raw,
    };
  } finally {
    await tp.stop();
    // XskProgram.detach queries the interface in the calling thread's namespace.
    if (preattached) withNetns(t.dutNs, () => preattached.detach());
  }
}

// ---------------------------------------------------------------------------------------------
// The fixed generator for rxonly rows.

interface Generator { commandLine: string; pid: number | undefined; rateBetween(fromMs: number, toMs: number): number | null; stop(): Promise<unknown> }

async function startGenerator(t: Topology, s: Settings, prefix: string): Promise<Generator> {
  if (s.generator === 'testpmd') {
    const tp = new Testpmd({ netns: t.peerNs, ifname: t.peerIf, forwardMode: 'txonly', filePrefix: prefix, lcores: [0, 1], mainLcore: 1, vdevIndex: 1, txpkts: s.frameBytes });
    await tp.start(t.lab);
    return {
      commandLine: tp.commandLine,
      pid: tp.pid,
      rateBetween: (a, b) => { const r = rateFromSamples(tp.samples, (x) => x.txPackets, a - 2100, b + 2100); return r ? r.pps / 1e6 : null; },
      stop: () => tp.stop(),
    };
  }
  const w = new WorkerProcess(t.lab, t.peerNs, [
    '--ifname', t.peerIf, '--engine', 'txonly', '--mode', 'native', '--seconds', '86400', '--warmup-ms', '0',
    '--batch', String(s.batch), '--frame-bytes', String(s.frameBytes), '--ring-size', String(s.ringSize), '--frame-count', String(s.frameCount),
    '--cpu', String(GENERATOR_CPU), '--sample-ms', '500', '--src-mac', t.peerMac, '--dst-mac', t.dutMac,
    ...(s.txBudget > 0 ? ['--tx-budget', String(s.txBudget)] : []),
  ]);
  await w.waitFor((e) => e.event === 'ready', 30_000);
  return {
    commandLine: w.commandLine,
    pid: w.child.pid,
    rateBetween: (a, b) => {
      const samples = w.events.filter((e) => e.event === 'sample').map((e) => ({ atMs: e.atMs, tx: e.tx ?? 0 }));
      const r = rateFromSamples(samples, (x) => x.tx, a - 600, b + 600);
      return r ? r.pps / 1e6 : null;
    },
    stop: () => w.stop(),
  };
}

// ---------------------------------------------------------------------------------------------
// Statistics and output.

export function median(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

export interface RowSummary {
  row: RowName;
  xdplabMpps: number;
  testpmdMpps: number;
  /** Median over pairs of xdplab/testpmd (each pair measured back to back). */
  ratio: number;
  pairRatios: number[];
  xdplabClaimedMpps: number;
  testpmdClaimedMpps: number;
  /** txonly: median share of claimed-sent frames that arrived at the peer. */
  xdplabArrivedShare?: number;
  testpmdArrivedShare?: number;
  offeredMpps?: number;
  /** Pairs run again because other processes used the CPU during them (see notes). */
  disturbedAttempts: number;
  goal: number;
  goalMet: boolean;
}

const GOAL = 1.1;

function summarize(row: RowName, all: Trial[]): RowSummary {
  const trials = all.filter((x) => x.counted !== false);
  const of = (side: Side) => trials.filter((x) => x.side === side);
  const pairs = [...new Set(trials.map((x) => x.pair))];
  const pairRatios = pairs.map((p) => {
    const a = trials.find((x) => x.pair === p && x.side === 'xdplab');
    const b = trials.find((x) => x.pair === p && x.side === 'testpmd');
    return a && b ? a.mpps / b.mpps : NaN;
  }).filter(Number.isFinite);
  const ratio = median(pairRatios);
  const share = (side: Side) => median(of(side).map((x) => (x.arrived ? x.arrived.frames / x.arrived.claimedFrames : NaN)));
  const offered = median(trials.map((x) => x.offeredMpps ?? NaN));
  return {
    row,
    xdplabMpps: median(of('xdplab').map((x) => x.mpps)),
    testpmdMpps: median(of('testpmd').map((x) => x.mpps)),
    ratio, pairRatios,
    xdplabClaimedMpps: median(of('xdplab').map((x) => x.claimedMpps)),
    testpmdClaimedMpps: median(of('testpmd').map((x) => x.claimedMpps)),
    ...(row.startsWith('txonly') ? { xdplabArrivedShare: share('xdplab'), testpmdArrivedShare: share('testpmd') } : {}),
    ...(Number.isFinite(offered) ? { offeredMpps: offered } : {}),
    disturbedAttempts: all.filter((x) => x.disturbed && x.side === 'xdplab').length,
    goal: GOAL,
    goalMet: ratio >= GOAL,
  };
}

function table(rows: RowSummary[]): string {
  const head = ['row', 'xdplab Mpps', 'testpmd Mpps', 'ratio (median)', 'pair ratios', 'sent Mpps x/t', 'arrived/sent x/t', 'offered Mpps', 'retried', `>= ${GOAL}x`];
  const f = (x: number | undefined, d = 3) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));
  const body = rows.map((r) => [
    r.row, f(r.xdplabMpps), f(r.testpmdMpps), f(r.ratio), r.pairRatios.map((x) => x.toFixed(2)).join(' '),
    `${f(r.xdplabClaimedMpps)} / ${f(r.testpmdClaimedMpps)}`,
    r.xdplabArrivedShare === undefined ? '-' : `${f(r.xdplabArrivedShare, 4)} / ${f(r.testpmdArrivedShare, 4)}`,
    f(r.offeredMpps), String(r.disturbedAttempts), r.goalMet ? 'yes' : 'no',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function machine(): Record<string, unknown> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1]?.trim() ?? 'unknown';
  const q = (cmd: string, args: string[]) => { try { return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { return null; } };
  return {
    kernel: release(),
    kernelVersion: q('uname', ['-v']),
    cpuModel: model,
    cores: cpus().length,
    node: process.version,
    dpdk: q('dpkg-query', ['-W', '-f=${Version}', 'dpdk']),
    libxdp: q('dpkg-query', ['-W', '-f=${Version}', 'libxdp1']),
    libbpf: q('dpkg-query', ['-W', '-f=${Version}', 'libbpf1']),
    gitCommit: q('git', ['-C', REPO, 'rev-parse', 'HEAD']),
  };
}

function macOf(lab: Lab, netns: string, ifname: string): string {
  const j = JSON.parse(lab.ip(netns, ['-j', 'link', 'show', 'dev', ifname])) as Array<{ address: string }>;
  return j[0]!.address;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  let s: Settings;
  try {
    s = parseSettings(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench:datapath: ${describeError(err)}\n`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench:datapath: needs root (network namespaces, veth pairs, XDP programs and AF_XDP sockets); run it with sudo\n');
    return 1;
  }
  if (!findTestpmd()) {
    process.stderr.write('bench:datapath: dpdk-testpmd is not installed (Debian: apt-get install dpdk librte-net-af-xdp23); it is the reference this benchmark compares against\n');
    return 1;
  }
  const startedAt = new Date();
  const lab = new Lab('datapath');
  const trials: Trial[] = [];
  const commandLines: Record<string, string[]> = {};
  const notes: string[] = [];
  const placements: Record<string, ReceivePlacement> = {};
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: 'datapath {bar} {value}/{total} trials | {row} pair {pair} {side} {last}',
    hideCursor: true,
  }, cliProgress.Presets.shades_classic);
  let prefixCounter = 0;
  const prefix = () => `${lab.name('')}p${prefixCounter++}`;
  let exitCode = 0;
  let topology: Record<string, string> | undefined;
  try {
    const dutNs = lab.addNetns('a');
    const peerNs = lab.addNetns('b');
    for (const ns of [dutNs, peerNs]) {
      // No IPv6 autoconfiguration chatter on the pair: every frame on it is the benchmark's.
      lab.exec(ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    }
    const [dutIf, peerIf] = lab.addVethPair({ netns: dutNs, suffix: 'a' }, { netns: peerNs, suffix: 'b' });
    for (const [ns, i] of [[dutNs, dutIf], [peerNs, peerIf]] as const) lab.exec(ns, 'sysctl', ['-q', '-w', `net.ipv6.conf.${i}.disable_ipv6=1`]);
    const t: Topology = { lab, dutNs, dutIf, peerNs, peerIf, dutMac: macOf(lab, dutNs, dutIf), peerMac: macOf(lab, peerNs, peerIf) };
    topology = { link: 'veth pair', dutNetns: dutNs, dutInterface: dutIf, dutMac: t.dutMac, peerNetns: peerNs, peerInterface: peerIf, peerMac: t.peerMac };
    bar.start(s.rows.length * s.pairs * 2, 0, { row: '', pair: '', side: '', last: '' });
    for (const row of s.rows) {
      const [engine, mode] = row.split('-') as ['txonly' | 'rxonly', Mode];
      let drop: XdpDropProgram | null = null;
      let gen: Generator | null = null;
      let restorePlacement: (() => void) | null = null;
      try {
        if (engine === 'txonly') {
          const rmode = receiverMode(s, mode);
          drop = withNetns(peerNs, () => XdpDropProgram.attachTo(peerIf, rmode));
          const placed = await placeReceiveWork(lab, peerNs, peerIf, rmode, GENERATOR_CPU);
          restorePlacement = placed.restore;
          placements[row] = placed.placement;
          if (placed.placement.warning) notes.push(`${row}: ${placed.placement.warning}`);
        } else {
          gen = await startGenerator(t, s, prefix());
          (commandLines['generator'] ??= []).push(gen.commandLine);
          await new Promise((r) => setTimeout(r, 500));
        }
        for (let pair = 1; pair <= s.pairs; pair++) {
          for (let attempt = 0; attempt <= s.retries; attempt++) {
            const both: Trial[] = [];
            for (const side of ['xdplab', 'testpmd'] as const) {
              bar.update({ row, pair, side, last: 'waiting for a quiet machine' });
              const quiet = await waitForQuiet(s.maxOtherCpu, new Set([process.pid, gen?.pid ?? -1]), s.quietWaitMs);
              bar.update({ last: '' });
              assertNothingAttached(dutNs, dutIf, `before ${side} ${row}`);
              const before = loadavg();
              const trial = side === 'xdplab'
                ? await xdplabTrial(t, s, row, pair, gen)
                : await testpmdTrial(t, s, row, pair, gen, prefix());
              assertNothingAttached(dutNs, dutIf, `after ${side} ${row}`);
              trial.loadavg = { before, after: loadavg() };
              trial.attempt = attempt;
              trial.quietWaitMs = Math.round(quiet.waitedMs);
              both.push(trial);
              const cl = (commandLines[`${side} ${row}`] ??= []);
              if (!cl.includes(trial.commandLine)) cl.push(trial.commandLine);
              bar.increment(1, { last: `${trial.mpps.toFixed(3)} Mpps` });
            }
            const worst = Math.max(...both.map((x) => x.otherCpu?.cpus ?? 0));
            const disturbed = worst > s.maxOtherCpu;
            const last = attempt === s.retries;
            for (const x of both) { x.disturbed = disturbed; x.counted = !disturbed || last; trials.push(x); }
            if (!disturbed) break;
            const who = both.flatMap((x) => x.otherCpu?.top ?? []).map((u) => `${u.comm}[${u.pid}] ${u.cpus.toFixed(2)}`).join(', ');
            notes.push(`${row} pair ${pair} attempt ${attempt + 1}: other processes used ${worst.toFixed(2)} CPU (${who})${last ? '; kept, no retries left' : '; retried'}`);
            if (!last) bar.setTotal(bar.getTotal() + 2);
          }
        }
      } finally {
        if (gen) await gen.stop().catch((e: unknown) => notes.push(`generator stop: ${describeError(e)}`));
        restorePlacement?.();
        if (drop) {
          if (!drop.isAttached()) notes.push(`${row}: the drop program was no longer attached at the end of the row`);
          drop.detach();
        }
      }
    }
    bar.stop();
  } catch (err) {
    bar.stop();
    process.stderr.write(`bench:datapath: ${describeError(err)}\n`);
    exitCode = 1;
  } finally {
    lab.close();
  }
  const summaries = s.rows.map((r) => summarize(r, trials.filter((x) => x.row === r))).filter((r) => Number.isFinite(r.xdplabMpps) || Number.isFinite(r.testpmdMpps));
  if (summaries.length) {
    process.stdout.write(`\n${table(summaries)}\n\n`);
    process.stdout.write('Mpps: txonly = frames the peer\'s XDP drop program saw per second; rxonly = frames the DUT received per second.\n');
    process.stdout.write('ratio = median over pairs of xdplab/testpmd, each pair run back to back on the same veth pair.\n');
    process.stdout.write(`sent = what the DUT says it sent (txonly) or received (rxonly); offered = the generator's rate; retried = pairs rerun because other processes used > ${s.maxOtherCpu} CPU.\n`);
    process.stdout.write(`pinning: DUT busy-poll thread on CPU ${DUT_CPU} (testpmd: forwarding lcore 1, main lcore 0), generator on CPU ${GENERATOR_CPU}; xdplab: batch ${s.batch}, XDP_MAX_TX_SKB_BUDGET ${s.txBudget || 'kernel default (32)'}, ring ${s.ringSize}, ${s.frameCount} UMEM frames.\n`);
  }
  const report = {
    schema: 'xdplab.bench.datapath/1',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    complete: exitCode === 0,
    machine: machine(),
    settings: { ...s, frameBytesNote: 'bytes handed to the device, no FCS (testpmd --txpkts)' },
    pinning: {
      dut: `CPU ${DUT_CPU}: xdplab worker pins its main JS thread (sched_setaffinity on the thread; Node's helper threads unpinned); testpmd -l 0,1 --main-lcore 0 puts its forwarding lcore on CPU 1 and its main lcore (statistics, sleeps) on CPU 0`,
      generator: s.generator === 'xdplab' ? `xdplab txonly worker, main JS thread on CPU ${GENERATOR_CPU}` : 'testpmd -l 0,1 --main-lcore 1: forwarding lcore on CPU 0',
      txonlyReceiver: `the peer's drop program (${s.receiver === 'row' ? 'in the row\'s mode' : `${s.receiver} mode in every txonly row`}) runs on CPU ${GENERATOR_CPU}, not in the DUT's softirq: RPS to CPU ${GENERATOR_CPU} (skb), threaded NAPI with the kthread pinned at SCHED_FIFO (native)`,
      rxonlyKernelWork: `default veth behaviour: the DUT interface's XDP (redirect into the XSK and copy into its UMEM) runs in softirq on the sending CPU (${GENERATOR_CPU}), so the DUT's CPU only runs the DUT`,
      placements,
    },
    method: {
      order: 'per row: pairs of (xdplab, testpmd) back to back: A B A B ...',
      txonly: 'DUT sends 64-byte UDP frames; the peer drops them in XDP (on the other CPU). mpps = frames the peer counted (native: ethtool -S rx_queue_*_xdp_drops; skb: ip -s link rx packets) between two reads taken at the start and end of the DUT\'s measured window; claimedMpps = what the DUT says it sent (xdplab: completions; testpmd: TX-packets).',
      rxonly: `the peer runs a fixed generator (${s.generator} txonly, native mode) for the whole row; mpps = what the DUT counted in its window (xdplab: its own count after warm-up; testpmd: RX-packets between two statistics blocks ~${s.seconds} s apart)`,
      skbModeForTestpmd: 'the net_af_xdp PMD (DPDK 22.11) has no devarg for the XDP attach mode and attaches natively on veth; for skb rows libxdp\'s default XSK program (the same object xdplab attaches) is attached in skb mode before testpmd starts, and libxdp inside testpmd reuses it (its socket goes into that program\'s XSKMAP). The attached program and mode are checked in every trial.',
      warmupMs: s.warmupMs,
    },
    topology: topology ?? null,
    commandLines,
    rows: summaries,
    trials,
    notes,
  };
  mkdirSync(s.outDir, { recursive: true });
  const file = join(s.outDir, `datapath-${startedAt.toISOString().replace(/:/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(report, null, 1) + '\n');
  process.stdout.write(`results: ${file}\n`);
  return exitCode;
}

main().then((code) => { process.exitCode = code; }, (err: unknown) => {
  process.stderr.write(`bench:datapath: ${describeError(err)}\n`);
  process.exitCode = 1;
});
