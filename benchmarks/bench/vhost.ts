// npm run bench:vhost — xdplab's vhost-user back end against dpdk-testpmd's (net_vhost +
// net_af_xdp in io mode) on the same VM setup: the guest's virtio-net NIC on vhost-user, the back
// end on one end of a veth pair through AF_XDP, xdplab's worker or iperf3 on the other end.
// Rows: iperf3 both ways (Gbps), txonly (host -> guest Mpps, the guest counts), rxonly (guest ->
// host Mpps, pktgen in the guest), and each packet row's back end cost (CPU ns per packet, from
// /proc over the whole run). Trials interleaved across rows (xdplab, testpmd, xdplab, ...),
// --pairs N of them (at least 3); the ratio per pair, then its median. Under TCG the guest bounds
// every rate, so the cost per packet is what separates the back ends; testpmd polls a core flat
// out whatever the rate, which its cost shows.
// It is a front end of the run model: the same rows as
//   xdplab vm bench --backends vhost-user,vhost-user-testpmd --tests iperf3,txonly,rxonly --interleave
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Report, Row } from '../contracts/report.js';
import { collectEnvironment } from '../report/environment.js';
import { median } from '../report/statistics.js';
import { PROJECT_ROOT } from '../paths.js';
import { RunManager } from '../runs/run-manager.js';
import { capabilitiesFor } from '../vmbench/prerequisites.js';

const { values } = parseArgs({ options: { pairs: { type: 'string' }, seconds: { type: 'string' }, backends: { type: 'string' } } });
const pairs = Math.max(3, Number(values.pairs ?? 3));
const seconds = Number(values.seconds ?? 5);
const [mine, reference] = (values.backends ?? 'vhost-user,vhost-user-testpmd').split(',') as [string, string];
if (process.getuid?.() !== 0) { console.error('bench:vhost needs root (namespaces, AF_XDP, QEMU in a namespace)'); process.exit(1); }

// Where the QEMU in use has its own af-xdp netdev, it is the third row (same veth, same tests).
const qemu = process.env.XDPLAB_QEMU || 'qemu-system-x86_64';
const afXdp = (await capabilitiesFor(qemu)).afXdp.present;
if (!afXdp) console.error(`bench:vhost: ${qemu} has no af-xdp netdev: no third row (QEMU >= 8.2 with libxdp >= 1.4 adds it)`);
const reportsDir = mkdtempSync(join(tmpdir(), 'xdplab-vhost-'));
const runs = new RunManager(reportsDir);
runs.on('runProgress', (p) => process.stderr.write(`${p.row}: pair ${p.trial + 1}/${p.trials} ${p.message ?? ''}\n`));
const command = ['npm', 'run', 'bench:vhost', '--', ...process.argv.slice(2)];
const started = await runs.start({
  tests: [], vm: { backends: [mine, reference, ...(afXdp ? ['af-xdp'] : [])], tests: ['iperf3', 'txonly', 'rxonly'] },
  durationMs: seconds * 1000, warmupMs: 1000, trials: pairs, interleave: true,
}, { command });
const report: Report = await started.done;
rmSync(reportsDir, { recursive: true, force: true });

const errors: string[] = [];
const trialsOf = (id: string): Array<Row['trials'][number] | undefined> => {
  const row = report.rows.find((r) => r.id === id);
  if (!row) { errors.push(`${id}: no such row`); return []; }
  if (row.status === 'unavailable') errors.push(`${id}: unavailable: ${row.reason}`);
  for (const t of row.trials) if (t.error) errors.push(`${id} pair ${t.index}: ${t.error}`);
  return Array.from({ length: pairs }, (_, i) => row.trials.find((t) => t.index === i && t.status === 'ok'));
};

interface Line { metric: string; unit: string; xdplab: number; testpmd: number; qemuAfXdp?: number; ratio: number; pairRatios: number[]; better: 'higher' | 'lower' }
const lines: Line[] = [];
const add = (test: string, metric: string, label: string, unit: string, scale: number, better: Line['better']) => {
  const a = trialsOf(`${mine}/${test}`).map((t) => (t?.metrics[metric] ?? NaN) / scale);
  const b = trialsOf(`${reference}/${test}`).map((t) => (t?.metrics[metric] ?? NaN) / scale);
  // The ratio says how many times better xdplab is: higher-is-better rates a/b, costs b/a.
  const ratios = a.map((x, i) => (better === 'higher' ? x / b[i]! : b[i]! / x)).filter(Number.isFinite);
  const c = afXdp && !metric.startsWith('backendCpu') ? median(trialsOf(`af-xdp/${test}`).map((t) => (t?.metrics[metric] ?? NaN) / scale).filter(Number.isFinite)) : undefined;
  lines.push({ metric: label, unit, xdplab: median(a.filter(Number.isFinite)), testpmd: median(b.filter(Number.isFinite)), ...(c !== undefined ? { qemuAfXdp: c } : {}), ratio: median(ratios), pairRatios: ratios, better });
};
add('iperf3', 'bitsPerSecond', 'iperf3 peer -> guest', 'Gbps', 1e9, 'higher');
add('iperf3', 'reverseBitsPerSecond', 'iperf3 guest -> peer', 'Gbps', 1e9, 'higher');
add('txonly', 'packetsPerSecond', 'txonly host -> guest (64 B)', 'Mpps', 1e6, 'higher');
add('rxonly', 'packetsPerSecond', 'rxonly guest -> host (64 B)', 'Mpps', 1e6, 'higher');
add('txonly', 'backendCpuNsPerPacket', 'back end CPU per packet, host -> guest', 'ns', 1, 'lower');
add('rxonly', 'backendCpuNsPerPacket', 'back end CPU per packet, guest -> host', 'ns', 1, 'lower');

const result = {
  schema: 'xdplab.bench.vhost/1', date: new Date().toISOString(), command: command.join(' '), pairs, seconds, backends: { xdplab: mine, reference },
  machine: { ...collectEnvironment(), loadAverage: loadavg() }, qemu: report.environment.tools.qemu, accel: report.environment.tools['qemu-accel'],
  lines, errors, commandLines: Object.fromEntries(report.rows.map((r) => [r.id, r.commandLines])), reportStatus: report.status,
};
const dir = join(PROJECT_ROOT, 'benchmarks', 'results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `vhost-${result.date.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify(result, null, 1));

const f = (x: number, unit: string) => (!Number.isFinite(x) ? '-' : unit === 'ns' ? x.toFixed(0) : x.toFixed(3));
console.log(`| row | xdplab (${mine}) | testpmd (${reference}) |${afXdp ? ' QEMU af-xdp |' : ''} xdplab vs testpmd |`);
console.log(`|---|---|---|${afXdp ? '---|' : ''}---|`);
for (const l of lines) console.log(`| ${l.metric} (${l.unit}) | ${f(l.xdplab, l.unit)} | ${f(l.testpmd, l.unit)} |${afXdp ? ` ${l.qemuAfXdp === undefined ? '-' : f(l.qemuAfXdp, l.unit)} |` : ''} ${Number.isFinite(l.ratio) ? `${l.ratio.toFixed(2)}x${l.better === 'lower' ? ' (cost, lower is better)' : ''}` : '-'} |`);
if (errors.length) console.log(`\nerrors:\n${errors.map((e) => `  ${e}`).join('\n')}`);
console.log(`\n${file}`);
process.exit(errors.length ? 1 : 0);
