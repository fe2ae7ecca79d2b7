// npm run bench:compare — xdplab's txonly, rxonly and io against dpdk-testpmd's AF_XDP PMD on
// the same veth pair in one run, alternating (A B A B, --pairs N, at least 3), per mode, as
// median ratios; rxonly against the XDP-drop ceiling for the same sender; and the sampler's
// cost: txonly sampled every 0.25 s against the same run read only at its end. Each side of a
// pair waits for a quiet machine first (other processes under --max-other-cpu for a second):
// on 2 cores another process's work lands on the DUT's or the generator's CPU. The rows run
// through runs/row-runners.ts, as `xdplab bench` does: the same pinning, bursts, generator and
// sink for both tools; each row also says how much of the offered
// load its receiver took and how the DUT's CPU time split between user space and the kernel.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describeError } from '../../native/errors.js';
import { Lab } from '../lab/lab.js';
import { collectEnvironment } from '../report/environment.js';
import { PROJECT_ROOT } from '../paths.js';
import type { RowPlan } from '../runs/plan.js';
import { runTrial, type TrialContext } from '../runs/row-runners.js';
import { resolveScenario } from '../runs/scenario.js';
import { median } from '../runs/statistics.js';
import { createPacketTopology, macOf } from '../runs/topology.js';
import { startWorker } from '../runs/worker-client.js';
import { waitForQuiet } from './quiet-machine.js';

const { values } = parseArgs({ options: { pairs: { type: 'string' }, seconds: { type: 'string' }, engines: { type: 'string' }, modes: { type: 'string' }, 'max-other-cpu': { type: 'string' }, 'quiet-wait-s': { type: 'string' } } });
const pairs = Math.max(3, Number(values.pairs ?? 5));
const seconds = Number(values.seconds ?? 3);
const engines = (values.engines ?? 'txonly,rxonly,io').split(',') as Array<'txonly' | 'rxonly' | 'io'>;
const modes = (values.modes ?? 'native,skb').split(',') as Array<'native' | 'skb'>;
const maxOtherCpu = Number(values['max-other-cpu'] ?? 0.15);
const quietWaitMs = Number(values['quiet-wait-s'] ?? 60) * 1000;
if (process.getuid?.() !== 0) { console.error('bench:compare needs root (namespaces, XDP, AF_XDP)'); process.exit(1); }

