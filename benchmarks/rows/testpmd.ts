// dpdk-testpmd's AF_XDP PMD as the reference on the same DUT, in the same forwarding mode, with
// the same sink or generator (--reference testpmd).
import { performance } from 'node:perf_hooks';
import { LabError } from '../contracts/errors.js';
import { XskProgram, ifNameToIndex, withNetns } from '../../native/index.js';
import { processCpuSeconds } from '../lab/proc.js';
import { Testpmd, findTestpmd, rateFromSamples } from '../tools/testpmd.js';
import { withDropSink } from './drop-sink.js';
import { NO_TESTPMD, offeredMetric, withGenerator, type Generator } from './generator.js';
import { defineRowKind, packetCells, type PacketParams, type TrialContext, type TrialOutcome } from './row-kind.js';
import { sleep } from './trial-tools.js';

async function testpmdTrial(ctx: TrialContext, p: PacketParams): Promise<TrialOutcome> {
  if (!findTestpmd()) throw NO_TESTPMD('');
  const s = ctx.scenario, t = ctx.packet!, row = ctx.row;
  const run = async (extra: string[], gen?: Generator): Promise<TrialOutcome> => {
    // The PMD cannot be told a mode: it reuses an XSK program already attached (libxdp looks
    // for xsk_def_prog), so skb mode means attaching libxdp's program in skb mode first.
    ctx.lab.recordXdp(t.dut.netns, t.dut.ifname);
    const program = p.mode === 'skb' ? withNetns(t.dut.netns, () => XskProgram.attach(t.dut.ifname, ifNameToIndex(t.dut.ifname), 'skb', 0)) : null;
    const pmd = new Testpmd({
      netns: t.dut.netns ?? '', ifname: t.dut.ifname, forwardMode: p.test, filePrefix: `${ctx.lab.name('tp')}-${ctx.trial}`,
      lcores: [0, 1], mainLcore: 0, txpkts: p.frameBytes, burst: s.burst, devargs: p.copy ? { force_copy: 1 } : {},
      ...(p.test === 'io' || p.test === 'macswap' ? { appArgs: ['--port-topology=loop'] } : {}),
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
      const counter = p.test === 'rxonly' ? (x: { rxPackets: number }) => x.rxPackets : (x: { txPackets: number }) => x.txPackets;
      const rate = rateFromSamples(result.samples, counter, from - 1100, to + 1100);
      for (let i = 1; i < result.samples.length; i++) {
        const a = result.samples[i - 1]!, b = result.samples[i]!;
        if (a.atMs < from - 1100 || b.atMs > to + 1100) continue;
        const pps = ((counter(b) - counter(a)) * 1000) / (b.atMs - a.atMs);
        ctx.sample({ row: row.id, trial: ctx.trial, tMs: Math.round(b.atMs - from), intervalMs: Math.round(b.atMs - a.atMs), metrics: { packetsPerSecond: pps, bitsPerSecond: pps * p.frameBytes * 8 } });
      }
      if (!rate) throw new LabError({ code: 'ETESTPMD', message: 'testpmd printed too few statistics blocks in the window', hint: pmd.tail(10) });
      if (rate.pps === 0) throw new LabError({ code: 'ENOTRAFFIC', message: `testpmd counted no packets in the measured window (${p.test})`, hint: pmd.tail(10) });
      return {
        commandLines: [...extra, pmd.commandLine],
        attached: { mode: p.mode, zeroCopy: false },
        metrics: { packetsPerSecond: rate.pps, bitsPerSecond: rate.pps * p.frameBytes * 8, seconds: rate.seconds, droppedPackets: result.accumulated?.rxDropped ?? 0, ...offeredMetric(gen, from, to),
          ...(cpuFrom && cpuTo ? { cpuUserSeconds: cpuTo.userSeconds - cpuFrom.userSeconds, cpuSystemSeconds: cpuTo.systemSeconds - cpuFrom.systemSeconds } : {}) },
      };
    } finally {
      await pmd.stop();
      program?.detach();
    }
  };
  return p.test === 'txonly' ? withDropSink(ctx, p, run) : withGenerator(ctx, p, run);
}

export const testpmdRows = defineRowKind<PacketParams>({
  kind: 'testpmd',
  needs: 'packet',
  viaHelper: 'dpdk-testpmd opens its own AF_XDP sockets',
  plan: (s) => (s.reference.includes('testpmd') ? packetCells(s, 1).map((c) => ({
    spec: { id: `${c.base}-testpmd`, test: c.test, tool: 'dpdk-testpmd', mode: c.mode, copy: c.copy, frameBytes: c.frameBytes, order: c.order },
    params: c,
  })) : []),
  run: testpmdTrial,
});
