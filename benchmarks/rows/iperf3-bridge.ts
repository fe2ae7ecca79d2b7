// iperf3 through a Linux bridge in M: the kernel's own forwarding, as a baseline.
import { addForwardBridge } from '../lab/topology.js';
import { IPERF3_ORDER, iperfTrial } from './iperf3-path.js';
import { defineRowKind } from './row-kind.js';

export const iperf3BridgeRows = defineRowKind<null>({
  kind: 'iperf3-bridge',
  needs: 'forward',
  viaHelper: 'iperf3 rows build their own namespaces and run tools inside them',
  plan: (s) => (s.tests.includes('iperf3') && !s.peerHost ? [{ spec: { id: 'iperf3-kernel-bridge', test: 'iperf3', tool: 'linux-bridge', mode: 'kernel', copy: false, order: [IPERF3_ORDER, 1] }, params: null }] : []),
  run: (ctx) => iperfTrial(ctx, async (lines) => {
    const br = addForwardBridge(ctx.lab, ctx.forward!);
    lines.push(...br.commands);
    return async () => { br.remove(); };
  }),
});
