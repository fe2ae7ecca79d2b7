// A child process that runs one engine on one AF_XDP port:
//   node dist/benchmarks/engines/worker.js '{"ifname":"IF","engine":"txonly",...}'
// Its one argument is a WorkerSpec (benchmarks/contracts/worker.ts) as JSON. It opens the port
// (inside spec.netns), runs the engine for a warm-up and then the measured window, and prints
// exactly one JSON line on stdout: the result, or {"ok":false,"error":...} (exit 1). Progress
// goes to stderr as JSON lines (ready, window, sample), so a parent can line up its own
// measurements with the window. The port is closed on SIGINT/SIGTERM (the partial result is
// printed, exit 130/143) and on error.
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { LabError, parseOrThrow } from '../contracts/errors.js';
import { WorkerSpecSchema, type WorkerEvent, type WorkerResult, type WorkerSpec } from '../contracts/worker.js';
import { AfXdpPort, pinThisThread, setTxBudget, withNetns, type PortStatistics } from '../../native/index.js';
import { createEngine } from './registry.js';
import { runEngine } from './engine.js';
import { TxOnlyEngine } from './txonly.js';
import { IoEngine } from './io.js';
import { RxOnlyEngine } from './rxonly.js';

function statsDelta(a: PortStatistics, b: PortStatistics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(b) as (keyof PortStatistics)[]) {
    if (k === 'perQueue') continue;
    out[k] = b[k] - a[k];
  }
  return out;
}

/** The worker's one argument: a WorkerSpec as JSON, validated once here. */
export function parseWorkerSpec(json: string | undefined): WorkerSpec {
  let input: unknown;
  try { input = JSON.parse(json ?? ''); } catch { throw new LabError({ code: 'EUSAGE', message: 'worker.js takes one argument: a WorkerSpec as JSON (benchmarks/contracts/worker.ts)' }); }
  return parseOrThrow(WorkerSpecSchema, input);
}

function emit(event: WorkerEvent): void {
  process.stderr.write(JSON.stringify(event) + '\n');
}

