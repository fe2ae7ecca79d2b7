// PVP rows (--pvp): generator -> backend -> the guest forwards (its kernel bridge) -> backend ->
// receiver, both ends xdplab's AF_XDP ports on the host ends of the VM's two NICs
// (vmbench/pvp.ts). Without --search a trial offers as much as the generator can for the
// measured window and reports what came through, the loss and the latency; with --search it
// finds the NDR/PDR through the VM. Backends without host ends are shown unavailable with why.
// Under TCG the guest bounds the rate: the method is the one a KVM host would run.
import type { Scenario } from '../contracts/scenario.js';
import { LabError } from '../contracts/errors.js';
import { expandBackends } from '../qemu/backends.js';
import { resolveQemuBinary } from '../qemu/capabilities.js';
import { backendProblem, capabilitiesFor, hostFacts } from '../vmbench/prerequisites.js';
import { pvpUnavailable, withPvpPath } from '../vmbench/pvp.js';
import { bitsOf, rateTrial, type RatePath } from './rate-trial.js';
import { defineRowKind, type PlanContext, type RowSpec } from './row-kind.js';
import { searchPath } from './search-path.js';
import { qemuTools, vmTrialContext, type VmParams } from './vm-cells.js';

async function pvpCells(s: Scenario, ctx: PlanContext): Promise<Array<{ spec: RowSpec; params: VmParams }>> {
  const vm = s.vm;
  if (!vm?.pvp) return [];
  const backends = expandBackends(vm.backends);
  const binary = resolveQemuBinary(vm.qemu);
  const caps = await capabilitiesFor(binary.path);
  Object.assign(ctx.tools, qemuTools(caps));
  const host = hostFacts();
  return backends.map((backend, bi) => {
    const problem = pvpUnavailable(backend) ?? backendProblem(backend, caps, host)?.message;
    return {
      spec: {
        id: `${backend}/pvp${s.search.length ? '-search' : ''}`, test: 'pvp', tool: 'xdplab', mode: 'skb', backend, frameBytes: 64,
        liveSource: 'xdplab-rxonly: the measuring receiver on the second host end', order: [2, bi, 9], ...(problem ? { unavailable: problem } : {}),
      },
      params: { backend, test: 'txonly', qemu: binary.path },
    };
  });
}

export const vmPvpRows = defineRowKind<VmParams>({
  kind: 'vm-pvp',
  needs: 'trial-lab',
  viaHelper: 'VM rows start QEMU and create taps and namespaces',
  plan: pvpCells,
  run: async (ctx, p) => {
    const s = ctx.scenario;
    const v = await vmTrialContext(ctx, p);
    return withPvpPath(ctx.lab, { backend: p.backend, image: v.image, qemu: v.qemuBinary, nicModel: v.nicModel, ...(v.progress ? { progress: v.progress } : {}), ...(v.onQmp ? { onQmp: v.onQmp } : {}) }, async (pvp) => {
      ctx.vms?.onVms([{ spec: pvp.topology.vm, vm: pvp.vm, qmp: pvp.qmp }]);
      ctx.noteTool('pvp-forwarder', pvp.forwarder);
      // The host ends' XDP mode is the path's: skb on taps, native on the veths of tap-bridge.
      const path: RatePath = { gen: pvp.gen, macs: { src: pvp.gen.mac, dst: pvp.recv.mac }, receiver: { at: pvp.recv }, mode: pvp.mode };
      const lines = [...pvp.commandLines];
      try {
        if (!s.search.length) {
          ctx.phase('measure');
          const r = await rateTrial(ctx, path, { targetPps: undefined, durationMs: s.durationMs, mix: 64, flows: s.flows, phase: 'max' });
          lines.push(...r.commandLines);
          if (!r.trial.received) throw new LabError({ code: 'ENOTRAFFIC', message: `nothing came through the guest's ${pvp.forwarder}`, hint: 'see the VM\'s console in the log' });
          const L = r.latency;
          return {
            commandLines: lines,
            metrics: {
              packetsPerSecond: r.trial.receivedPps, bitsPerSecond: bitsOf(r.trial.receivedPps, 64), offeredPacketsPerSecond: r.trial.offeredPps, lossRatio: r.trial.lossRatio,
              bootMs: pvp.bootMs, ...(L ? { latencyP50Ns: L.p50Ns, latencyP99Ns: L.p99Ns, latencyMaxNs: L.maxNs } : {}),
            },
            ...(L ? { latency: L } : {}), ...(r.stream ? { stream: r.stream } : {}),
          };
        }
        const { search, metrics, commandLines } = await searchPath(ctx, path, { mix: 64, minPps: Math.max(100, 10_000 / s.searchTrialMs) });
        return { metrics: { ...metrics, bootMs: pvp.bootMs }, commandLines: [...lines, ...commandLines], search };
      } finally {
        ctx.vms?.onVms([]);
      }
    });
  },
});
