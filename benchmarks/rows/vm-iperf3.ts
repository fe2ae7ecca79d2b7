// iperf3 through a VM backend: TCP forward then reverse, host <-> guest or guest <-> guest.
import { runIperf3Trial } from '../vmbench/iperf3-trial.js';
import { defineRowKind } from './row-kind.js';
import { vmCells, vmTrialContext, type VmParams } from './vm-cells.js';

export const vmIperf3Rows = defineRowKind<VmParams>({
  kind: 'vm-iperf3',
  needs: 'trial-lab',
  viaHelper: 'VM rows start QEMU and create taps and namespaces',
  plan: (s, ctx) => vmCells(s, ctx, ['iperf3']),
  run: async (ctx, p) => {
    const fault = ctx.scenario.vm?.faults?.find((f) => f.row === ctx.row.id);
    return runIperf3Trial(await vmTrialContext(ctx, p), fault ? { fault: fault.kind, ...(fault.afterMs !== undefined ? { faultAfterMs: fault.afterMs } : {}) } : {});
  },
});
