// NDR/PDR searches (--search ndr,pdr) and the latency rows at fractions of the PDR found
// (--latency), for the receiving rows:
//   rxonly  the DUT receives what the peer's rate-controlled generator sends (packet topology):
//           xdplab's rxonly (which also measures latency) or dpdk-testpmd's rxonly (counts only)
//   io      the DUT forwards A -> M -> B (forward topology): xdplab's io or dpdk-testpmd's io in
//           M, the generator in A, xdplab's measuring receiver in B
// A trial of a search row is one whole search (trials of it repeat the search); its report
// trial holds every constant-rate trial and each goal's bounds.
import { LabError } from '../contracts/errors.js';
import { STAMP, mixLabel, meanFrameBytes, type FrameMix } from '../contracts/traffic.js';
import type { Scenario } from '../contracts/scenario.js';
import { LATENCY_LOADS } from '../contracts/vocabulary.js';
import { macOf, type Endpoint } from '../lab/topology.js';
import { XdpStampCounter, XskProgram, ifNameToIndex, withNetns } from '../../native/index.js';
import { searchPath } from './search-path.js';
import type { Search } from '../contracts/report.js';
import { Testpmd, findTestpmd } from '../tools/testpmd.js';
import { NO_TESTPMD } from './generator.js';
import { defineRowKind, type RowSpec, type TrialContext, type TrialOutcome } from './row-kind.js';
import { bitsOf, rateTrial, type CountingReceiver, type RatePath } from './rate-trial.js';
import { DUT_BUSY_POLL_BUDGET, RECEIVER_RING, cpus, launch } from './trial-tools.js';
import type { AfXdpMode } from '../contracts/datapath.js';

/** Search rows sit after the host packet rows and before iperf3's. */
const SEARCH_ORDER = 5;

export interface SearchCell { test: 'rxonly' | 'io'; tool: 'xdplab' | 'dpdk-testpmd'; mode: AfXdpMode; mix: FrameMix; id: string; order: number[] }

/** The frame mixes of the packet rows: the sizes asked for, and IMIX with --imix. */
export const mixesOf = (s: Scenario): FrameMix[] => [...s.frameBytes, ...(s.imix ? ['imix' as const] : [])];

export function searchCells(s: Scenario): SearchCell[] {
  if (!s.search.length) return [];
  const tools: SearchCell['tool'][] = ['xdplab', ...(s.reference.includes('testpmd') ? ['dpdk-testpmd' as const] : [])];
  const cells: SearchCell[] = [];
  (['rxonly', 'io'] as const).forEach((test, ti) => {
    if (!s.tests.includes(test)) return;
    mixesOf(s).forEach((mix, fi) => s.modes.forEach((mode, mi) => tools.forEach((tool, ki) => {
      cells.push({ test, tool, mode, mix, id: `search-${test}-${mode}-${mixLabel(mix)}${tool === 'xdplab' ? '' : '-testpmd'}`, order: [SEARCH_ORDER, ti, fi, mi, ki] });
    })));
  });
  return cells;
}

const rowSpec = (c: SearchCell, extra: Partial<RowSpec> = {}): RowSpec => ({
  id: c.id, test: c.test, tool: c.tool, mode: c.mode, frameBytes: Math.round(meanFrameBytes(c.mix)), order: c.order, ...extra,
});

/** What the last search of a row found, for its latency rows (shared through ctx.once). */
interface Found { pdrPps?: number }
const foundOf = (ctx: TrialContext, searchRow: string) => ctx.once<Found>(`search-found:${searchRow}`, async () => ({}));

/** The PMD reuses an XSK program already attached: skb mode means attaching libxdp's first. */
function xskForTestpmd(ctx: TrialContext, netns: string | undefined, ifnames: string[], mode: AfXdpMode): () => void {
  if (mode !== 'skb') return () => {};
  const programs = ifnames.map((ifname) => { ctx.lab.recordXdp(netns, ifname); return withNetns(netns, () => XskProgram.attach(ifname, ifNameToIndex(ifname), 'skb', 0)); });
  return () => { for (const p of programs) p.detach(); };
}

