// `xdplab vm bench`: QEMU network backends x tests with VMs, a progress bar while it runs, a table
// when it ends, and reports/<time>-<id>/ in the bench report's schema.
import { join } from 'node:path';
import { LabError } from '../../contracts/errors.js';
import { BACKEND_ALIASES, VM_BACKENDS } from '../../qemu/backends.js';
import { NIC_MODELS, VM_BENCH_DEFAULTS, VM_BENCH_QUICK, VM_FAULTS, parseTests, validateVmBench, type VmBenchOptions, type VmFault } from '../../vmbench/options.js';
import { VM_TESTS } from '../../vmbench/vm-trial.js';
import { parseFlags, UsageError, type Io } from '../io.js';
import type { Report } from '../../contracts/report.js';

export const VM_BENCH_USAGE = `Usage: xdplab vm bench [options]

Boots QEMU VMs (KVM where usable, else TCG) with each network backend and runs the tests through
them; one report row per backend x test. A backend this QEMU or machine cannot run is a row
marked unavailable with the reason and what to install.

Options:
  --backends LIST   default: all. Backends:
${VM_BACKENDS.map((b) => `                      ${b.name.padEnd(12)} ${b.summary}`).join('\n')}
                    Short names: ${Object.entries(BACKEND_ALIASES).filter(([k]) => k !== 'all').map(([k, v]) => `${k} = ${v.join(',')}`).join('; ')}; all = every backend
  --tests LIST      ${VM_TESTS.join(',')} (default iperf3). iperf3: TCP forward (host -> guest, or
                    VM a -> VM b) then reverse (-R). txonly/rxonly: packet tests (tap, af-xdp)
  --duration S      seconds per iperf3 direction (default ${VM_BENCH_DEFAULTS.durationMs / 1000})
  --trials N        trials per row, each with fresh VMs (default ${VM_BENCH_DEFAULTS.trials})
  --parallel N      iperf3 streams (-P) per direction (default 1); live samples are their sum
  --nic MODEL       ${NIC_MODELS.join(' | ')} (default ${VM_BENCH_DEFAULTS.nicModel})
  --pvp             PVP rows: the guest forwards between two NICs of the backend; xdplab sends
                    into one host end and measures at the other (tap, tap-bridge, tap-vhost, af-xdp)
  --search LIST     ndr,pdr: rate searches for the PVP rows and, with --tests txonly, into the
                    guest (BACKEND/search-txonly); xdplab bench --help has --pdr-loss and friends
  --qemu PATH       the QEMU binary (default $XDPLAB_QEMU, else qemu-system-x86_64 on PATH)
  --quick           ${VM_BENCH_QUICK.trials} trial of ${VM_BENCH_QUICK.durationMs / 1000} s per row
  --out DIR         reports directory (default ./reports)
  --json            print the report as JSON instead of the table
  --fault KIND      inject a fault into the first row's iperf3 trials (${VM_FAULTS.join(', ')}),
                    to see how a run reports it; --fault-rows LIST picks other rows (backend/iperf3)
  -h, --help        this help
`;

const list = (v: string | undefined): string[] | undefined => (v === undefined ? undefined : v.split(',').map((x) => x.trim()).filter(Boolean));

function seconds(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`xdplab vm bench: --${name}: expected a number of seconds, got '${v}'`);
  return Math.round(n * 1000);
}

/** --pvp and --search, for the scenario (checked by its schema). */
let extras: { pvp?: boolean; search?: string[] } = {};

