// xdplab's own engines (txonly, rxonly, io, macswap) on the DUT: one row per packet cell.
// txonly sends into the peer's drop sink; the others take the peer generator's traffic.
import { performance } from 'node:perf_hooks';
import { LabError } from '../contracts/errors.js';
import { withDropSink } from './drop-sink.js';
import { offeredMetric, withGenerator, type Generator } from './generator.js';
import { offeredRate } from './offered-rate.js';
import { defineRowKind, packetCells, type PacketParams, type TrialContext, type TrialOutcome } from './row-kind.js';
import { TX_BUDGET, cpus, launch, sampleMs, sampler } from './trial-tools.js';

async function engineTrial(ctx: TrialContext, p: PacketParams): Promise<TrialOutcome> {
  const s = ctx.scenario, t = ctx.packet!;
  const run = async (extra: string[], gen?: Generator): Promise<TrialOutcome> => {
    ctx.phase('warmup');
    const spec = {
      ...(t.dut.netns ? { netns: t.dut.netns } : {}), ifname: t.dut.ifname, engine: p.test, mode: p.mode, copy: p.copy,
      seconds: s.durationMs / 1000, warmupMs: s.warmupMs, frameBytes: p.frameBytes, burst: s.burst, flows: s.flows, sampleMs: sampleMs(s),
      ...(p.test === 'rxonly' ? {} : { txBudget: TX_BUDGET }),
      ...(cpus().dut !== undefined ? { cpu: cpus().dut! } : {}), ...(ctx.macs ? { srcMac: ctx.macs.dut, dstMac: ctx.macs.peer } : {}),
    };
    // --rate paces txonly on the DUT (the receiving rows' generator is paced in generator.ts).
    const rate = p.test === 'txonly' ? await offeredRate(ctx, spec) : undefined;
    const w = await launch(ctx, { ...spec, ...(rate !== undefined ? { rate } : {}) }, sampler(ctx, p.test === 'rxonly' ? 'rx' : 'tx', p.frameBytes));
    const stopWatch = setInterval(() => { if (ctx.stopSignal.stop) w.stop(); }, 100);
    const ready = await w.ready.catch(() => undefined);
    if (ready) setTimeout(() => ctx.phase('measure'), s.warmupMs);
    const from = performance.now() + s.warmupMs;
    const r = await w.done.finally(() => clearInterval(stopWatch));
    const to = performance.now();
    if (!r.ok) throw new LabError(r.error);
    // Drops inside the measured window (the port's start-up is not the engine's loss).
    const stats = r.windowStats;
    const pps = r.seconds > 0 ? r.packets / r.seconds : 0;
    // Zero is not a measurement: something upstream (the generator, the link) did not run.
    if (r.packets === 0) throw new LabError({ code: 'ENOTRAFFIC', message: `${p.test} counted no packets in the measured window`, hint: 'the peer\'s generator or the link did not carry traffic; see the log' });
    return {
      commandLines: [...extra, w.commandLine],
      attached: { mode: r.mode, zeroCopy: r.zeroCopy },
      metrics: {
        packetsPerSecond: pps, bitsPerSecond: pps * p.frameBytes * 8, rxPackets: r.rx, txPackets: r.tx, seconds: r.seconds,
        // A frame the fill ring could not take counts in rx_dropped and in rx_fill_ring_empty_descs
        // both: the socket's losses are rx_dropped and rx_queue_full.
        droppedPackets: (stats.rxDropped ?? 0) + (stats.rxRingFull ?? 0),
        ...offeredMetric(gen, from, to), ...(rate !== undefined ? { targetPacketsPerSecond: rate } : {}),
        ...(r.windowCpu ? { cpuUserSeconds: r.windowCpu.userSeconds, cpuSystemSeconds: r.windowCpu.systemSeconds } : {}),
      },
    };
  };
  return p.test === 'txonly' ? withDropSink(ctx, p, run) : withGenerator(ctx, p, run);
}

export const engineRows = defineRowKind<PacketParams>({
  kind: 'engine',
  needs: 'packet',
  plan: (s) => packetCells(s, 0).map((c) => ({
    spec: { id: c.base, test: c.test, tool: 'xdplab', mode: c.mode, copy: c.copy, frameBytes: c.frameBytes, order: c.order },
    params: c,
  })),
  run: engineTrial,
});
