// `xdplab bench`: the default matrix on the embedded lab, or the rows the flags choose; a
// progress bar while it runs, a table when it ends, and reports/<time>-<id>/ on disk.
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { UsageError, type Io } from '../io.js';
import type { Report } from '../../contracts/report.js';

export const BENCH_USAGE = `Usage: xdplab bench [options]

Runs testpmd-style engines and iperf3 through xdplab's AF_XDP datapath on a temporary pair of
network namespaces (created and removed by the run), with dpdk-testpmd as reference when asked.
With no options: txonly, rxonly, io x native, skb, and iperf3 TCP through the datapath.

Options:
  --engines LIST        txonly,rxonly,io,macswap,iperf3 (default txonly,rxonly,io,iperf3)
  --modes LIST          native,skb (default both)
  --frame-bytes LIST    frame sizes, 60..3840 (default 64)
  --duration SECONDS    measured window per trial (default 3)
  --warmup SECONDS      before each window (default 0.5)
  --trials N            trials per row (default 3)
  --queues N            device queues (default 1)
  --burst N             frames per burst (default 64)
  --flows N             UDP flows (source ports) (default 1)
  --copy                force copy mode (XDP_COPY)
  --generator NAME      traffic for rxonly/io: xdplab or testpmd (default xdplab)
  --reference testpmd   add dpdk-testpmd's AF_XDP PMD rows beside xdplab's
  --parallel N          iperf3 streams (default 1)
  --reverse             iperf3 server-to-client
  --ifname IF --peer IF use an existing interface and its peer instead of the embedded lab
  --netns NS --peer-netns NS   their namespaces
  --quick               one short trial per row (under 30 s for the default matrix)
  --helper SOCKET       run without root: xdplab helper at SOCKET creates the topology and the
                        AF_XDP sockets (default: $XDPLAB_HELPER when set); engine rows only,
                        the others are marked unavailable
  --out DIR             reports directory (default ./reports)
  --json                print the report as JSON instead of the table
  -h, --help            this help
`;

function list(v: string | undefined): string[] | undefined {
  return v === undefined ? undefined : v.split(',').map((x) => x.trim()).filter(Boolean);
}

function num(name: string, v: string | undefined, scale = 1): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`xdplab bench: --${name}: expected a number, got '${v}'`);
  return Math.round(n * scale);
}

export function parseBenchArgs(args: string[], env: NodeJS.ProcessEnv = process.env): { scenario: Record<string, unknown>; quick: boolean; json: boolean; out?: string; helper?: string; help: boolean } {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args, strict: true, allowPositionals: false,
      options: {
        engines: { type: 'string' }, modes: { type: 'string' }, 'frame-bytes': { type: 'string' }, duration: { type: 'string' },
        warmup: { type: 'string' }, trials: { type: 'string' }, queues: { type: 'string' }, burst: { type: 'string' }, flows: { type: 'string' },
        copy: { type: 'boolean' }, generator: { type: 'string' }, reference: { type: 'string' }, parallel: { type: 'string' }, reverse: { type: 'boolean' },
        ifname: { type: 'string' }, peer: { type: 'string' }, netns: { type: 'string' }, 'peer-netns': { type: 'string' },
        quick: { type: 'boolean' }, out: { type: 'string' }, helper: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError(`xdplab bench: ${(err as Error).message}`);
  }
  const v = values as Record<string, string | undefined> & Record<'copy' | 'reverse' | 'quick' | 'json' | 'help', boolean | undefined>;
  const scenario: Record<string, unknown> = {
    tests: list(v.engines), modes: list(v.modes), frameBytes: list(v['frame-bytes'])?.map((x) => num('frame-bytes', x)),
    durationMs: num('duration', v.duration, 1000), warmupMs: num('warmup', v.warmup, 1000), trials: num('trials', v.trials),
    queues: num('queues', v.queues), burst: num('burst', v.burst), flows: num('flows', v.flows), copy: v.copy,
    generator: v.generator, reference: list(v.reference), parallel: num('parallel', v.parallel), reverse: v.reverse,
    ifname: v.ifname, peer: v.peer, netns: v.netns, peerNetns: v['peer-netns'],
  };
  for (const k of Object.keys(scenario)) if (scenario[k] === undefined) delete scenario[k];
  const helper = v.helper ?? (env.XDPLAB_HELPER || undefined);
  return { scenario, quick: !!v.quick, json: !!v.json, ...(v.out ? { out: v.out } : {}), ...(helper ? { helper } : {}), help: !!v.help };
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

export async function run(args: string[], io: Io): Promise<number> {
  const a = parseBenchArgs(args);
  if (a.help) { io.out(BENCH_USAGE); return 0; }
  return runScenario(a.scenario, { quick: a.quick, json: a.json, ...(a.out ? { out: a.out } : {}), ...(a.helper ? { helper: a.helper } : {}), command: ['xdplab', 'bench', ...args] }, io);
}

/** Runs a scenario with a progress bar and prints the table (or JSON); exit 0 when complete. */
export async function runScenario(scenario: Record<string, unknown>, o: { quick: boolean; json: boolean; out?: string; helper?: string; command: string[]; table?: (r: Report) => string }, io: Io): Promise<number> {
  const { RunManager } = await import('../../runs/run-manager.js');
  const { cleanupLine } = await import('../../lab/recovery.js');
  const runs = new RunManager(o.out);
  const handle = await runs.start(scenario, { quick: o.quick, command: o.command, ...(o.helper ? { helper: o.helper } : {}) });
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
  else io.out((o.table ?? reportTable)(report) + `\nreport: ${handle.dir}/report.html (status ${report.status}${report.failure ? `: ${report.failure}` : ''})\n`);
  return report.status === 'complete' ? 0 : 1;
}
