// iperf3 TCP from namespace A to B across M, where `through` sets up what forwards in M (and
// returns its teardown). Samples come from iperf3's intervals, also those of a test that fails
// halfway.
import { runIperf3, type Iperf3Interval } from '../tools/iperf3.js';
import type { TrialContext, TrialOutcome } from './row-kind.js';

/** The order key of iperf3 rows: after every packet row. */
export const IPERF3_ORDER = 1;

export async function iperfTrial(ctx: TrialContext, through: (commandLines: string[]) => Promise<() => Promise<void>>): Promise<TrialOutcome> {
  const s = ctx.scenario, f = ctx.forward!;
  const commandLines: string[] = [];
  ctx.phase('setup');
  const teardown = await through(commandLines);
  try {
    ctx.phase('measure');
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
