// One trial of one row: start what it needs, measure over the window, stream samples, return
// the trial's totals. Every process and program a trial starts is stopped before it returns.
import { cpus as osCpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { LabError } from '../../native/errors.js';
import { ifNameToIndex } from '../../native/sys/libc.js';
import { withNetns } from '../../native/sys/netns.js';
import { XdpDropProgram } from '../../native/xdp/drop-program.js';
import { XskProgram } from '../../native/xdp/xsk-program.js';
import type { Lab } from '../lab/lab.js';
import { processCpuSeconds } from '../lab/proc.js';
import type { Sample } from '../report/schema.js';
import { droppedBetween, readRxCounters } from '../tools/counters.js';
import { runIperf3, type Iperf3Interval } from '../tools/iperf3.js';
import { Testpmd, findTestpmd, rateFromSamples } from '../tools/testpmd.js';
import type { RowPlan } from './plan.js';
import type { Scenario } from './scenario.js';
import type { Endpoint, ForwardTopology, PacketTopology } from './topology.js';
import { startWorker, type RunningWorker, type WorkerSampleEvent, type WorkerSpec } from './worker-client.js';
import type { HelperClient } from '../helper/client.js';
import { helperCounters, helperDropSink, startWorkerViaHelper } from '../helper/bench.js';

export interface TrialContext {
  lab: Lab;
  scenario: Scenario;
  row: RowPlan;
  trial: number;
  packet?: PacketTopology;
  forward?: ForwardTopology;
  macs?: { dut: string; peer: string };
  sample(s: Sample): void;
  phase(p: 'setup' | 'warmup' | 'measure' | 'teardown'): void;
  stopSignal: { stop: boolean };
  /** xdplab helper: privileged steps go through it (engine rows only). */
  helper?: HelperClient;
}

export interface TrialOutcome {
  metrics: Record<string, number>;
  commandLines: string[];
  attached?: { mode: string; zeroCopy: boolean };
}

const sleep = (ms: number, stop?: { stop: boolean }) => new Promise<void>((resolve) => {
  const end = performance.now() + ms;
  const tick = () => (stop?.stop || performance.now() >= end ? resolve() : setTimeout(tick, Math.min(100, end - performance.now())));
  tick();
});

/** The device under test on CPU 1, the peer on CPU 0: the same pinning for every tool. */
const cpus = (): { dut?: number; peer?: number } => (osCpus().length >= 2 ? { dut: 1, peer: 0 } : {});

/**
 * XDP_MAX_TX_SKB_BUDGET for xdplab's transmitting engines: frames the kernel sends per sendto in
 * copy mode (the kernel's default is 32). A burst goes out in one system call instead of
 * several; the worker records whether the kernel took it (Linux 6.17+).
 */
export const TX_BUDGET = 256;

/** Engine workers: started here, or on sockets from xdplab helper when the run has one. */
function launch(ctx: TrialContext, spec: WorkerSpec, onSample?: (s: WorkerSampleEvent) => void): Promise<RunningWorker> {
  return ctx.helper ? startWorkerViaHelper(ctx.helper, ctx.lab, spec, onSample) : Promise.resolve(startWorker(ctx.lab, spec, onSample));
}

const rxCounters = (ctx: TrialContext, e: Endpoint) => (ctx.helper ? helperCounters(ctx.helper, e) : readRxCounters(e.netns, e.ifname));

/** Turns a worker's cumulative counts into interval rates in the measured window. */
function sampler(ctx: TrialContext, counter: 'rx' | 'tx', frameBytes: number) {
  let last: WorkerSampleEvent | undefined;
  return (ev: WorkerSampleEvent) => {
    if (ev.phase === 'measure' && last) {
      const dt = ev.tMs - last.tMs;
      const pps = dt > 0 ? ((ev[counter] - last[counter]) * 1000) / dt : 0;
      ctx.sample({ row: ctx.row.id, trial: ctx.trial, tMs: Math.round(ev.tMs - ctx.scenario.warmupMs), intervalMs: Math.round(dt), metrics: { packetsPerSecond: pps, bitsPerSecond: pps * frameBytes * 8 } });
    }
    last = ev;
  };
}

/** The sampling interval, shortened so that even a short window yields a few samples. */
function sampleMs(s: Scenario): number {
  return Math.max(100, Math.min(s.sampleIntervalMs, Math.floor(s.durationMs / 4)));
}

function trialSeconds(s: Scenario): number {
  return s.durationMs / 1000;
}

/**
 * `offered`: what the generator sent per second between two instants (performance.now()), from
 * its own counters, so that a receiver's row says how much of the offered load it took.
 */
interface Generator { commandLine: string; offered(fromMs: number, toMs: number): number | undefined; stop(): Promise<void> }

/** Cumulative transmit counts of a generator, read as they arrive. */
const GENERATOR_SAMPLE_MS = 250;

/**
 * Traffic for rxonly, io and macswap from the peer, for longer than the DUT's warm-up and
 * window: xdplab's txonly (default) or dpdk-testpmd's txonly (--generator testpmd), the peer's
 * forwarding thread on CPU 0 either way.
 */
async function startGenerator(ctx: TrialContext): Promise<Generator> {
  const s = ctx.scenario;
  const t = ctx.packet!;
  const frameBytes = ctx.row.frameBytes ?? 64;
  if (s.generator === 'testpmd') {
    if (!findTestpmd()) throw new LabError({ code: 'ENOTOOL', message: '--generator testpmd: dpdk-testpmd is not installed', hint: 'npm run setup installs dpdk and librte-net-af-xdp23' });
    const pmd = new Testpmd({
      netns: t.peer.netns ?? '', ifname: t.peer.ifname, forwardMode: 'txonly', filePrefix: `${ctx.lab.name('tg')}-${ctx.trial}`,
      lcores: [0, 1], mainLcore: 1, txpkts: frameBytes, burst: s.burst, ...(ctx.macs ? { appArgs: [`--eth-peer=0,${ctx.macs.dut}`] } : {}),
    });
    await pmd.start(ctx.lab);
    const offered = (from: number, to: number) => rateFromSamples(pmd.samples, (x) => x.txPackets, from - 1100, to + 1100)?.pps;
    return { commandLine: pmd.commandLine, offered, stop: async () => { await pmd.stop(); } };
  }
  const sent: Array<{ atMs: number; tx: number }> = [];
  const worker = await launch(ctx, {
    ...(t.peer.netns ? { netns: t.peer.netns } : {}), ifname: t.peer.ifname, engine: 'txonly', mode: ctx.row.mode === 'kernel' ? 'native' : ctx.row.mode,
    // Stopped by withGenerator; the margin covers a slow start of the tool under test.
    seconds: (s.warmupMs + s.durationMs) / 1000 + 120, warmupMs: 0, frameBytes, batch: s.burst, flows: s.flows,
    sampleMs: GENERATOR_SAMPLE_MS, txBudget: TX_BUDGET, ...(cpus().peer !== undefined ? { cpu: cpus().peer! } : {}), ...(ctx.macs ? { srcMac: ctx.macs.peer, dstMac: ctx.macs.dut } : {}),
  }, (ev) => { sent.push({ atMs: performance.now(), tx: ev.tx }); });
  try {
    await worker.ready;
  } catch (err) {
    await worker.done;
    throw err;
  }
  const offered = (from: number, to: number) => rateFromSamples(sent, (x) => x.tx, from - GENERATOR_SAMPLE_MS, to + GENERATOR_SAMPLE_MS)?.pps;
  return { commandLine: worker.commandLine, offered, stop: async () => { worker.stop(); await worker.done; } };
}

/** The generator's rate over a receiver's window, as a metric (none when it cannot tell). */
function offeredMetric(gen: Generator | undefined, fromMs: number, toMs: number): { offeredPacketsPerSecond?: number } {
  const pps = gen?.offered(fromMs, toMs);
  return pps !== undefined && Number.isFinite(pps) ? { offeredPacketsPerSecond: pps } : {};
}

async function withGenerator<T>(ctx: TrialContext, fn: (commandLines: string[], gen: Generator) => Promise<T>): Promise<T> {
  const gen = await startGenerator(ctx);
  try {
    return await fn([gen.commandLine], gen);
  } finally {
    await gen.stop();
  }
}

async function engineTrial(ctx: TrialContext): Promise<TrialOutcome> {
  const s = ctx.scenario, t = ctx.packet!, row = ctx.row;
  const frameBytes = row.frameBytes ?? 64;
  const engine = row.test as 'txonly' | 'rxonly' | 'io' | 'macswap';
  const run = async (extra: string[], gen?: Generator): Promise<TrialOutcome> => {
    ctx.phase('warmup');
    const w = await launch(ctx, {
      ...(t.dut.netns ? { netns: t.dut.netns } : {}), ifname: t.dut.ifname, engine, mode: row.mode as 'native' | 'skb', forceCopy: row.copy,
      seconds: trialSeconds(s), warmupMs: s.warmupMs, frameBytes, batch: s.burst, flows: s.flows, sampleMs: sampleMs(s),
      ...(engine === 'rxonly' ? {} : { txBudget: TX_BUDGET }),
      ...(cpus().dut !== undefined ? { cpu: cpus().dut! } : {}), ...(ctx.macs ? { srcMac: ctx.macs.dut, dstMac: ctx.macs.peer } : {}),
    }, sampler(ctx, engine === 'rxonly' ? 'rx' : 'tx', frameBytes));
    const stopWatch = setInterval(() => { if (ctx.stopSignal.stop) w.stop(); }, 100);
    const ready = await w.ready.catch(() => undefined);
    if (ready) setTimeout(() => ctx.phase('measure'), s.warmupMs);
    const from = performance.now() + s.warmupMs;
    const r = await w.done.finally(() => clearInterval(stopWatch));
    const to = performance.now();
    if (!r.ok) throw new LabError({ code: r.error?.code ?? 'EWORKER', message: r.error?.message ?? 'engine failed', ...(r.error?.hint ? { hint: r.error.hint } : {}) });
    // Drops inside the measured window (the port's start-up is not the engine's loss).
    const stats = (r.windowStats && Object.keys(r.windowStats).length ? r.windowStats : r.stats ?? {}) as Record<string, number>;
    const pps = r.seconds > 0 ? r.packets / r.seconds : 0;
    // Zero is not a measurement: something upstream (the generator, the link) did not run.
    if (r.packets === 0) throw new LabError({ code: 'ENOTRAFFIC', message: `${engine} counted no packets in the measured window`, hint: 'the peer\'s generator or the link did not carry traffic; see the log' });
    return {
      commandLines: [...extra, w.commandLine],
      attached: { mode: r.mode ?? String(row.mode), zeroCopy: r.zeroCopy ?? false },
      metrics: {
        packetsPerSecond: pps, bitsPerSecond: pps * frameBytes * 8, rxPackets: r.rx, txPackets: r.tx, seconds: r.seconds,
        droppedPackets: (stats.rxDropped ?? 0) + (stats.rxRingFull ?? 0) + (stats.rxFillRingEmpty ?? 0),
        ...offeredMetric(gen, from, to),
        ...(r.windowCpu ? { cpuUserSeconds: r.windowCpu.userSeconds, cpuSystemSeconds: r.windowCpu.systemSeconds } : {}),
      },
    };
  };
  if (engine === 'txonly') return withDropSink(ctx, run);
  return withGenerator(ctx, run);
}

/**
 * txonly's sink: an XDP program on the peer that drops every frame (the cheapest receiver).
 * veth runs it in the sender's softirq, on the DUT's CPU, for every tool alike. Moving it to
 * the other CPU (RPS, or threaded NAPI pinned there: lab/receive-work.ts) made the sender
 * slower, not faster: 1.25-1.35 Mpps against 1.9-2.4 in place (handing each frame to another
 * CPU costs the sender more than dropping it), and it took the CPU the app's UI runs on.
 */
async function withDropSink(ctx: TrialContext, fn: (commandLines: string[]) => Promise<TrialOutcome>): Promise<TrialOutcome> {
  const t = ctx.packet!;
  const mode = ctx.row.mode === 'skb' ? 'skb' : 'native';
  if (!ctx.helper) ctx.lab.recordXdp(t.peer.netns, t.peer.ifname);
  const sink = ctx.helper ? await helperDropSink(ctx.helper, t.peer, mode) : withNetns(t.peer.netns, () => XdpDropProgram.attachTo(t.peer.ifname, mode));
  try {
    const before = await rxCounters(ctx, t.peer);
    const out = await fn([`XDP drop program on ${t.peer.ifname} (${mode} mode)`]);
    const after = await rxCounters(ctx, t.peer);
    const arrived = droppedBetween(before, after, mode);
    // What the peer counted over the whole trial (warm-up included), next to what the DUT sent.
    out.metrics.peerReceivedPackets = arrived.frames;
    return out;
  } finally {
    await sink.detach();
  }
}

async function testpmdTrial(ctx: TrialContext): Promise<TrialOutcome> {
  if (!findTestpmd()) throw new LabError({ code: 'ENOTOOL', message: 'dpdk-testpmd is not installed', hint: 'npm run setup installs dpdk and librte-net-af-xdp23' });
  const s = ctx.scenario, t = ctx.packet!, row = ctx.row;
  const frameBytes = row.frameBytes ?? 64;
  const mode = row.test as 'txonly' | 'rxonly' | 'io' | 'macswap';
  const run = async (extra: string[], gen?: Generator): Promise<TrialOutcome> => {
    // The PMD cannot be told a mode: it reuses an XSK program already attached (libxdp looks
    // for xsk_def_prog), so skb mode means attaching libxdp's program in skb mode first.
    ctx.lab.recordXdp(t.dut.netns, t.dut.ifname);
    const program = row.mode === 'skb' ? withNetns(t.dut.netns, () => XskProgram.attach(t.dut.ifname, ifNameToIndex(t.dut.ifname), 'skb', 0)) : null;
    const pmd = new Testpmd({
      netns: t.dut.netns ?? '', ifname: t.dut.ifname, forwardMode: mode, filePrefix: `${ctx.lab.name('tp')}-${ctx.trial}`,
      lcores: [0, 1], mainLcore: 0, txpkts: frameBytes, burst: s.burst, devargs: row.copy ? { force_copy: 1 } : {},
      ...(mode === 'io' || mode === 'macswap' ? { appArgs: ['--port-topology=loop'] } : {}),
    });
    try {
      ctx.phase('warmup');
      await pmd.start(ctx.lab);
      await sleep(s.warmupMs, ctx.stopSignal);
      ctx.phase('measure');
      const from = performance.now();
      const cpuFrom = pmd.pid ? processCpuSeconds(pmd.pid) : undefined;
      await sleep(s.durationMs, ctx.stopSignal);
      const to = performance.now();
      const cpuTo = pmd.pid ? processCpuSeconds(pmd.pid) : undefined;
      await pmd.sampleAfter(to, 2500);
      const result = await pmd.stop();
      const counter = mode === 'rxonly' ? (x: { rxPackets: number }) => x.rxPackets : (x: { txPackets: number }) => x.txPackets;
      const rate = rateFromSamples(result.samples, counter, from - 1100, to + 1100);
      for (let i = 1; i < result.samples.length; i++) {
        const a = result.samples[i - 1]!, b = result.samples[i]!;
        if (a.atMs < from - 1100 || b.atMs > to + 1100) continue;
        const pps = ((counter(b) - counter(a)) * 1000) / (b.atMs - a.atMs);
        ctx.sample({ row: row.id, trial: ctx.trial, tMs: Math.round(b.atMs - from), intervalMs: Math.round(b.atMs - a.atMs), metrics: { packetsPerSecond: pps, bitsPerSecond: pps * frameBytes * 8 } });
      }
      if (!rate) throw new LabError({ code: 'ETESTPMD', message: 'testpmd printed too few statistics blocks in the window', hint: pmd.tail(10) });
      if (rate.pps === 0) throw new LabError({ code: 'ENOTRAFFIC', message: `testpmd counted no packets in the measured window (${mode})`, hint: pmd.tail(10) });
      return {
        commandLines: [...extra, pmd.commandLine],
        attached: { mode: row.mode, zeroCopy: false },
        metrics: { packetsPerSecond: rate.pps, bitsPerSecond: rate.pps * frameBytes * 8, seconds: rate.seconds, droppedPackets: result.accumulated?.rxDropped ?? 0, ...offeredMetric(gen, from, to),
          ...(cpuFrom && cpuTo ? { cpuUserSeconds: cpuTo.userSeconds - cpuFrom.userSeconds, cpuSystemSeconds: cpuTo.systemSeconds - cpuFrom.systemSeconds } : {}) },
      };
    } finally {
      await pmd.stop();
      program?.detach();
    }
  };
  if (mode === 'txonly') return withDropSink(ctx, run);
  return withGenerator(ctx, run);
}

/** The ceiling for rxonly: the kernel's own XDP drop rate at the DUT for the same sender. */
async function ceilingTrial(ctx: TrialContext): Promise<TrialOutcome> {
  const s = ctx.scenario, t = ctx.packet!, row = ctx.row;
  const mode = row.mode === 'skb' ? 'skb' : 'native';
  const frameBytes = row.frameBytes ?? 64;
  return withGenerator(ctx, async (extra, gen) => {
    ctx.lab.recordXdp(t.dut.netns, t.dut.ifname);
    const prog = withNetns(t.dut.netns, () => XdpDropProgram.attachTo(t.dut.ifname, mode));
    try {
      ctx.phase('warmup');
      await sleep(s.warmupMs, ctx.stopSignal);
      ctx.phase('measure');
      const first = await readRxCounters(t.dut.netns, t.dut.ifname);
      let prev = first;
      const end = first.atMs + s.durationMs;
      while (performance.now() < end && !ctx.stopSignal.stop) {
        await sleep(Math.min(sampleMs(s), end - performance.now()));
        const cur = await readRxCounters(t.dut.netns, t.dut.ifname);
        const d = droppedBetween(prev, cur, mode);
        ctx.sample({ row: row.id, trial: ctx.trial, tMs: Math.round(cur.atMs - first.atMs), intervalMs: Math.round(d.seconds * 1000), metrics: { packetsPerSecond: d.frames / d.seconds, bitsPerSecond: (d.frames / d.seconds) * frameBytes * 8 } });
        prev = cur;
      }
      const total = droppedBetween(first, prev, mode);
      const pps = total.seconds > 0 ? total.frames / total.seconds : 0;
      return { commandLines: [...extra, `XDP drop program on ${t.dut.ifname} (${mode} mode), counted by ${total.counter}`], attached: { mode, zeroCopy: false }, metrics: { packetsPerSecond: pps, bitsPerSecond: pps * frameBytes * 8, seconds: total.seconds, ...offeredMetric(gen, first.atMs, prev.atMs) } };
    } finally {
      prog.detach();
    }
  });
}

async function iperfTrial(ctx: TrialContext, through: (commandLines: string[]) => Promise<() => Promise<void>>): Promise<TrialOutcome> {
  const s = ctx.scenario, f = ctx.forward!;
  const commandLines: string[] = [];
  ctx.phase('setup');
  const teardown = await through(commandLines);
  try {
    ctx.phase('measure');
    // Samples from the intervals, also those of a test that fails halfway.
    const onIntervals = (intervals: Iperf3Interval[]) => {
      for (const i of intervals) ctx.sample({ row: ctx.row.id, trial: ctx.trial, tMs: Math.round(i.startMs + i.durationMs), intervalMs: Math.round(i.durationMs), metrics: { bitsPerSecond: i.bitsPerSecond, retransmits: i.retransmits } });
    };
    const r = await runIperf3(ctx.lab, { serverNetns: f.b.netns!, clientNetns: f.a.netns!, serverAddress: f.serverAddress, durationMs: s.durationMs, parallel: s.parallel, reverse: s.reverse, onIntervals });
    return {
      commandLines: [...commandLines, ...r.commandLines],
      metrics: { bitsPerSecond: r.receivedBitsPerSecond, sentBitsPerSecond: r.sentBitsPerSecond, retransmits: r.retransmits, cpuHostPercent: r.cpuHostPercent, cpuRemotePercent: r.cpuRemotePercent, streams: r.streams },
    };
  } finally {
    ctx.phase('teardown');
    await teardown();
  }
}

function iperfThroughXdplab(ctx: TrialContext): Promise<TrialOutcome> {
  const f = ctx.forward!, s = ctx.scenario, row = ctx.row;
  let attached: TrialOutcome['attached'];
  return iperfTrial(ctx, async (lines) => {
    const w = startWorker(ctx.lab, { netns: f.ma.netns!, ifname: f.ma.ifname, peerIfname: f.mb.ifname, engine: 'io', mode: row.mode as 'native' | 'skb', forceCopy: row.copy, seconds: s.durationMs / 1000 + 30, warmupMs: 0, batch: s.burst, sampleMs: 0, txBudget: TX_BUDGET });
    lines.push(w.commandLine);
    const ready = await w.ready.catch(async () => { const r = await w.done; throw new LabError({ code: r.error?.code ?? 'EWORKER', message: r.error?.message ?? 'forwarder failed' }); });
    attached = { mode: ready.mode, zeroCopy: ready.zeroCopy };
    return async () => { w.stop(); await w.done; };
  }).then((o) => ({ ...o, ...(attached ? { attached } : {}) }));
}

function iperfThroughBridge(ctx: TrialContext): Promise<TrialOutcome> {
  const f = ctx.forward!, lab = ctx.lab;
  return iperfTrial(ctx, async (lines) => {
    const br = lab.name('br');
    const m = f.ma.netns!;
    for (const args of [['link', 'add', br, 'type', 'bridge'], ['link', 'set', f.ma.ifname, 'master', br], ['link', 'set', f.mb.ifname, 'master', br], ['link', 'set', br, 'up']]) {
      lab.ip(m, args);
      lines.push(`ip -n ${m} ${args.join(' ')}`);
    }
    return async () => { lab.ip(m, ['link', 'del', br]); };
  });
}

function iperfThroughTestpmd(ctx: TrialContext): Promise<TrialOutcome> {
  if (!findTestpmd()) return Promise.reject(new LabError({ code: 'ENOTOOL', message: 'dpdk-testpmd is not installed', hint: 'npm run setup installs dpdk and librte-net-af-xdp23' }));
  const f = ctx.forward!;
  return iperfTrial(ctx, async (lines) => {
    const pmd = new Testpmd({
      netns: f.ma.netns!, ifname: f.ma.ifname, forwardMode: 'io', filePrefix: `${ctx.lab.name('tf')}-${ctx.trial}`,
      lcores: [0, 1], mainLcore: 0, ealArgs: ['--vdev', `net_af_xdp1,iface=${f.mb.ifname}`],
    });
    lines.push(pmd.commandLine);
    await pmd.start(ctx.lab);
    return async () => { await pmd.stop(); };
  });
}

export async function runTrial(ctx: TrialContext): Promise<TrialOutcome> {
  switch (ctx.row.kind) {
    case 'engine': return engineTrial(ctx);
    case 'testpmd': return testpmdTrial(ctx);
    case 'ceiling': return ceilingTrial(ctx);
    case 'iperf3-xdplab': return iperfThroughXdplab(ctx);
    case 'iperf3-bridge': return iperfThroughBridge(ctx);
    case 'iperf3-testpmd': return iperfThroughTestpmd(ctx);
  }
}
