// Packet tests with a VM: xdplab's txonly into the guest (the guest counts) or the guest's
// pktgen into xdplab's rxonly, over backends with a host end (tap, af-xdp).
import { runVmPacketTrial } from '../vmbench/packet.js';
import { defineRowKind } from './row-kind.js';
import { vmCells, vmTrialContext, type VmParams } from './vm-cells.js';

export const vmPacketRows = defineRowKind<VmParams>({
  kind: 'vm-packet',
  needs: 'trial-lab',
  viaHelper: 'VM rows start QEMU and create taps and namespaces',
  plan: (s, ctx) => vmCells(s, ctx, ['txonly', 'rxonly']),
  run: async (ctx, p) => runVmPacketTrial(await vmTrialContext(ctx, p)),
});