const scenario = resolveScenario({ durationMs: seconds * 1000, warmupMs: 1000, trials: 1 });
const lab = new Lab('compare');
const out: Record<string, unknown>[] = [];
const errors: string[] = [];
/** Each row's command lines (and where its receive work ran), from its first trial. */
const commandLines: Record<string, string[]> = {};
/** Seconds each trial waited for a quiet machine, and what other processes used in the last second. */
const quiet: Array<{ trial: string; waitedS: number; otherCpus: number; top: string }> = [];
const waitQuiet = async (trial: string) => {
  const q = await waitForQuiet(maxOtherCpu, new Set([process.pid]), quietWaitMs);
  quiet.push({ trial, waitedS: Math.round(q.waitedMs / 100) / 10, otherCpus: Math.round(q.last.cpus * 100) / 100, top: q.last.top.map((u) => `${u.comm} ${u.cpus.toFixed(2)}`).join(', ') });
};
try {
  const packet = createPacketTopology(lab, scenario);
  const macs = { dut: macOf(lab, packet.dut), peer: macOf(lab, packet.peer) };
  const trial = async (row: RowPlan, i: number): Promise<Record<string, number>> => {
    const ctx: TrialContext = { lab, scenario, row, trial: i, packet, macs, sample: () => {}, phase: () => {}, stopSignal: { stop: false } };
    await waitQuiet(`${row.id} ${i}`);
    try {
      const o = await runTrial(ctx);
      commandLines[row.id] ??= o.commandLines;
      return o.metrics;
    } catch (err) {
      errors.push(`${row.id} pair ${i}: ${describeError(err)}`);
      return {};
    }
  };
  for (const engine of engines) {
    for (const mode of modes) {
      const base = { test: engine, mode, copy: false, frameBytes: 64 } as const;
      const xm: Array<Record<string, number>> = [], tm: Array<Record<string, number>> = [], cm: Array<Record<string, number>> = [];
      for (let i = 0; i < pairs; i++) {
        process.stderr.write(`${engine} ${mode}: pair ${i + 1}/${pairs}\n`);
        xm.push(await trial({ ...base, id: `${engine}-${mode}`, kind: 'engine', tool: 'xdplab' }, i));
        tm.push(await trial({ ...base, id: `${engine}-${mode}-testpmd`, kind: 'testpmd', tool: 'dpdk-testpmd' }, i));
        if (engine === 'rxonly') cm.push(await trial({ ...base, id: `${engine}-${mode}-ceiling`, kind: 'ceiling', tool: 'xdp-drop' }, i));
      }
      const pps = (ms: Array<Record<string, number>>) => ms.map((m) => m.packetsPerSecond ?? NaN);
      const [x, t, c] = [pps(xm), pps(tm), pps(cm)];
      const pairRatios = (a: number[], b: number[]) => a.map((v, i) => v / b[i]!).filter(Number.isFinite);
      /** Of what the generator sent in the receiver's window, the share the receiver counted. */
      const tookOfOffered = (ms: Array<Record<string, number>>) => median(ms.map((m) => (m.packetsPerSecond ?? NaN) / (m.offeredPacketsPerSecond ?? NaN)).filter(Number.isFinite));
      /** Of the DUT process's CPU time in the window, the share spent in user space (the rest: the kernel's send path and system calls). */
      const userShare = (ms: Array<Record<string, number>>) => median(ms.map((m) => m.cpuUserSeconds! / (m.cpuUserSeconds! + m.cpuSystemSeconds!)).filter(Number.isFinite));
      const ratios = pairRatios(x, t);
      const med = (a: number[]) => median(a.filter(Number.isFinite));
      out.push({
        row: `${engine}-${mode}`, xdplabMpps: med(x) / 1e6, testpmdMpps: med(t) / 1e6, ratio: median(ratios), pairRatios: ratios,
        xdplabUserCpuShare: userShare(xm), testpmdUserCpuShare: userShare(tm),
        ...(engine !== 'txonly' ? { xdplabTookOfOffered: tookOfOffered(xm), testpmdTookOfOffered: tookOfOffered(tm) } : {}),
        ...(c.length ? { ceilingMpps: med(c) / 1e6, ofCeiling: median(pairRatios(x, c)), ceilingPairRatios: pairRatios(x, c) } : {}), goal: 1.1,
      });
    }
  }
  // The sampler's cost: the same txonly run, sampled every 250 ms or read once at the end.
  const sampled: number[] = [], unsampled: number[] = [];
  for (let i = 0; i < pairs; i++) {
    for (const [ms, into] of [[250, sampled], [0, unsampled]] as const) {
      process.stderr.write(`sampler cost: pair ${i + 1}/${pairs}, sample every ${ms || 'never'}\n`);
      await waitQuiet(`sampler ${ms} ${i}`);
      const w = startWorker(lab, { netns: packet.dut.netns!, ifname: packet.dut.ifname, engine: 'txonly', mode: 'native', seconds, warmupMs: 1000, sampleMs: ms, cpu: 1, srcMac: macs.dut, dstMac: macs.peer });
      const r = await w.done;
      into.push(r.ok ? r.packets / r.seconds : NaN);
    }
  }
  out.push({ row: 'sampler-cost', sampledMpps: median(sampled) / 1e6, unsampledMpps: median(unsampled) / 1e6, ratio: median(sampled.map((v, i) => v / unsampled[i]!)), goal: '>= 0.99' });
} finally {
  lab.close();
}
const result = { schema: 'xdplab.bench.compare/1', at: new Date().toISOString(), pairs, seconds, maxOtherCpu, environment: collectEnvironment(), rows: out, commandLines, quiet, errors };
const dir = join(PROJECT_ROOT, 'benchmarks', 'results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `compare-${result.at.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify(result, null, 1));
for (const r of out) console.log(JSON.stringify(r));
if (errors.length) console.log(`errors:\n  ${errors.join('\n  ')}`);
console.log(`saved ${file}`);
