// `xdplab report show A`, `xdplab report compare A B` and `xdplab report rerun A`: a report is a
// path to a run directory (or its report.json) or a run id under the reports directory.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LabError } from '../../contracts/errors.js';
import { compareReports } from '../../report/compare.js';
import { searchText } from '../../report/search-text.js';
import { frameText } from '../../report/views.js';
import { ReportSchema, type Report } from '../../contracts/report.js';
import { defaultReportsDir } from '../../runs/run-manager.js';
import type { Scenario } from '../../contracts/scenario.js';
import { UsageError, type Io } from '../io.js';

export const REPORT_USAGE = `Usage: xdplab report show A [--out DIR]
       xdplab report compare A B [--json] [--out DIR]
       xdplab report rerun A [--out DIR]

A and B are run directories, report.json files, or run ids in the reports directory.
show     every row's median rates, then each rate search's NDR/PDR (bounds, loss tolerance,
         converged), each latency row's percentiles and the frame-size sweeps
compare  the change per row between two reports (B against A) and whether it is beyond the
         noise (95% interval of the difference excludes zero, and the change is 2% or more
         with two or more trials a side, 10% or more with one); exit 0
rerun    runs A's scenario again and writes a new report beside it
`;

export function loadReport(ref: string, reportsDir = defaultReportsDir()): Report {
  let file = ref;
  if (existsSync(ref) && statSync(ref).isDirectory()) file = join(ref, 'report.json');
  else if (!existsSync(ref)) {
    const name = existsSync(reportsDir) ? readdirSync(reportsDir).find((d) => d === ref || d.endsWith(`-${ref}`)) : undefined;
    if (!name) throw new LabError({ code: 'ENOENT', field: 'report', message: `report: '${ref}' is not a run directory, a report.json or a run id in ${reportsDir}` });
    file = join(reportsDir, name, 'report.json');
  }
  let parsed: unknown;
  try { parsed = JSON.parse(readFileSync(file, 'utf8')); } catch (err) {
    throw new LabError({ code: 'EBADREPORT', field: 'report', message: `report: cannot read ${file}: ${(err as Error).message}` });
  }
  const r = ReportSchema.safeParse(parsed);
  if (!r.success) throw new LabError({ code: 'EBADREPORT', field: 'report', message: `report: ${file} is not an xdplab report (schemaVersion 1 to 3): ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}` });
  return r.data;
}

const pct = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%` : '-');

export async function run(args: string[], io: Io): Promise<number> {
  const parse = () => parseArgs({ args, allowPositionals: true, strict: true, options: { json: { type: 'boolean' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  let parsed: ReturnType<typeof parse>;
  try { parsed = parse(); } catch (err) { throw new UsageError(`xdplab report: ${(err as Error).message}`); }
  const { values, positionals } = parsed;
  const [sub, ...refs] = positionals;
  if (values.help || sub === undefined) { io.out(REPORT_USAGE); return values.help ? 0 : 2; }
  const dir = values.out ?? defaultReportsDir();
  if (sub === 'show') {
    if (refs.length !== 1) throw new UsageError('xdplab report show: needs one report');
    io.out(showText(loadReport(refs[0]!, dir)));
    return 0;
  }
  if (sub === 'compare') {
    if (refs.length !== 2) throw new UsageError('xdplab report compare: needs two reports, A and B');
    const a = loadReport(refs[0]!, dir), b = loadReport(refs[1]!, dir);
    const c = compareReports(a, b);
    if (values.json) { io.out(JSON.stringify(c, null, 1) + '\n'); return 0; }
    const lines = [`${a.id} -> ${b.id}`, 'row'.padEnd(34) + 'metric'.padEnd(18) + 'A'.padStart(12) + 'B'.padStart(12) + 'change'.padStart(9) + '  verdict'];
    for (const r of c.rows) {
      const scale = r.metric === 'bitsPerSecond' ? 1e9 : r.metric === 'packetsPerSecond' ? 1e6 : 1;
      lines.push(r.key.padEnd(34) + r.metric.padEnd(18) + (r.a / scale).toFixed(3).padStart(12) + (r.b / scale).toFixed(3).padStart(12) + pct(r.difference.relative).padStart(9) + `  ${r.difference.beyondNoise ? 'BEYOND NOISE' : 'within noise'} (${r.basis})`);
    }
    if (c.onlyInA.length) lines.push(`only in A: ${c.onlyInA.join(', ')}`);
    if (c.onlyInB.length) lines.push(`only in B: ${c.onlyInB.join(', ')}`);
    io.out(lines.join('\n') + '\n');
    return 0;
  }
  if (sub === 'rerun') {
    if (refs.length !== 1) throw new UsageError('xdplab report rerun: needs one report');
    const a = loadReport(refs[0]!, dir);
    const { quick, ...scenario } = a.scenario as Partial<Scenario> & { quick?: boolean };
    const bench = await import('./bench.js');
    return bench.runScenario(scenario, { quick: !!quick, json: false, ...(values.out ? { out: values.out } : {}), command: ['xdplab', 'report', 'rerun', ...refs] }, io);
  }
  throw new UsageError(`xdplab report: unknown subcommand '${sub}'; subcommands: show, compare, rerun`);
}

/** A report as text: its rows (median Mpps and Gbps), then searches, latency and sweeps. */
export function showText(r: Report): string {
  const m = (row: Report['rows'][number], metric: string, scale: number) => { const s = row.stats[metric]; return s ? (s.median / scale).toFixed(3) : '-'; };
  const lines = [`${r.id} (${r.createdAt}) ${r.status}${r.failure ? `: ${r.failure}` : ''}`, 'row'.padEnd(34) + 'frame'.padEnd(18) + 'Mpps'.padStart(10) + 'Gbps'.padStart(10) + '  status'];
  for (const row of r.rows) lines.push(row.id.padEnd(34) + frameText(row).padEnd(18) + m(row, 'packetsPerSecond', 1e6).padStart(10) + m(row, 'bitsPerSecond', 1e9).padStart(10) + `  ${row.status}${row.reason ? `: ${row.reason}` : ''}`);
  const more = searchText(r);
  return lines.join('\n') + '\n' + (more ? `\n${more}` : '');
}
