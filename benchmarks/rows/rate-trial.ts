// One constant-rate trial, as a search or a latency row runs it: xdplab's generator sends
// stamped frames at a target rate for a fixed time, and a receiver counts what arrived. The
// receiver is xdplab's measuring rxonly (loss per flow, reordering, duplicates, latency), or a
// device that only counts (dpdk-testpmd's rxonly: its RX-packets before and after).
//
// Loss is counted over the whole stream, not a window: the receiver starts before the first
// frame and stops after the last one could arrive, so sent - received is exact.
import { LabError } from '../contracts/errors.js';
import type { Latency, SearchTrial, StreamCounts } from '../contracts/report.js';
import { meanFrameBytes, type FrameMix } from '../contracts/traffic.js';
import type { AfXdpMode } from '../contracts/datapath.js';
import { streamCounts } from '../engines/stream-counts.js';
import type { Endpoint } from '../lab/topology.js';
import { lossesBetween, readLossCounters } from '../tools/counters.js';
import type { TrialContext } from './row-kind.js';
import { DUT_BUSY_POLL_BUDGET, RECEIVER_RING, TX_BUDGET, cpus, launch, sleep } from './trial-tools.js';

/** A receiver that only counts frames (cumulative), read after the trial's last frame. */
export interface CountingReceiver { commandLine: string; count(afterMs: number): Promise<number> }

export interface RatePath {
  /** Where the generator sends from, and the MACs it writes. */
  gen: Endpoint;
  macs?: { src: string; dst: string };
  /**
   * xdplab's measuring receiver at this end (`dut`: it is the device under test, not only the
   * instrument), or a DUT that counts.
   */
  receiver: { at: Endpoint; dut?: boolean } | { counting: CountingReceiver };
  mode: AfXdpMode;
  /** Interfaces on this host whose loss counters each trial records (trial.drops), by name. */
  watch?: Record<string, Endpoint>;
}

async function readWatched(path: RatePath): Promise<Record<string, Record<string, number>> | undefined> {
  if (!path.watch) return undefined;
  const ends = Object.entries(path.watch);
  const read = await Promise.all(ends.map(([, e]) => readLossCounters(e.netns, e.ifname)));
  return Object.fromEntries(ends.map(([name], i) => [name, read[i]!]));
}

export interface RateTrialSpec {
  /** Packets per second; undefined: as fast as the generator goes. */
  targetPps: number | undefined;
  durationMs: number;
  mix: FrameMix;
  flows: number;
  phase: SearchTrial['phase'];
}

export interface RateTrialResult { trial: SearchTrial; latency?: Latency; stream?: StreamCounts; commandLines: string[] }

/** How long after the generator's last frame the receiver keeps counting. */
const DRAIN_MS = 200;

export async function rateTrial(ctx: TrialContext, path: RatePath, t: RateTrialSpec): Promise<RateTrialResult> {
  const s = ctx.scenario;
  const c = cpus();
  const measuring = 'at' in path.receiver ? path.receiver : undefined;
  const recvAt = measuring?.at;
  const receiver = recvAt ? await launch(ctx, {
    ...(recvAt.netns ? { netns: recvAt.netns } : {}), ifname: recvAt.ifname, engine: 'rxonly', mode: path.mode, measure: true, flows: t.flows,
    ringSize: RECEIVER_RING, frameCount: 2 * RECEIVER_RING,
    // Stopped below, once the stream has ended.
    seconds: t.durationMs / 1000 + 120, warmupMs: 0, burst: s.burst, sampleMs: 0,
    // As the DUT it runs as testpmd's rxonly does: on the DUT's CPU, busy polling with the PMD's
    // default budget, so the kernel's receive work (XDP, the copy into the UMEM) runs on the
    // receiver's CPU for both tools and not on the generator's. As an instrument it is
    // unpinned and sleeps in poll() when idle: pinned beside the generator it took the
    // generator's CPU time (the generator then missed its rate).
    ...(measuring?.dut ? { busyPollBudget: DUT_BUSY_POLL_BUDGET, ...(c.dut !== undefined ? { cpu: c.dut } : {}) } : {}),
  }) : undefined;
  try {
    if (receiver) await receiver.ready;
    const counting = 'counting' in path.receiver ? path.receiver.counting : undefined;
    const before = counting ? await counting.count(performance.now()) : 0;
    const lossAtStart = await readWatched(path);
    const gen = await launch(ctx, {
      ...(path.gen.netns ? { netns: path.gen.netns } : {}), ifname: path.gen.ifname, engine: 'txonly', mode: path.mode,
      seconds: t.durationMs / 1000, warmupMs: 0, burst: s.burst, flows: t.flows, sampleMs: 0, txBudget: TX_BUDGET,
      frameMix: t.mix, stamp: true, ...(t.targetPps !== undefined ? { rate: Math.max(1, Math.round(t.targetPps)) } : {}),
      ...(c.peer !== undefined ? { cpu: c.peer } : {}), ...(path.macs ? { srcMac: path.macs.src, dstMac: path.macs.dst } : {}),
    });
    const stopGen = setInterval(() => { if (ctx.stopSignal.stop) gen.stop(); }, 100);
    const g = await gen.done.finally(() => clearInterval(stopGen));
    if (!g.ok) throw new LabError(g.error);
    if (ctx.stopSignal.stop) throw new LabError({ code: 'ESTOPPED', message: 'the run was stopped' });
    const sentPerFlow = g.stream && 'sentPerFlow' in g.stream ? g.stream.sentPerFlow : [g.tx];
    const sent = sentPerFlow.reduce((a, b) => a + b, 0);
    const seconds = g.seconds > 0 ? g.seconds : t.durationMs / 1000;
    const offeredPps = g.achievedPps ?? sent / seconds;
    await sleep(DRAIN_MS);
    let received: number;
    let stream: StreamCounts | undefined;
    let latency: Latency | undefined;
    if (receiver) {
      receiver.stop();
      const r = await receiver.done;
      if (!r.ok) throw new LabError(r.error);
      if (!r.stream || !('receivedPerFlow' in r.stream)) throw new LabError({ code: 'EWORKER', message: 'the measuring receiver returned no stream counts' });
      stream = streamCounts(sentPerFlow, r.stream);
      latency = r.latency;
      received = stream.received - stream.duplicated;
    } else {
      received = Math.max(0, (await counting!.count(performance.now())) - before);
    }
    const lost = Math.max(0, sent - received);
    const lossAtEnd = lossAtStart ? await readWatched(path) : undefined;
    const drops = lossAtStart && lossAtEnd ? lossesBetween(lossAtStart, lossAtEnd) : {};
    return {
      trial: {
        targetPps: t.targetPps ?? offeredPps, offeredPps, receivedPps: received / seconds, sent, received,
        lossRatio: sent > 0 ? lost / sent : 0, durationMs: t.durationMs, phase: t.phase,
        ...(Object.keys(drops).length ? { drops } : {}),
      },
      ...(latency ? { latency } : {}), ...(stream ? { stream } : {}),
      commandLines: [gen.commandLine, ...(receiver ? [receiver.commandLine] : [])],
    };
  } finally {
    receiver?.stop();
    await receiver?.done;
  }
}

/** Bits per second of a packet rate in a frame mix (frames as handed to the device). */
export const bitsOf = (pps: number, mix: FrameMix): number => pps * meanFrameBytes(mix) * 8;
