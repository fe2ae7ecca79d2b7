// The VM part of a scenario as rows: backends x tests, in that order, each runnable or
// unavailable with its reason (what this QEMU or machine lacks), decided before anything starts.
// Each trial gets a lab of its own (fresh VMs, taps, namespaces), gone when the trial ends.
import type { VmTestName } from '../contracts/scenario.js';
import { resolveQemuBinary, type QemuCapabilities } from '../qemu/capabilities.js';
import { ensureGuestImage } from '../qemu/guest-image.js';
import { expandBackends, type VmBackendName } from '../qemu/backends.js';
import { planVmRows } from '../vmbench/plan.js';
import { capabilitiesFor, hostFacts } from '../vmbench/prerequisites.js';
import type { VmTrialContext } from '../vmbench/vm-trial.js';
import type { PlanContext, RowSpec, TrialContext } from './row-kind.js';
import type { Scenario } from '../contracts/scenario.js';

export interface VmParams { backend: VmBackendName; test: VmTestName; qemu: string }

/** The QEMU summary that goes into environment.tools. */
export function qemuTools(caps: QemuCapabilities): Record<string, string> {
  return {
    qemu: `${caps.versionText} (${caps.binary.path})`,
    'qemu-netdevs': caps.netdevHelp.join(','),
    'qemu-af-xdp': caps.afXdp.present ? `yes (${(caps.afXdp.members ?? []).join(',')})` : `no: ${caps.afXdp.reason ?? 'absent'}`,
    'qemu-accel': caps.kvm.usable ? 'kvm' : `tcg (${caps.kvm.detail})`,
  };
}

/** The VM rows of `tests` (a kind's share of VM_TESTS); [] when the scenario has no VM part. */
export async function vmCells(s: Scenario, ctx: PlanContext, tests: readonly VmTestName[]): Promise<Array<{ spec: RowSpec; params: VmParams }>> {
  const vm = s.vm;
  if (!vm) return [];
  const wanted = vm.tests.filter((t) => tests.includes(t));
  if (!wanted.length) return [];
  const backends = expandBackends(vm.backends);
  const binary = resolveQemuBinary(vm.qemu);
  const caps = await capabilitiesFor(binary.path);
  Object.assign(ctx.tools, qemuTools(caps));
  return planVmRows(backends, wanted, caps, hostFacts()).map((r) => ({
    spec: {
      id: r.id, test: r.test, tool: r.test === 'iperf3' ? 'iperf3' : 'xdplab', mode: r.test === 'iperf3' ? 'tcp' : 'native', backend: r.backend,
      order: [2, backends.indexOf(r.backend), vm.tests.indexOf(r.test)], ...(r.unavailable ? { unavailable: r.unavailable } : {}),
    },
    params: { backend: r.backend, test: r.test, qemu: binary.path },
  }));
}

/** The context the VM trial runners (vmbench/) take, from a row's trial. */
export async function vmTrialContext(ctx: TrialContext, p: VmParams): Promise<VmTrialContext> {
  const image = await ctx.once('guest-image', () => ensureGuestImage({}));
  ctx.noteTool('guest-kernel', image.manifest.kernelRelease);
  return {
    lab: ctx.lab, qemuBinary: p.qemu, image, backend: p.backend, test: p.test, rowId: ctx.row.id, trial: ctx.trial,
    durationMs: ctx.scenario.durationMs, warmupMs: 0, frameBytes: 64, mode: 'native', nicModel: ctx.scenario.vm?.nicModel ?? 'virtio-net-pci',
    sample: (x) => ctx.sample(x), progress: (message) => ctx.phase('measure', message), stopSignal: ctx.stopSignal,
  };
}
