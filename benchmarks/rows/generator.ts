// Traffic for the receiving rows (rxonly, io, macswap, the ceiling) from the peer, for longer
// than the DUT's warm-up and window: xdplab's txonly (default) or dpdk-testpmd's txonly
// (--generator testpmd), the peer's forwarding thread on CPU 0 either way; xdplab's at --rate when given. `offered` is what it
// sent per second between two instants (performance.now()), from its own counters, so that a
// receiver's row says how much of the offered load it took.
import { performance } from 'node:perf_hooks';
import { LabError } from '../contracts/errors.js';
import { Testpmd, findTestpmd, rateFromSamples } from '../tools/testpmd.js';
import { offeredRate } from './offered-rate.js';
import type { PacketParams, TrialContext } from './row-kind.js';
import { TX_BUDGET, cpus, launchOnPeer } from './trial-tools.js';

export interface Generator { commandLine: string; offered(fromMs: number, toMs: number): number | undefined; stop(): Promise<void> }

/** Cumulative transmit counts of a generator, read as they arrive. */
const GENERATOR_SAMPLE_MS = 250;

export const NO_TESTPMD = (what: string) => new LabError({ code: 'ENOTOOL', message: `${what}dpdk-testpmd is not installed`, hint: 'npm run setup installs dpdk and librte-net-af-xdp23' });

async function startGenerator(ctx: TrialContext, p: PacketParams): Promise<Generator> {
  const s = ctx.scenario;
  const t = ctx.packet!;
  if (s.generator === 'testpmd') {
    if (!findTestpmd()) throw NO_TESTPMD('--generator testpmd: ');
    const pmd = new Testpmd({
      netns: t.peer.netns ?? '', ifname: t.peer.ifname, forwardMode: 'txonly', filePrefix: `${ctx.lab.name('tg')}-${ctx.trial}`,
      lcores: [0, 1], mainLcore: 1, txpkts: p.frameBytes, burst: s.burst, ...(ctx.macs ? { appArgs: [`--eth-peer=0,${ctx.macs.dut}`] } : {}),
    });
    await pmd.start(ctx.lab);
    const offered = (from: number, to: number) => rateFromSamples(pmd.samples, (x) => x.txPackets, from - 1100, to + 1100)?.pps;
    return { commandLine: pmd.commandLine, offered, stop: async () => { await pmd.stop(); } };
  }
  const sent: Array<{ atMs: number; tx: number }> = [];
  const spec = {
    ...(t.peer.netns ? { netns: t.peer.netns } : {}), ifname: t.peer.ifname, engine: 'txonly' as const, mode: p.mode,
    // Stopped by withGenerator; the margin covers a slow start of the tool under test.
    seconds: (s.warmupMs + s.durationMs) / 1000 + 120, warmupMs: 0, frameBytes: p.frameBytes, burst: s.burst, flows: s.flows,
    sampleMs: GENERATOR_SAMPLE_MS, txBudget: TX_BUDGET, ...(cpus().peer !== undefined ? { cpu: cpus().peer! } : {}), ...(ctx.macs ? { srcMac: ctx.macs.peer, dstMac: ctx.macs.dut } : {}),
  };
  const rate = await offeredRate(ctx, spec);
  const worker = await launchOnPeer(ctx, { ...spec, ...(rate !== undefined ? { rate } : {}) }, (ev) => { sent.push({ atMs: performance.now(), tx: ev.tx }); });
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
export function offeredMetric(gen: Generator | undefined, fromMs: number, toMs: number): { offeredPacketsPerSecond?: number } {
  const pps = gen?.offered(fromMs, toMs);
  return pps !== undefined && Number.isFinite(pps) ? { offeredPacketsPerSecond: pps } : {};
}

export async function withGenerator<T>(ctx: TrialContext, p: PacketParams, fn: (commandLines: string[], gen: Generator) => Promise<T>): Promise<T> {
  const gen = await startGenerator(ctx, p);
  try {
    return await fn([gen.commandLine], gen);
  } finally {
    await gen.stop();
  }
}
