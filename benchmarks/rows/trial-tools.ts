// What the host row kinds share inside a trial: the CPU pinning, the transmit budget, starting
// engine workers (here or through xdplab helper), interface counters, and the sampling interval.
import { cpus as osCpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Scenario } from '../contracts/scenario.js';
import type { WorkerSampleEvent, WorkerSpecInput } from '../contracts/worker.js';
import { startWorker, type RunningWorker } from '../engines/worker-client.js';
import type { Endpoint } from '../lab/topology.js';
import { readRxCounters } from '../tools/counters.js';
import { helperCounters, startWorkerViaHelper } from './helper-session.js';
import type { TrialContext } from './row-kind.js';

export const sleep = (ms: number, stop?: { stop: boolean }) => new Promise<void>((resolve) => {
  const end = performance.now() + ms;
  const tick = () => (stop?.stop || performance.now() >= end ? resolve() : setTimeout(tick, Math.min(100, end - performance.now())));
  tick();
});

/** The device under test on CPU 1, the peer on CPU 0: the same pinning for every tool. */
export const cpus = (): { dut?: number; peer?: number } => (osCpus().length >= 2 ? { dut: 1, peer: 0 } : {});

/**
 * rx ring entries of xdplab's measuring receiver (its fill ring is kept as deep, its UMEM holds
 * twice as many frames). A receiver preempted for T ms at R pps loses what exceeds its depth;
 * on this 2-core host stalls of 10-20 ms are common, and at 0.4-0.6 Mpps they cost 0.1-0.4% of
 * the frames at the default 2048 entries and none at 8192. (DPDK's AF_XDP PMD keeps 2048 fill
 * entries whatever --rxd says: its depth is fixed.)
 */
export const RECEIVER_RING = 8192;

/** SO_BUSY_POLL_BUDGET of xdplab's receiver as a DUT: the AF_XDP PMD's default busy_budget. */
export const DUT_BUSY_POLL_BUDGET = 64;

/**
 * XDP_MAX_TX_SKB_BUDGET for xdplab's transmitting engines: frames the kernel sends per sendto in
 * copy mode (the kernel's default is 32). A burst goes out in one system call instead of
 * several; the worker records whether the kernel took it (Linux 6.17+).
 */
export const TX_BUDGET = 256;

/** Engine workers: started here, or on sockets from xdplab helper when the run has one. */
export function launch(ctx: TrialContext, spec: WorkerSpecInput, onSample?: (s: WorkerSampleEvent) => void): Promise<RunningWorker> {
  return ctx.helper ? startWorkerViaHelper(ctx.helper, ctx.lab, spec, onSample) : Promise.resolve(startWorker(ctx.lab, spec, onSample));
}

export const rxCounters = (ctx: TrialContext, e: Endpoint) => (ctx.helper ? helperCounters(ctx.helper, e) : readRxCounters(e.netns, e.ifname));

/** Workers on the packet topology's peer end: on the peer host when the run has one. */
export function launchOnPeer(ctx: TrialContext, spec: WorkerSpecInput, onSample?: (s: WorkerSampleEvent) => void): Promise<RunningWorker> {
  return ctx.remote ? ctx.remote.startWorker(spec, onSample) : launch(ctx, spec, onSample);
}

/** The peer end's receive counters, read where it is. */
export const peerCounters = (ctx: TrialContext) => (ctx.remote ? ctx.remote.counters(ctx.packet!.peer) : rxCounters(ctx, ctx.packet!.peer));

/** Turns a worker's cumulative counts into interval rates in the measured window. */
export function sampler(ctx: TrialContext, counter: 'rx' | 'tx', frameBytes: number) {
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
export function sampleMs(s: Scenario): number {
  return Math.max(100, Math.min(s.sampleIntervalMs, Math.floor(s.durationMs / 4)));
}