/**
 * B's end of the forward path as a counting sink (an XDP program that counts the stamped frames
 * and drops all): the receiver of a search through a DUT in M, when only counts matter. A
 * measuring receiver is a third busy process on a 2-core host, and sharing the DUT's CPU it
 * made the DUT's rx ring overflow: at 0.15 Mpps xdplab's io lost frames in 5 of 8 10 s trials,
 * and in none of 6 with this sink (its drops were 0 in all of them).
 */
function countingSink(ctx: TrialContext, at: Endpoint, mode: AfXdpMode): { receiver: CountingReceiver; detach(): void } {
  ctx.lab.recordXdp(at.netns, at.ifname);
  const sink = withNetns(at.netns, () => XdpStampCounter.attachTo(at.ifname, mode, { offset: STAMP.offset + STAMP.magicOffset, magic: STAMP.magic }));
  const commandLine = `XDP counting sink (xdplab_count, ${mode} mode) on ${at.ifname}${at.netns ? ` in ${at.netns}` : ''}: counts the stamped frames, drops all`;
  return { receiver: { commandLine, count: async () => sink.counts().stamped }, detach: () => sink.detach() };
}

/**
 * The DUT of a cell, running for the whole search: the path the generator and receiver use,
 * and how to stop it. `sink`: an io cell's receiver is B's counting sink instead of xdplab's
 * measuring receiver (the search and its checks need counts only; latency rows measure).
 */
async function startDut(ctx: TrialContext, c: SearchCell, o: { sink?: boolean } = {}): Promise<{ path: RatePath; commandLines: string[]; stop(): Promise<void> }> {
  const s = ctx.scenario;
  if (c.tool === 'dpdk-testpmd' && !findTestpmd()) throw NO_TESTPMD('');
  if (c.test === 'rxonly') {
    const t = ctx.packet!;
    const macs = ctx.macs ? { src: ctx.macs.peer, dst: ctx.macs.dut } : undefined;
    // The loss counters of the ends on this host (a peer host's are its own).
    const watch = { dut: t.dut, ...(ctx.remote ? {} : { peer: t.peer }) };
    if (c.tool === 'xdplab') return { path: { gen: t.peer, ...(macs ? { macs } : {}), receiver: { at: t.dut, dut: true }, mode: c.mode, watch }, commandLines: [], stop: async () => {} };
    const detach = xskForTestpmd(ctx, t.dut.netns, [t.dut.ifname], c.mode);
    const pmd = new Testpmd({
      netns: t.dut.netns ?? '', ifname: t.dut.ifname, forwardMode: 'rxonly', filePrefix: `${ctx.lab.name('ts')}-${ctx.trial}`,
      lcores: [0, 1], mainLcore: 0, burst: s.burst,
    });
    try { await pmd.start(ctx.lab); } catch (err) { await pmd.stop(); detach(); throw err; }
    // RX-packets of the first statistics block (once a second) after the stream ended.
    const count = async (afterMs: number) => {
      const x = await pmd.sampleAfter(afterMs, 3000);
      if (!x) throw new LabError({ code: 'ETESTPMD', message: 'testpmd printed no statistics after the trial', hint: pmd.tail(10) });
      return x.rxPackets;
    };
    return {
      path: { gen: t.peer, ...(macs ? { macs } : {}), receiver: { counting: { commandLine: pmd.commandLine, count } }, mode: c.mode, watch },
      commandLines: [pmd.commandLine], stop: async () => { await pmd.stop(); detach(); },
    };
  }
  // io: forward A -> M -> B.
  const f = ctx.forward!;
  const sink = o.sink ? countingSink(ctx, f.b, c.mode) : undefined;
  try {
    const dut = await startForwarder(ctx, c);
    const path: RatePath = { gen: f.a, macs: { src: macOf(ctx.lab, f.a), dst: macOf(ctx.lab, f.b) }, receiver: sink ? { counting: sink.receiver } : { at: f.b }, mode: c.mode, watch: { a: f.a, ma: f.ma, mb: f.mb, b: f.b } };
    return { path, commandLines: [...dut.commandLines, ...(sink ? [sink.receiver.commandLine] : [])], stop: async () => { try { await dut.stop(); } finally { sink?.detach(); } } };
  } catch (err) {
    sink?.detach();
    throw err;
  }
}