export function parseVmBenchArgs(args: string[]): { options: VmBenchOptions; json: boolean; help: boolean } {
  const v = parseFlags('vm bench', args, {
    backends: { type: 'string' }, tests: { type: 'string' }, duration: { type: 'string' }, trials: { type: 'string' }, parallel: { type: 'string' },
    nic: { type: 'string' }, qemu: { type: 'string' }, quick: { type: 'boolean' }, out: { type: 'string' }, json: { type: 'boolean' },
    fault: { type: 'string' }, 'fault-rows': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    pvp: { type: 'boolean' }, search: { type: 'string' },
  });
  extras = { ...(v.pvp ? { pvp: true } : {}), ...(v.search !== undefined ? { search: list(v.search) ?? [] } : {}) };
  const quick = !!v.quick;
  const backends = list(v.backends) ?? ['all'];
  const trialsText = v.trials;
  if (trialsText !== undefined && !/^\d+$/.test(trialsText)) throw new UsageError(`xdplab vm bench: --trials: expected a whole number, got '${trialsText}'`);
  if (v.parallel !== undefined && !/^\d+$/.test(v.parallel)) throw new UsageError(`xdplab vm bench: --parallel: expected a whole number, got '${v.parallel}'`);
  const options: VmBenchOptions = {
    backends, tests: list(v.tests) ?? ['iperf3'],
    durationMs: seconds('duration', v.duration) ?? (quick ? VM_BENCH_QUICK.durationMs : VM_BENCH_DEFAULTS.durationMs),
    trials: trialsText !== undefined ? Number(trialsText) : quick ? VM_BENCH_QUICK.trials : VM_BENCH_DEFAULTS.trials,
    nicModel: v.nic ?? VM_BENCH_DEFAULTS.nicModel, quick, reportsDir: v.out ?? process.env.XDPLAB_REPORTS_DIR ?? join(process.cwd(), 'reports'),
    command: ['xdplab', 'vm', 'bench', ...args],
    ...(v.qemu ? { qemu: v.qemu } : {}),
    ...(v.parallel !== undefined ? { parallel: Number(v.parallel) } : {}),
  };
  if (!v.help) {
    try {
      const { backends: expanded } = validateVmBench(options);
      if (v.fault !== undefined) {
        options.faults = (list(v['fault-rows']) ?? [`${expanded[0]}/iperf3`]).map((row) => ({ kind: v.fault as VmFault, row }));
        validateVmBench(options);
      }
    } catch (err) {
      // Bad values are usage errors (exit 2), named after the flag.
      if (err instanceof LabError && err.code === 'EINVALIDOPTION') throw new UsageError(`xdplab vm bench: --${err.field ?? ''}: ${err.message.replace(/^[a-z-]+: /, '')}`);
      throw err;
    }
  }
  return { options, json: !!v.json, help: !!v.help };
}

const fmt = (x: number | undefined, scale: number) => (x === undefined || !Number.isFinite(x) ? '-' : (x / scale).toFixed(3));

const range = (x: { median: number; min: number; max: number } | undefined, scale: number) => (x ? `${fmt(x.median, scale)} (${fmt(x.min, scale)}-${fmt(x.max, scale)})` : '');

/**
 * iperf3 rows fill the Gbps columns (forward, then reverse); packet rows (txonly, rxonly) fill an
 * Mpps column of their own, shown when there are any: their rate is packets, not a TCP stream.
 */
export function vmReportTable(r: Report): string {
  const isPacket = (row: Report['rows'][number]) => row.test !== 'iperf3' && (row.stats.packetsPerSecond !== undefined || row.test === 'txonly' || row.test === 'rxonly');
  const packets = r.rows.some(isPacket);
  const head = ['row', 'forward Gbps (min-max)', 'reverse Gbps (min-max)', ...(packets ? ['Mpps (min-max)'] : []), 'boot s', 'status'];
  const lines = r.rows.map((row) => {
    const packet = isPacket(row);
    const boot = row.stats.bootMs;
    return [
      row.id, packet ? '' : range(row.stats.bitsPerSecond, 1e9), packet ? '' : range(row.stats.reverseBitsPerSecond, 1e9),
      ...(packets ? [packet ? range(row.stats.packetsPerSecond, 1e6) : ''] : []),
      boot ? fmt(boot.median, 1e3) : '', row.status + (row.reason ? `: ${row.reason.split('\n')[0]!.slice(0, 160)}` : ''),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const line = (l: string[]) => l.map((c, i) => (i === l.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(head), ...lines.map(line)].join('\n') + '\n';
}

export async function run(args: string[], io: Io): Promise<number> {
  const a = parseVmBenchArgs(args);
  if (a.help) { io.out(VM_BENCH_USAGE); return 0; }
  const o = a.options;
  // A front end of the run model: VM rows only, run by the same RunManager as `xdplab bench`.
  const { runScenario } = await import('./bench.js');
  return runScenario({
    tests: [], durationMs: o.durationMs, trials: o.trials, warmupMs: 0, ...(o.parallel !== undefined ? { parallel: o.parallel } : {}),
    ...(extras.search ? { search: extras.search } : {}),
    vm: { backends: o.backends, tests: parseTests(o.tests), ...(extras.pvp ? { pvp: true } : {}), nicModel: o.nicModel === 'e1000' ? 'e1000' : 'virtio-net-pci', ...(o.qemu ? { qemu: o.qemu } : {}), ...(o.faults ? { faults: o.faults } : {}) },
  }, { quick: false, json: a.json, out: o.reportsDir, command: o.command, table: vmReportTable }, io);
}
