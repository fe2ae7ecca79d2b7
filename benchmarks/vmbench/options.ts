// The options of `xdplab vm bench` and their checks: light (no QEMU, no native code), so that
// --help and usage errors work anywhere.
import { LabError } from '../contracts/errors.js';
import { expandBackends } from '../qemu/backends.js';
import type { HostFacts } from './prerequisites.js';
import { VM_TESTS, type VmTestName } from './vm-trial.js';

/** Faults a run can inject into iperf3 trials, to see how it reports them. */
export type VmFault = 'kill-qemu' | 'link-down';
export const VM_FAULTS: readonly VmFault[] = ['kill-qemu', 'link-down'];

export function parseTests(names: readonly string[]): VmTestName[] {
  if (names.length === 0) throw new LabError({ code: 'EINVALIDOPTION', field: 'tests', message: `tests: the list is empty; allowed: ${VM_TESTS.join(', ')}` });
  const out: VmTestName[] = [];
  for (const n of names) {
    if (!VM_TESTS.includes(n as VmTestName)) throw new LabError({ code: 'EINVALIDOPTION', field: 'tests', message: `tests: unknown test '${n}'; allowed: ${VM_TESTS.join(', ')}` });
    if (!out.includes(n as VmTestName)) out.push(n as VmTestName);
  }
  return out;
}

export const NIC_MODELS = ['virtio-net-pci', 'e1000'] as const;

export interface VmBenchOptions {
  backends: string[];
  tests: string[];
  durationMs: number;
  trials: number;
  nicModel: string;
  /** iperf3 rows: parallel TCP streams (-P); default 1. */
  parallel?: number;
  qemu?: string;
  quick?: boolean;
  reportsDir: string;
  command: string[];
  /** Faults injected into the iperf3 trials of the rows they name (backend/iperf3), to see how a run reports them. */
  faults?: { kind: VmFault; row: string; afterMs?: number }[];
  /** Facts about this host (tests may pass their own). */
  host?: HostFacts;
}

export const VM_BENCH_DEFAULTS = { durationMs: 5000, trials: 3, nicModel: 'virtio-net-pci' } as const;
export const VM_BENCH_QUICK = { durationMs: 1000, trials: 1 } as const;

/** Checks every option before anything starts; errors name the option and what it allows. */
export function validateVmBench(o: VmBenchOptions): { backends: ReturnType<typeof expandBackends>; tests: ReturnType<typeof parseTests> } {
  const backends = expandBackends(o.backends);
  const tests = parseTests(o.tests);
  if (!(Number.isFinite(o.durationMs) && o.durationMs >= 1000 && o.durationMs <= 600_000)) {
    throw new LabError({ code: 'EINVALIDOPTION', field: 'duration', message: `duration: expected 1 to 600 seconds, got ${o.durationMs / 1000}` });
  }
  if (!(Number.isInteger(o.trials) && o.trials >= 1 && o.trials <= 100)) {
    throw new LabError({ code: 'EINVALIDOPTION', field: 'trials', message: `trials: expected an integer from 1 to 100, got ${o.trials}` });
  }
  if (o.parallel !== undefined && !(Number.isInteger(o.parallel) && o.parallel >= 1 && o.parallel <= 128)) {
    throw new LabError({ code: 'EINVALIDOPTION', field: 'parallel', message: `parallel: expected an integer from 1 to 128, got ${o.parallel}` });
  }
  if (!(NIC_MODELS as readonly string[]).includes(o.nicModel)) {
    throw new LabError({ code: 'EINVALIDOPTION', field: 'nic', message: `nic: unknown NIC model '${o.nicModel}'; allowed: ${NIC_MODELS.join(', ')}` });
  }
  for (const f of o.faults ?? []) {
    if (!VM_FAULTS.includes(f.kind)) throw new LabError({ code: 'EINVALIDOPTION', field: 'fault', message: `fault: unknown fault '${f.kind}'; allowed: ${VM_FAULTS.join(', ')}` });
    const rows = backends.map((b) => `${b}/iperf3`);
    if (!rows.includes(f.row)) throw new LabError({ code: 'EINVALIDOPTION', field: 'fault-rows', message: `fault-rows: '${f.row}' is not an iperf3 row of this run; allowed: ${rows.join(', ')}` });
  }
  return { backends, tests };
}

