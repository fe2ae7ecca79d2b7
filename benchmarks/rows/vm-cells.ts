// The VM part of a scenario as rows: backends x tests, in that order, each runnable or
// unavailable with its reason (what this QEMU or machine lacks), decided before anything starts.
// Each trial gets a lab of its own (fresh VMs, taps, namespaces), gone when the trial ends.
import type { VmTestName } from '../contracts/scenario.js';
import { invalidOption } from '../contracts/errors.js';
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

/**
 * Where each VM test's live samples (every 0.5 s at most) come from. iperf3: one source for every
 * backend, the server guest's NIC counters (/proc/net/dev through the guest agent, rates over the
 * guest's own clock): it is the one place all backends' traffic crosses (user and hubport have no
 * host interface to count, guest<->guest backends no host end at all), it gives packets as well
 * as bits, and iperf3 keeps its -J output for the final metrics (bytes, retransmits), which its
 * text mode (-i 0.5 --forceflush, the only live output of 3.12) would lose. Bits are of whole
 * frames at the guest's NIC (headers included), a little above iperf3's goodput.
 */
export const LIVE_SOURCE: Record<VmTestName, string> = {
  iperf3: 'guest-nic: the server guest\'s /proc/net/dev via the guest agent every 0.4 s (rx forward, tx reverse; with --parallel, the sum of the streams)',
  txonly: 'host-tap: frames QEMU read from the tap (af-xdp: arriving at the veth end), /sys counters every 0.5 s at most',
  rxonly: 'xdplab-rxonly: the rxonly worker\'s counters every 0.5 s at most',
};

/**
 * The scenario's timeline against the plan, before anything starts: `rows` must name VM rows of
 * the plan, and a `qmp` step's command must be one this QEMU has (its query-qmp-schema).
 */
export function checkTimeline(s: Scenario, vmRowIds: readonly string[], caps: Partial<Pick<QemuCapabilities, 'qmpCommands' | 'version'>>): void {
  s.timeline.forEach((step, i) => {
    const bad = (step.rows ?? []).filter((r) => !vmRowIds.includes(r));
    if (bad.length) {
      throw invalidOption(`timeline[${i}].rows`, `${bad.map((r) => `'${r}'`).join(', ')} ${bad.length > 1 ? 'are not VM rows' : 'is not a VM row'} of this plan; its VM rows: ${vmRowIds.join(', ') || 'none'}`);
    }
    if (step.action.kind === 'qmp' && caps.qmpCommands && !caps.qmpCommands.includes(step.action.command)) {
      throw invalidOption(`timeline[${i}].action.command`, `QEMU ${caps.version ?? ''} has no QMP command '${step.action.command}'`, 'query-commands (or the QMP panel\'s completion) lists the commands it has');
    }
  });
}

/** The VM rows of `tests` (a kind's share of VM_TESTS); [] when the scenario has no VM part. */
export async function vmCells(s: Scenario, ctx: PlanContext, tests: readonly VmTestName[]): Promise<Array<{ spec: RowSpec; params: VmParams }>> {
  const vm = s.vm;
  if (!vm) {
    // No VM rows: a timeline step that names rows names none of them.
    checkTimeline(s, [], {});
    return [];
  }
  const wanted = vm.tests.filter((t) => tests.includes(t));
  if (!wanted.length) return [];
  const backends = expandBackends(vm.backends);
  const binary = resolveQemuBinary(vm.qemu);
  const caps = await capabilitiesFor(binary.path);
  Object.assign(ctx.tools, qemuTools(caps));
  checkTimeline(s, planVmRows(backends, vm.tests, caps, hostFacts()).map((r) => r.id), caps);
  return planVmRows(backends, wanted, caps, hostFacts()).map((r) => ({
    spec: {
      id: r.id, test: r.test, tool: r.test === 'iperf3' ? 'iperf3' : 'xdplab', mode: r.test === 'iperf3' ? 'tcp' : 'native', backend: r.backend,
      liveSource: LIVE_SOURCE[r.test],
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
    durationMs: ctx.scenario.durationMs, warmupMs: 0, parallel: ctx.scenario.parallel, frameBytes: 64, mode: 'native', nicModel: ctx.scenario.vm?.nicModel ?? 'virtio-net-pci',
    sample: (x) => ctx.sample(x), progress: (message) => ctx.phase('measure', message), stopSignal: ctx.stopSignal,
    ...(ctx.vms ? { onQmp: ctx.vms.onQmp, onVms: ctx.vms.onVms, onWindow: ctx.vms.onWindow } : {}),
  };
}
