// --search for VM rows: the NDR/PDR of a backend into the guest. xdplab's rate-controlled
// generator on the host end (the peer of the VM's tap or af-xdp wire) sends to the guest, and
// the guest's NIC counters (through the guest agent) count what arrived: the receiver is the
// guest, so loss is what the backend and the guest's NIC dropped. Under TCG the guest bounds the
// rate; the method is the same on a KVM host.
import { readGuestNic } from '../vmbench/guest-traffic.js';
import { VmPacketRig } from '../vmbench/packet.js';
import { defineRowKind } from './row-kind.js';
import { sleep } from './trial-tools.js';
import { searchPath } from './search-path.js';
import { vmCells, vmTrialContext, type VmParams } from './vm-cells.js';

export const vmSearchRows = defineRowKind<VmParams>({
  kind: 'vm-search',
  needs: 'trial-lab',
  viaHelper: 'VM rows start QEMU and create taps and namespaces',
  plan: async (s, ctx) => (s.search.length ? (await vmCells(s, ctx, ['txonly'])).map(({ spec, params }) => ({
    spec: { ...spec, id: `${params.backend}/search-txonly`, liveSource: undefined, order: [...spec.order, 1] }, params,
  })) : []),
  run: async (ctx, p) => {
    const s = ctx.scenario;
    const v = await vmTrialContext(ctx, p);
    const rig = await VmPacketRig.open({ image: v.image, qemuBinary: v.qemuBinary, backend: v.backend, nicModel: v.nicModel, ...(v.progress ? { progress: v.progress } : {}), ...(v.onQmp ? { onQmp: v.onQmp } : {}) });
    try {
      v.onVms?.(rig.vms);
      // Frames still queued toward a TCG guest are late, not lost: read until the count holds.
      const count = async () => {
        let last = (await readGuestNic(rig.vm)).rxPackets;
        for (let i = 0; i < 10; i++) {
          await sleep(200);
          const now = (await readGuestNic(rig.vm)).rxPackets;
          if (now === last) break;
          last = now;
        }
        return last;
      };
      const path = { gen: rig.topology.peer, macs: { src: rig.topology.peerMac, dst: rig.guestMac }, receiver: { counting: { commandLine: 'guest: /proc/net/dev eth0 rx_packets', count } }, mode: 'native' as const };
      const { search, metrics, commandLines } = await searchPath(ctx, path, { mix: 64, minPps: Math.max(100, 10_000 / s.searchTrialMs) });
      return { metrics, commandLines: [...rig.commandLines, ...commandLines], search };
    } finally {
      await rig.close();
      v.onVms?.([]);
    }
  },
});
