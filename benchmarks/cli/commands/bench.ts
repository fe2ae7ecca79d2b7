// `xdplab bench`: the default matrix on the embedded lab, or the rows the flags choose; a
// progress bar while it runs, a table when it ends, and reports/<time>-<id>/ on disk.
import { parseArgs } from 'node:util';
import { searchText } from '../../report/search-text.js';
import cliProgress from 'cli-progress';
import { LabError } from '../../contracts/errors.js';
import { UsageError, type Io } from '../io.js';
import type { Report } from '../../contracts/report.js';
import { scenarioFlags, type ScenarioFlag } from '../../contracts/scenario.js';

/** The options a run of `xdplab bench` takes besides the scenario's. */
const FACE_OPTIONS = {
  quick: { type: 'boolean', help: '--quick               one short trial per row (under 30 s for the default matrix)' },
  helper: { type: 'string', help: '--helper SOCKET       run without root: xdplab helper at SOCKET creates the topology and the\n                        AF_XDP sockets (default: $XDPLAB_HELPER when set); engine rows only' },
  out: { type: 'string', help: '--out DIR             reports directory (default ./reports)' },
  json: { type: 'boolean', help: '--json                print the report as JSON instead of the table' },
  help: { type: 'boolean', short: 'h', help: '-h, --help            this help' },
} as const;

const ARG: Record<ScenarioFlag['kind'], string> = { boolean: '', list: ' LIST', 'number-list': ' LIST', number: ' N', seconds: ' S', string: ' NAME', 'number-or-string': ' N|P%' };

function shownDefault(f: ScenarioFlag): string {
  const v = f.defaultValue;
  if (v === undefined || v === false || (Array.isArray(v) && v.length === 0)) return '';
  const text = Array.isArray(v) ? v.join(',') : typeof v === 'number' && f.kind === 'seconds' ? String(v / 1000) : String(v);
  return ` (default ${text})`;
}

/** The usage, from the scenario schema's metadata: flags, help and defaults are declared there. */
export const BENCH_USAGE = `Usage: xdplab bench [options]

Runs testpmd-style engines and iperf3 through xdplab's AF_XDP datapath on a temporary pair of
network namespaces (created and removed by the run), with dpdk-testpmd as reference when asked.
With no options: txonly, rxonly, io x native, skb, and iperf3 TCP through the datapath.
VM backends: xdplab vm bench.

Options:
${scenarioFlags().map((f) => `  ${`${f.flag}${ARG[f.kind]}`.padEnd(26)}${f.description}${shownDefault(f)}`).join('\n')}
${Object.values(FACE_OPTIONS).map((o) => `  ${o.help}`).join('\n')}
`;

function fromText(f: ScenarioFlag, text: string): unknown {
  const number = (t: string, scale = 1) => {
    const n = Number(t);
    if (t.trim() === '' || !Number.isFinite(n)) throw new UsageError(`xdplab bench: ${f.flag}: expected a number, got '${t}'`);
    // Seconds become whole milliseconds; other numbers are the schema's to check (1.5 trials is refused, not rounded).
    return scale === 1 ? n : Math.round(n * scale);
  };
  const list = () => text.split(',').map((x) => x.trim()).filter(Boolean);
  switch (f.kind) {
    case 'list': return list();
    case 'number-list': return list().map((x) => number(x));
    case 'number': return number(text);
    case 'seconds': return number(text, 1000);
    case 'number-or-string': return /^\s*[\d.]+(e\d+)?\s*$/i.test(text) ? number(text) : text;
    default: return text;
  }
}

export function parseBenchArgs(args: string[], env: NodeJS.ProcessEnv = process.env): { scenario: Record<string, unknown>; quick: boolean; json: boolean; out?: string; helper?: string; help: boolean } {
  const flags = scenarioFlags();
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = Object.fromEntries([
    ...flags.map((f) => [f.flag.slice(2), { type: f.kind === 'boolean' ? 'boolean' : 'string' }] as const),
    ...Object.entries(FACE_OPTIONS).map(([k, o]) => [k, { type: o.type, ...('short' in o ? { short: o.short } : {}) }] as const),
  ]);
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args, strict: true, allowPositionals: false, options }));
  } catch (err) {
    throw new UsageError(`xdplab bench: ${(err as Error).message}`);
  }
  // Values are the schema's to check (RunManager.start): here only text becomes numbers and lists.
  const scenario: Record<string, unknown> = {};
  for (const f of flags) {
    const v = values[f.flag.slice(2)];
    if (v !== undefined) scenario[f.key] = typeof v === 'boolean' ? v : fromText(f, v);
  }
  const text = (k: string) => (typeof values[k] === 'string' ? values[k] : undefined);
  const helper = text('helper') ?? (env.XDPLAB_HELPER || undefined);
  const out = text('out');
  return { scenario, quick: values.quick === true, json: values.json === true, ...(out ? { out } : {}), ...(helper ? { helper } : {}), help: values.help === true };
}

