// npm run bench:ndr — receivers compared by what they take without loss: xdplab's and
// dpdk-testpmd's rxonly (the DUT receives from the peer) and io (the DUT forwards A -> M -> B),
// each behind the same rate-controlled xdplab generator, NDR and PDR searched per trial, trials
// interleaved A B A B (--pairs N, at least 3) with the quiet-machine discipline; the ratio of the
// NDRs per pair. A search the generator bounds gives no ratio: the row says "generator-bound at
// N Mpps" (when only xdplab's is bound, the ratio is a lower bound: ratioAtLeast). Then the reference check: --check N constant-rate trials at each NDR (no loss
// expected) and one 5% above it (loss expected), recorded in each search.
// It is a front end of the run model: one RunManager run, the same rows as
//   xdplab bench --engines rxonly,io --reference testpmd --search ndr,pdr --interleave
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Report, Row } from '../contracts/report.js';
import { collectEnvironment } from '../report/environment.js';
import { median } from '../report/statistics.js';
import { PROJECT_ROOT } from '../paths.js';
import { RunManager } from '../runs/run-manager.js';

const { values } = parseArgs({ options: { pairs: { type: 'string' }, seconds: { type: 'string' }, engines: { type: 'string' }, modes: { type: 'string' }, check: { type: 'string' }, confirm: { type: 'string' }, 'max-other-cpu': { type: 'string' }, 'quiet-wait-s': { type: 'string' } } });
const pairs = Math.max(3, Number(values.pairs ?? 3));
const seconds = Number(values.seconds ?? 10);
const engines = (values.engines ?? 'rxonly,io').split(',');
const modes = (values.modes ?? 'native,skb').split(',');
const check = Number(values.check ?? 5);
// --confirm N: each result must hold in N full-length trials inside the search (MLRsearch-style).
const confirm = Number(values.confirm ?? 1);
if (process.getuid?.() !== 0) { console.error('bench:ndr needs root (namespaces, XDP, AF_XDP)'); process.exit(1); }

const reportsDir = mkdtempSync(join(tmpdir(), 'xdplab-ndr-'));
const runs = new RunManager(reportsDir);
runs.on('runProgress', (p) => process.stderr.write(`${p.row}: pair ${p.trial + 1}/${p.trials} ${p.message ?? ''}\n`));
runs.on('log', (l) => process.stderr.write(`  ${l.message}\n`));
const command = ['npm', 'run', 'bench:ndr', '--', ...process.argv.slice(2)];
const started = await runs.start({
  tests: engines, modes, reference: ['testpmd'], frameBytes: [64], search: ['ndr', 'pdr'], searchCheck: check, searchConfirm: confirm,
  durationMs: seconds * 1000, searchTrialMs: 1000, trials: pairs, interleave: true,
  quiet: { maxOtherCpus: Number(values['max-other-cpu'] ?? 0.15), waitMs: Number(values['quiet-wait-s'] ?? 60) * 1000 },
}, { command });
const report: Report = await started.done;
rmSync(reportsDir, { recursive: true, force: true });

const errors: string[] = [];
const ok = (row: Row | undefined) => {
  for (const t of row?.trials ?? []) if (t.error) errors.push(`${row!.id} pair ${t.index}: ${t.error}`);
  return Array.from({ length: pairs }, (_, i) => row?.trials.find((t) => t.index === i && t.status === 'ok'));
};
const out: Record<string, unknown>[] = [];
for (const engine of engines) {
  for (const mode of modes) {
    const base = `search-${engine}-${mode}-64B`;
    const [x, t] = [ok(report.rows.find((r) => r.id === base)), ok(report.rows.find((r) => r.id === `${base}-testpmd`))];
    const ndr = (tr: (typeof x)[number]) => tr?.search?.goals.find((g) => g.name === 'ndr');
    const boundOf = (trs: typeof x) => trs.map((tr) => tr?.search?.generatorBound ? ndr(tr)?.note : undefined).find(Boolean);
    const [xBound, tBound] = [boundOf(x), boundOf(t)];
    const ratios = x.map((tr, i) => (ndr(tr)?.lowerPps ?? NaN) / (ndr(t[i])?.lowerPps ?? NaN)).filter(Number.isFinite);
    // Only xdplab's side generator-bound: its NDR is a lower bound, and so is the ratio.
    const ratio = tBound ? { ratio: null, note: `testpmd: ${tBound}` }
      : xBound ? { ratio: null, ratioAtLeast: median(ratios), pairRatiosAtLeast: ratios, note: `xdplab: ${xBound}` }
      : { ratio: median(ratios), pairRatios: ratios };
    const checkOf = (trs: typeof x) => trs.map((tr) => ({ lossFree: tr?.metrics.ndrCheckLossFree, of: tr?.metrics.ndrCheckTrials, aboveLoss: tr?.metrics.ndrCheckAboveLossRatio }));
    out.push({
      row: `${engine}-${mode}`,
      xdplabNdrMpps: median(x.map((tr) => (ndr(tr)?.lowerPps ?? NaN) / 1e6).filter(Number.isFinite)),
      testpmdNdrMpps: median(t.map((tr) => (ndr(tr)?.lowerPps ?? NaN) / 1e6).filter(Number.isFinite)),
      ...ratio,
      xdplabCheck: checkOf(x), testpmdCheck: checkOf(t), goal: 1.1,
    });
  }
}
const result = { schema: 'xdplab.bench.ndr/1', at: new Date().toISOString(), pairs, seconds, check, confirm, environment: collectEnvironment(), rows: out, reportStatus: report.status, errors, report };
const dir = join(PROJECT_ROOT, 'benchmarks', 'results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `ndr-${result.at.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify(result, null, 1));
for (const r of out) console.log(JSON.stringify(r));
if (errors.length) console.log(`errors:\n  ${errors.join('\n  ')}`);
console.log(`saved ${file}`);