export async function runWorker(o: WorkerSpec): Promise<{ result: WorkerResult; signal: NodeJS.Signals | null }> {
  if (o.cpu !== undefined) pinThisThread(o.cpu);
  const control = { stop: false };
  let signal: NodeJS.Signals | null = null;
  const onSignal = (s: NodeJS.Signals) => { signal = s; control.stop = true; };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const tuning = { frameCount: o.frameCount, ringSize: o.ringSize, busyPollBudget: o.busyPollBudget };
  const provided = o.provided;
  const openPort = (ifname: string) => (provided
    // Sockets from xdplab helper, created in a namespace this process cannot enter.
    ? AfXdpPort.openProvided({ ifname, mode: o.mode, inhibit: true, 'sock-fds': provided.sockFds, queues: provided.sockFds.split(':').length, ...(o.copy ? { 'force-copy': true } : {}) }, tuning, { ifindex: provided.ifindex, mode: o.mode })
    : withNetns(o.netns, () => AfXdpPort.open({ ifname, mode: o.mode, ...(o.copy ? { 'force-copy': true } : {}) }, tuning)));
  const port = openPort(o.ifname);
  let peer: AfXdpPort | undefined;
  try {
    if (o.peerIfname) peer = openPort(o.peerIfname);
    let txBudget: { requested: number; applied: boolean; error?: string } = { requested: o.txBudget, applied: false };
    if (o.txBudget > 0) {
      for (const q of [...port.queues, ...(peer?.queues ?? [])]) txBudget = { requested: o.txBudget, ...setTxBudget(q.fd, o.txBudget) };
    }
    const engine = createEngine(o.engine);
    engine.prepare(port, {
      batch: o.burst,
      frameBytes: o.frameBytes,
      frame: { ...(o.srcMac ? { srcMac: o.srcMac } : {}), ...(o.dstMac ? { dstMac: o.dstMac } : {}) },
      flows: o.flows,
      ...(o.maxPackets !== undefined ? { maxPackets: o.maxPackets } : {}),
      ...(peer ? { peer } : {}),
      ...(o.holdUs ? { holdUs: o.holdUs } : {}),
      ...(o.rate !== undefined ? { rate: o.rate } : {}),
      ...(o.frameMix !== undefined ? { frameMix: o.frameMix } : {}),
      ...(o.stamp ? { stamp: true } : {}),
      ...(o.measure ? { measure: true } : {}),
    });
    const tx = engine instanceof TxOnlyEngine ? engine : undefined;
    let queuedAtStart = 0;
    let queuedAtEnd = 0;
    emit({ event: 'ready', pid: process.pid, mode: port.mode, zeroCopy: port.zeroCopy, txBudget });
    let atStart: PortStatistics | null = null;
    let atEnd: PortStatistics | null = null;
    let cpuAtStart: NodeJS.CpuUsage | undefined;
    let windowCpu: { userSeconds: number; systemSeconds: number } | undefined;
    tx?.startPacing(performance.now());
    const r = await runEngine(port, engine, {
      warmupMs: o.warmupMs,
      durationMs: o.seconds * 1000,
      // A paced burst may sleep (txonly.ts): read the clock after every one so the run ends on time.
      ...(o.rate !== undefined ? { checkEvery: 1 } : {}),
      sampleMs: o.sampleMs,
      control,
      onSample: (s) => emit({ event: 'sample', ...s }),
      onWindow: (edge, tMs) => {
        // One getsockopt per queue at each edge of the window, none in between.
        if (edge === 'start') { atStart = port.stats(); cpuAtStart = process.cpuUsage(); queuedAtStart = tx?.queued ?? 0; return emit({ event: 'window', edge, tMs }); }
        atEnd = port.stats();
        queuedAtEnd = tx?.queued ?? 0;
        const used = process.cpuUsage(cpuAtStart);
        windowCpu = { userSeconds: used.user / 1e6, systemSeconds: used.system / 1e6 };
        emit({ event: 'window', edge, tMs });
      },
    });
    if (o.measure) {
      // Read what is still on the rx ring or on its way when stopped (a stalled receiver may be
      // behind): until 20 ms pass without a frame, at most 300 ms. The stream counts cover every
      // frame that arrived; the window's rx does not change.
      const drainEnd = performance.now() + 300;
      let lastFrame = performance.now();
      for (let now = lastFrame; now - lastFrame < 20 && now < drainEnd; now = performance.now()) {
        if (engine.burst(port, 0).rx > 0) lastFrame = now;
      }
    }
    engine.finish(port);
    // Let the last transmissions complete (bounded) so that the statistics are final.
    const drainEnd = performance.now() + 200;
    let quiet = 0;
    while (quiet < 50 && performance.now() < drainEnd) quiet = port.reclaim() === 0 ? quiet + 1 : 0;
    const packets = o.engine === 'rxonly' ? r.rx : r.tx;
    const stats = port.stats();
    // Pacing is judged on frames accepted by the tx ring (what the pacer controls), not on
    // completions, which trail them.
    // Paced: everything sent over the pacer's elapsed send time (its credit starts at 0 at the
    // first burst, so only the credit left at the end, at most two bursts, is unaccounted).
    // Unpaced: the measured window.
    const achievedPps = tx && o.rate !== undefined ? (tx.sendSeconds() > 0 ? tx.queued / tx.sendSeconds() : 0)
      : tx && r.seconds > 0 ? (queuedAtEnd - queuedAtStart) / r.seconds : undefined;
    const generator = tx ? {
      ...(achievedPps !== undefined ? { achievedPps } : {}),
      ...(o.rate !== undefined ? { targetPps: o.rate, rateReached: achievedPps !== undefined && achievedPps >= 0.99 * o.rate, rateMissedPackets: Math.round(tx.missed), sendSeconds: tx.sendSeconds() } : {}),
      ...(o.stamp ? { stream: { sentPerFlow: tx.sentPerFlow() } } : {}),
    } : {};
    const meter = engine instanceof RxOnlyEngine ? engine.meter : null;
    const latency = engine instanceof RxOnlyEngine ? engine.latency : null;
    const receiver = meter && latency ? {
      stream: {
        receivedPerFlow: Array.from(meter.receivedPerFlow),
        duplicatedPerFlow: Array.from(meter.duplicatedPerFlow),
        reordered: meter.reordered,
        duplicated: meter.duplicated,
        foreign: meter.foreign,
        frameBytes: meter.sizeCounts(),
      },
      latency: latency.summary(),
    } : {};
    return {
      signal,
      result: {
        ok: true, engine: o.engine, mode: port.mode, zeroCopy: port.zeroCopy, packets, rx: r.rx, tx: r.tx, seconds: r.seconds,
        warmupSeconds: r.warmupSeconds, bursts: r.bursts, interrupted: r.stoppedEarly, txBudget, stats: { ...stats },
        windowStats: atStart && atEnd ? statsDelta(atStart, atEnd) : {},
        ...(peer ? { peerStats: { ...peer.stats() } } : {}),
        ...(engine instanceof IoEngine ? { forwardDropped: engine.dropped } : {}),
        ...(windowCpu ? { windowCpu } : {}),
        ...generator,
        ...receiver,
      },
    };
  } finally {
    peer?.close();
    port.close();
  }
}

function errorJson(err: unknown): WorkerResult {
  if (err instanceof LabError) return { ok: false, error: err.toJSON() };
  return { ok: false, error: { code: 'EWORKER', message: err instanceof Error ? err.message : String(err) } };
}

async function main(): Promise<void> {
  try {
    const o = parseWorkerSpec(process.argv[2]);
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