/** xdplab's io or dpdk-testpmd's io in M, forwarding between ma and mb. */
async function startForwarder(ctx: TrialContext, c: SearchCell): Promise<{ commandLines: string[]; stop(): Promise<void> }> {
  const s = ctx.scenario;
  const f = ctx.forward!;
  if (c.tool === 'xdplab') {
    const w = await launch(ctx, {
      netns: f.ma.netns!, ifname: f.ma.ifname, peerIfname: f.mb.ifname, engine: 'io', mode: c.mode, seconds: s.searchMaxMs / 1000 + 600, warmupMs: 0, burst: s.burst, sampleMs: 0,
      // As xdplab's receiver as a DUT (rate-trial.ts): deep rings, busy polling as the PMD does.
      ringSize: RECEIVER_RING, frameCount: 2 * RECEIVER_RING, busyPollBudget: DUT_BUSY_POLL_BUDGET,
      ...(cpus().dut !== undefined ? { cpu: cpus().dut! } : {}),
    });
    try { await w.ready; } catch (err) { await w.done; throw err; }
    return { commandLines: [w.commandLine], stop: async () => { w.stop(); await w.done; } };
  }
  const detach = xskForTestpmd(ctx, f.ma.netns, [f.ma.ifname, f.mb.ifname], c.mode);
  const pmd = new Testpmd({
    netns: f.ma.netns!, ifname: f.ma.ifname, forwardMode: 'io', filePrefix: `${ctx.lab.name('tf')}-${ctx.trial}`,
    lcores: [0, 1], mainLcore: 0, burst: s.burst, ealArgs: ['--vdev', `net_af_xdp1,iface=${f.mb.ifname}`],
  });
  try { await pmd.start(ctx.lab); } catch (err) { await pmd.stop(); detach(); throw err; }
  return { commandLines: [pmd.commandLine], stop: async () => { await pmd.stop(); detach(); } };
}

async function searchTrial(ctx: TrialContext, c: SearchCell): Promise<TrialOutcome> {
  const s = ctx.scenario;
  const dut = await startDut(ctx, c, { sink: true });
  try {
    ctx.phase('measure', 'searching');
    // At least 100 frames per short trial.
    const { search, metrics, commandLines } = await searchPath(ctx, dut.path, { mix: c.mix, minPps: Math.max(1000, 100_000 / s.searchTrialMs) });
    if (s.searchCheck > 0) await checkNdr(ctx, c, dut.path, search);
    const checks = search.trials.filter((t) => t.phase === 'check');
    if (checks.length) {
      const atNdr = checks.slice(0, -1);
      metrics.ndrCheckTrials = atNdr.length;
      metrics.ndrCheckLossFree = atNdr.filter((t) => t.lossRatio === 0).length;
      metrics.ndrCheckAboveLossRatio = checks[checks.length - 1]!.lossRatio;
    }
    const pdr = search.goals.find((g) => g.name === 'pdr');
    if (pdr && pdr.lowerPps > 0) Object.assign(await foundOf(ctx, c.id), { pdrPps: pdr.lowerPps });
    return { metrics, commandLines: [...dut.commandLines, ...commandLines], search, attached: { mode: c.mode, zeroCopy: false } };
  } finally {
    await dut.stop();
  }
}

/**
 * The reference check of a search (CSIT's "constant rate" verification): N full-length trials
 * at the NDR found should lose nothing, and one 5% above it should lose. Recorded as 'check'
 * trials of the search.
 */
async function checkNdr(ctx: TrialContext, c: SearchCell, path: RatePath, search: Search): Promise<void> {
  const ndr = search.goals.find((g) => g.name === 'ndr');
  if (!ndr || ndr.lowerPps <= 0 || search.generatorBound) return;
  const s = ctx.scenario;
  for (const [i, rate] of [...Array.from({ length: s.searchCheck }, () => ndr.lowerPps), ndr.lowerPps * 1.05].entries()) {
    if (ctx.stopSignal.stop) return;
    ctx.phase('measure', `check ${i + 1}/${s.searchCheck + 1} at ${(rate / 1e6).toFixed(3)} Mpps`);
    const r = await rateTrial(ctx, path, { targetPps: rate, durationMs: s.durationMs, mix: c.mix, flows: s.flows, phase: 'check' });
    search.trials.push(r.trial);
  }
}

