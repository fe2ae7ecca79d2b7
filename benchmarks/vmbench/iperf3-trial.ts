// The iperf3 test of one backend: build its topology, boot its VM(s), TCP from the client side to
// the guest's server (forward) and back (-R, reverse), stop everything. Forward is host -> guest
// for host<->guest backends and VM a -> VM b for guest<->guest ones.
import { LabError } from '../contracts/errors.js';
import { expandBackends, type VmBackendName } from '../qemu/backends.js';
import type { VmFault } from './options.js';
import { runClient, startGuestServer, waitGuestListening, type ClientRun } from './guest-iperf3.js';
import { capabilitiesFor, hostFacts, requireBackend } from './prerequisites.js';
import { VmTrialError } from './trial-error.js';
import type { VmTrialContext, VmTrialOutcome, VmTrialRunner } from './vm-trial.js';
import { commandLineOf, VmGroup, type GroupVm } from '../qemu/vm-group.js';
import { pollGuestNic } from './live-nic.js';
import type { QmpClient } from '../qemu/qmp.js';

export const GUEST_IPERF3_PORT = 5201;

/** Beyond the contract (VmTrialContext): a fault injected faultAfterMs (default 500) after the VMs are ready. */
export interface Iperf3TrialOptions { fault?: VmFault; faultAfterMs?: number }

function resolveBackend(name: string): VmBackendName {
  const [b, ...more] = expandBackends([name]);
  if (!b || more.length) throw new LabError({ code: 'EINVALIDOPTION', field: 'backend', message: `backend: '${name}' names ${more.length + 1} backends; a trial runs one` });
  return b;
}

/** Schedules the fault; returns a description of what happened, read when the trial fails. */
function injectFault(vms: GroupVm[], fault: VmFault | undefined, afterMs: number): { cancel(): void; what(): string | undefined } {
  if (!fault) return { cancel: () => {}, what: () => undefined };
  let done: string | undefined;
  const target = vms[vms.length - 1]!;
  const timer = setTimeout(() => {
    if (fault === 'kill-qemu') {
      if (target.vm.pid) { try { process.kill(target.vm.pid, 'SIGKILL'); } catch { /* gone */ } }
      done = `fault injected: QEMU of ${target.vm.name} killed (SIGKILL) ${afterMs} ms after the VMs were ready`;
    } else {
      done = `fault injected: set_link n0 off over QMP on ${target.vm.name} ${afterMs} ms after the VMs were ready`;
      target.qmp.execute('set_link', { name: 'n0', up: false }).catch(() => { /* reported through the trial */ });
    }
  }, afterMs);
  return { cancel: () => clearTimeout(timer), what: () => done };
}

export async function runIperf3Trial(ctx: VmTrialContext, options: Iperf3TrialOptions = {}): Promise<VmTrialOutcome> {
  const backend = resolveBackend(ctx.backend);
  const caps = await capabilitiesFor(ctx.qemuBinary);
  requireBackend(backend, caps, hostFacts());
  const lab = ctx.lab;
  ctx.progress?.(`${backend}: building the topology`);
  const { group, topology: topo } = await VmGroup.forBackend(backend, {
    lab, qemu: ctx.qemuBinary, image: ctx.image, nicModel: ctx.nicModel, serverPort: GUEST_IPERF3_PORT,
    namePrefix: `xlvb-${lab.id}-${backend}`.slice(0, 36),
    ...(ctx.onQmp ? { onQmp: (spec: { name: string }, qmp: QmpClient) => ctx.onQmp!(spec.name, qmp) } : {}),
  });
  ctx.progress?.(`${backend}: booting ${topo.vms.length} VM(s)`);
  let vms: GroupVm[];
  try {
    vms = await group.start();
  } catch (err) {
    throw new VmTrialError(err, topo.setupCommands);
  }
  ctx.onVms?.(vms);
  const fault = injectFault(vms, options.fault, options.faultAfterMs ?? 500);
  const commandLines = [...vms.map((v) => commandLineOf(v.vm)), ...topo.setupCommands];
  try {
    commandLines.push(await startGuestServer(vms[topo.server.vm]!, GUEST_IPERF3_PORT));
    const runs: ClientRun[] = [];
    const server = vms[topo.server.vm]!;
    // Time origin: tMs 0 (samples, markers, timeline steps) is when the forward test's data began
    // to flow (the server guest's NIC saw it: iperf3's own test start, after its control exchange,
    // which takes a second or two under TCG); the reverse direction follows on the same wall clock
    // (tMs past durationMs, after the gap in which the server listens again). Live samples: the
    // server guest's NIC, rx forward (it receives), tx reverse (it sends): with --parallel N
    // (iperf3 -P) they are the sum of the N streams, as iperf3's [SUM] lines are, since every
    // stream crosses that NIC; iperf3's -J intervals only come at the end and are not used.
    let originMs: number | undefined;
    for (const reverse of [false, true]) {
      if (ctx.stopSignal.stop) break;
      ctx.progress?.(`${backend}: iperf3 ${reverse ? 'reverse' : 'forward'}`);
      await waitGuestListening(server, GUEST_IPERF3_PORT);
      const live = pollGuestNic({
        vm: server.vm, ...(originMs !== undefined ? { originMs } : {}), direction: reverse ? 'tx' : 'rx', ...(reverse ? { prefix: 'reverse' } : {}),
        row: ctx.rowId, trial: ctx.trial, sample: (x) => ctx.sample(x),
        onStart: (at) => { if (originMs === undefined) { originMs = at; ctx.onWindow?.(at); } },
      });
      let r: ClientRun;
      try {
        r = await runClient(lab, topo.client, vms, { durationMs: ctx.durationMs, reverse, parallel: ctx.parallel ?? 1, stop: ctx.stopSignal });
      } finally {
        await live.stop();
      }
      runs.push(r);
      commandLines.push(r.commandLine);
    }
    const [fwd, rev] = runs;
    if (!fwd || !rev) throw new LabError({ code: 'ESTOPPED', message: 'the run was stopped before both iperf3 directions ran' });
    return {
      metrics: {
        bitsPerSecond: fwd.bitsPerSecond, reverseBitsPerSecond: rev.bitsPerSecond,
        bytes: fwd.bytes, reverseBytes: rev.bytes,
        retransmits: fwd.retransmits, reverseRetransmits: rev.retransmits,
        streams: fwd.streams, reverseStreams: rev.streams,
        bootMs: Math.max(...vms.map((v) => v.vm.bootMs)),
      },
      commandLines,
    };
  } catch (err) {
    // A failure after an injected fault says so first (and is never "unavailable").
    const what = fault.what();
    const text = err instanceof Error ? err.message : String(err);
    throw new VmTrialError(what ? new LabError({ code: 'EFAULT', message: `${what}: ${text}` }) : err, commandLines);
  } finally {
    fault.cancel();
    await group.stop();
    ctx.onVms?.([]);
  }
}
