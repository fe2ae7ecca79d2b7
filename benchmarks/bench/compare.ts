// npm run bench:compare — xdplab's txonly, rxonly and io against dpdk-testpmd's AF_XDP PMD on
// the same veth pair in one run, alternating (A B A B, --pairs N, at least 3), per mode, as
// median ratios; rxonly against the XDP-drop ceiling for the same sender; and the sampler's
// cost: txonly sampled every 0.25 s against the same run read only at its end. It is a front
// end of the run model: one RunManager run with --reference testpmd, trials interleaved (pair i
// of every row before pair i+1) and the quiet-machine discipline (each trial waits for other
// processes to go quiet, and a trial they disturbed runs again), the same rows `xdplab bench`
// runs. Each row also says how much of the offered load its receiver took and how the DUT's CPU
// time split between user space and the kernel.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Report } from '../contracts/report.js';
import { Lab } from '../lab/lab.js';
import { createPacketTopology, macOf } from '../lab/topology.js';
import { startWorker } from '../engines/worker-client.js';
import { collectEnvironment } from '../report/environment.js';
import { median } from '../report/statistics.js';
import { PROJECT_ROOT } from '../paths.js';
import { RunManager } from '../runs/run-manager.js';
import { waitForQuiet } from '../lab/quiet-machine.js';

const { values } = parseArgs({ options: { pairs: { type: 'string' }, seconds: { type: 'string' }, engines: { type: 'string' }, modes: { type: 'string' }, 'max-other-cpu': { type: 'string' }, 'quiet-wait-s': { type: 'string' } } });
const pairs = Math.max(3, Number(values.pairs ?? 5));
const seconds = Number(values.seconds ?? 3);
const engines = (values.engines ?? 'txonly,rxonly,io').split(',');
const modes = (values.modes ?? 'native,skb').split(',');
const maxOtherCpu = Number(values['max-other-cpu'] ?? 0.15);
const quietWaitMs = Number(values['quiet-wait-s'] ?? 60) * 1000;
if (process.getuid?.() !== 0) { console.error('bench:compare needs root (namespaces, XDP, AF_XDP)'); process.exit(1); }

const reportsDir = mkdtempSync(join(tmpdir(), 'xdplab-compare-'));
const errors: string[] = [];
const out: Record<string, unknown>[] = [];
const runs = new RunManager(reportsDir);
runs.on('runProgress', (p) => { if (p.phase === 'setup') process.stderr.write(`${p.row}: pair ${p.trial + 1}/${p.trials}\n`); });
runs.on('log', (l) => process.stderr.write(`  ${l.message}\n`));
const started = await runs.start({
  tests: engines, modes, reference: ['testpmd'], frameBytes: [64], durationMs: seconds * 1000, warmupMs: 1000, trials: pairs,
  interleave: true, quiet: { maxOtherCpus: maxOtherCpu, waitMs: quietWaitMs },
}, { command: ['npm', 'run', 'bench:compare', '--', ...process.argv.slice(2)] });
const report: Report = await started.done;
rmSync(reportsDir, { recursive: true, force: true });
/** Each row's command lines, from its trials. */
const commandLines = Object.fromEntries(report.rows.map((r) => [r.id, r.commandLines]));
const trialsOf = (id: string): Array<Record<string, number>> => {
  const row = report.rows.find((r) => r.id === id);
  for (const t of row?.trials ?? []) if (t.error) errors.push(`${id} pair ${t.index}: ${t.error}`);
  return Array.from({ length: pairs }, (_, i) => row?.trials.find((t) => t.index === i && t.status === 'ok')?.metrics ?? {});
};
const lab = new Lab('compare');
try {
  for (const engine of engines) {
    for (const mode of modes) {
      const base = `${engine}-${mode}-64B`;
      const xm = trialsOf(base), tm = trialsOf(`${base}-testpmd`), cm = engine === 'rxonly' ? trialsOf(`${base}-xdp-drop`) : [];
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
  const packet = createPacketTopology(lab, { queues: 1 });
  const macs = { dut: macOf(lab, packet.dut), peer: macOf(lab, packet.peer) };
  // The sampler's cost: the same txonly run, sampled every 250 ms or read once at the end.
  const sampled: number[] = [], unsampled: number[] = [];
  for (let i = 0; i < pairs; i++) {
    for (const [ms, into] of [[250, sampled], [0, unsampled]] as const) {
      process.stderr.write(`sampler cost: pair ${i + 1}/${pairs}, sample every ${ms || 'never'}\n`);
      await waitForQuiet(maxOtherCpu, new Set([process.pid]), quietWaitMs);
      const w = startWorker(lab, { netns: packet.dut.netns!, ifname: packet.dut.ifname, engine: 'txonly', mode: 'native', seconds, warmupMs: 1000, sampleMs: ms, cpu: 1, srcMac: macs.dut, dstMac: macs.peer });
      const r = await w.done;
      into.push(r.ok ? r.packets / r.seconds : NaN);
    }
  }
  out.push({ row: 'sampler-cost', sampledMpps: median(sampled) / 1e6, unsampledMpps: median(unsampled) / 1e6, ratio: median(sampled.map((v, i) => v / unsampled[i]!)), goal: '>= 0.99' });
} finally {
  lab.close();
}
const result = { schema: 'xdplab.bench.compare/2', at: new Date().toISOString(), pairs, seconds, maxOtherCpu, environment: collectEnvironment(), rows: out, commandLines, reportStatus: report.status, errors };
const dir = join(PROJECT_ROOT, 'benchmarks', 'results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `compare-${result.at.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify(result, null, 1));
for (const r of out) console.log(JSON.stringify(r));
if (errors.length) console.log(`errors:\n  ${errors.join('\n  ')}`);
console.log(`saved ${file}`);