export const searchRows = defineRowKind<SearchCell>({
  kind: 'search-rx',
  needs: 'packet',
  viaHelper: 'rate searches start their generator and receiver in the lab\'s namespaces',
  plan: (s) => searchCells(s).filter((c) => c.test === 'rxonly').map((c) => ({ spec: rowSpec(c, c.mix === 'imix' ? { frameMix: 'imix' } : {}), params: c })),
  run: searchTrial,
});

export const searchForwardRows = defineRowKind<SearchCell>({
  kind: 'search-fwd',
  needs: 'forward',
  viaHelper: 'rate searches start their generator and receiver in the lab\'s namespaces',
  plan: (s) => searchCells(s).filter((c) => c.test === 'io').map((c) => ({ spec: rowSpec(c, c.mix === 'imix' ? { frameMix: 'imix' } : {}), params: c })),
  run: searchTrial,
});

/** Frames per second of the idle latency row: a trickle, far from any queue. */
export const IDLE_PPS = 1000;

interface LatencyCell { search: SearchCell; fraction: number }

/** Latency rows need a receiver that reads the stamps: every search row but testpmd's rxonly. */
function latencyCells(s: Scenario): LatencyCell[] {
  if (!s.latency) return [];
  return searchCells(s).filter((c) => !(c.test === 'rxonly' && c.tool === 'dpdk-testpmd'))
    .flatMap((c) => LATENCY_LOADS.map((fraction) => ({ search: c, fraction })));
}

const loadLabel = (f: number) => (f === 0 ? 'idle' : `${Math.round(f * 100)}pct`);

async function latencyTrial(ctx: TrialContext, l: LatencyCell): Promise<TrialOutcome> {
  const found = await foundOf(ctx, l.search.id);
  if (l.fraction > 0 && !found.pdrPps) throw new LabError({ code: 'ENOPDR', message: `no PDR found by ${l.search.id} in this run: its latency rows run at fractions of it`, hint: 'see that row\'s search' });
  const targetPps = l.fraction === 0 ? IDLE_PPS : l.fraction * found.pdrPps!;
  const dut = await startDut(ctx, l.search);
  try {
    ctx.phase('measure', `${(targetPps / 1e6).toFixed(3)} Mpps`);
    const r = await rateTrial(ctx, dut.path, { targetPps, durationMs: ctx.scenario.durationMs, mix: l.search.mix, flows: ctx.scenario.flows, phase: 'final' });
    if (!r.latency || r.latency.count === 0) throw new LabError({ code: 'ENOTRAFFIC', message: 'the receiver measured no stamped frames', hint: 'the generator or the DUT did not carry traffic; see the log' });
    const L = r.latency;
    return {
      commandLines: [...dut.commandLines, ...r.commandLines],
      metrics: {
        offeredPacketsPerSecond: r.trial.offeredPps, packetsPerSecond: r.trial.receivedPps, bitsPerSecond: bitsOf(r.trial.receivedPps, l.search.mix),
        lossRatio: r.trial.lossRatio, latencyMinNs: L.minNs, latencyP50Ns: L.p50Ns, latencyP90Ns: L.p90Ns, latencyP99Ns: L.p99Ns, latencyP999Ns: L.p999Ns, latencyMaxNs: L.maxNs,
      },
      latency: L, ...(r.stream ? { stream: r.stream } : {}),
    };
  } finally {
    await dut.stop();
  }
}

const latencyKind = (kind: string, test: SearchCell['test'], needs: 'packet' | 'forward') => defineRowKind<LatencyCell>({
  kind,
  needs,
  viaHelper: 'latency rows start their generator and receiver in the lab\'s namespaces',
  plan: (s) => latencyCells(s).filter((l) => l.search.test === test).map((l, i) => ({
    spec: {
      ...rowSpec(l.search), id: `latency-${l.search.id.slice('search-'.length)}-${loadLabel(l.fraction)}`, order: [...l.search.order, 1, i],
      load: { goal: 'pdr', fraction: l.fraction, ofRow: l.search.id }, ...(l.search.mix === 'imix' ? { frameMix: 'imix' } : {}),
    },
    params: l,
  })),
  run: latencyTrial,
});

export const latencyRows = latencyKind('latency-rx', 'rxonly', 'packet');
export const latencyForwardRows = latencyKind('latency-fwd', 'io', 'forward');
