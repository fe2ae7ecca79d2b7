// The ceiling for rxonly: the kernel's own XDP drop rate at the DUT for the same sender, one row
// beside every rxonly cell.
import { performance } from 'node:perf_hooks';
import { XdpDropProgram, withNetns } from '../../native/index.js';
import { droppedBetween, readRxCounters } from '../tools/counters.js';
import { offeredMetric, withGenerator } from './generator.js';
import { defineRowKind, packetCells, type PacketParams, type TrialContext, type TrialOutcome } from './row-kind.js';
import { sampleMs, sleep } from './trial-tools.js';

async function ceilingTrial(ctx: TrialContext, p: PacketParams): Promise<TrialOutcome> {
  const s = ctx.scenario, t = ctx.packet!, row = ctx.row, mode = p.mode;
  return withGenerator(ctx, p, async (extra, gen) => {
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
        ctx.sample({ row: row.id, trial: ctx.trial, tMs: Math.round(cur.atMs - first.atMs), intervalMs: Math.round(d.seconds * 1000), metrics: { packetsPerSecond: d.frames / d.seconds, bitsPerSecond: (d.frames / d.seconds) * p.frameBytes * 8 } });
        prev = cur;
      }
      const total = droppedBetween(first, prev, mode);
      const pps = total.seconds > 0 ? total.frames / total.seconds : 0;
      return { commandLines: [...extra, `XDP drop program on ${t.dut.ifname} (${mode} mode), counted by ${total.counter}`], attached: { mode, zeroCopy: false }, metrics: { packetsPerSecond: pps, bitsPerSecond: pps * p.frameBytes * 8, seconds: total.seconds, ...offeredMetric(gen, first.atMs, prev.atMs) } };
    } finally {
      prog.detach();
    }
  });
}

export const ceilingRows = defineRowKind<PacketParams>({
  kind: 'ceiling',
  needs: 'packet',
  viaHelper: 'the xdp-drop ceiling runs the kernel program on the device under test',
  plan: (s) => packetCells(s, 2).filter((c) => c.test === 'rxonly').map((c) => ({
    spec: { id: `${c.base}-xdp-drop`, test: c.test, tool: 'xdp-drop', mode: c.mode, copy: false, frameBytes: c.frameBytes, order: c.order },
    params: { ...c, copy: false },
  })),
  run: ceilingTrial,
});