function fmt(x: number | undefined, scale: number): string {
  return x === undefined || !Number.isFinite(x) ? '-' : (x / scale).toFixed(3);
}

export function reportTable(r: Report): string {
  const head = ['row', 'tool', 'attached', 'Mpps median (min-max)', 'Gbps median (min-max)', 'drops', 'status'];
  const lines = r.rows.map((row) => {
    const p = row.stats.packetsPerSecond, b = row.stats.bitsPerSecond, d = row.stats.droppedPackets;
    return [
      row.id, row.tool, row.attached ? `${row.attached.mode}/${row.attached.zeroCopy ? 'zc' : 'copy'}` : '',
      p ? `${fmt(p.median, 1e6)} (${fmt(p.min, 1e6)}-${fmt(p.max, 1e6)})` : '',
      b ? `${fmt(b.median, 1e9)} (${fmt(b.min, 1e9)}-${fmt(b.max, 1e9)})` : '',
      d ? String(Math.round(d.median)) : '', row.status + (row.reason ? `: ${row.reason}` : ''),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => Math.min(60, l[i]!.length))));
  const fmtLine = (l: string[]) => l.map((c, i) => (i === l.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [fmtLine(head), ...lines.map(fmtLine)].join('\n') + '\n';
}

/** The rate searches' NDR/PDR, latency rows and sweeps under the table (xdplab report show's text). */
function withSearches(r: Report): string {
  const text = searchText(r);
  return text ? `\n${text}` : '';
}

export async function run(args: string[], io: Io): Promise<number> {
  const a = parseBenchArgs(args);
  if (a.help) { io.out(BENCH_USAGE); return 0; }
  return runScenario(a.scenario, { quick: a.quick, json: a.json, ...(a.out ? { out: a.out } : {}), ...(a.helper ? { helper: a.helper } : {}), command: ['xdplab', 'bench', ...args] }, io);
}

/** Runs a scenario with a progress bar and prints the table (or JSON); exit 0 when complete. */
export async function runScenario(scenario: Record<string, unknown>, o: { quick: boolean; json: boolean; out?: string; helper?: string; command: string[]; table?: (r: Report) => string }, io: Io): Promise<number> {
  const { RunManager } = await import('../../runs/run-manager.js');
  const { cleanupLine } = await import('../../report/recovery.js');
  const runs = new RunManager(o.out);
  const handle = await runs.start(scenario, { quick: o.quick, command: o.command, ...(o.helper ? { helper: o.helper } : {}) }).catch((err: unknown) => {
    // A value the scenario's schema refuses is bad usage (exit 2), named after its flag.
    if (err instanceof LabError && err.code === 'EINVALIDOPTION') throw new UsageError(`${o.command.slice(0, o.command[1] === 'vm' ? 3 : 2).join(' ')}: ${err.message}`);
    throw err;
  });
  for (const line of handle.recovered) io.err(`xdplab: a run that died left: ${cleanupLine(line)}
`);
  io.err(`xdplab: run ${handle.runId}, writing ${handle.dir}\n`);
  const bar = o.json || !process.stderr.isTTY ? null : new cliProgress.SingleBar({ format: ' {bar} {percentage}% | {row} trial {trial} {phase}', hideCursor: true, stream: process.stderr }, cliProgress.Presets.shades_classic);
  bar?.start(100, 0, { row: '', trial: '', phase: '' });
  let lastRow = '';
  const off = runs.on('runProgress', (p) => {
    if (bar) bar.update(Math.round(p.fraction * 100), { row: p.row, trial: `${p.trial + 1}/${p.trials}`, phase: p.message ?? p.phase });
    else if (p.row !== lastRow && !o.json) { io.err(`  ${p.rowIndex + 1}/${p.rows} ${p.row}\n`); lastRow = p.row; }
  });
  const offLog = runs.on('log', (l) => { if (!bar) io.err(`  ${l.level}: ${l.message}\n`); });
  const onSignal = () => { void runs.stop(handle.runId); };
  process.once('SIGINT', onSignal);
  const report = await handle.done;
  process.off('SIGINT', onSignal);
  off(); offLog();
  bar?.stop();
  if (o.json) io.out(JSON.stringify(report, null, 1) + '\n');
  else io.out((o.table ?? reportTable)(report) + withSearches(report) + `\nreport: ${handle.dir}/report.html (status ${report.status}${report.failure ? `: ${report.failure}` : ''})\n`);
  return report.status === 'complete' ? 0 : 1;
}
