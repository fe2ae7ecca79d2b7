// iperf3 through a Linux bridge in M: the kernel's own forwarding, as a baseline.
import { IPERF3_ORDER, iperfTrial } from './iperf3-path.js';
import { defineRowKind } from './row-kind.js';

export const iperf3BridgeRows = defineRowKind<null>({
  kind: 'iperf3-bridge',
  needs: 'forward',
  viaHelper: 'iperf3 rows build their own namespaces and run tools inside them',
  plan: (s) => (s.tests.includes('iperf3') ? [{ spec: { id: 'iperf3-kernel-bridge', test: 'iperf3', tool: 'linux-bridge', mode: 'kernel', copy: false, order: [IPERF3_ORDER, 1] }, params: null }] : []),
  run: (ctx) => {
    const f = ctx.forward!, lab = ctx.lab;
    return iperfTrial(ctx, async (lines) => {
      const br = lab.name('br');
      const m = f.ma.netns!;
      for (const args of [['link', 'add', br, 'type', 'bridge'], ['link', 'set', f.ma.ifname, 'master', br], ['link', 'set', f.mb.ifname, 'master', br], ['link', 'set', br, 'up']]) {
        lab.ip(m, args);
        lines.push(`ip -n ${m} ${args.join(' ')}`);
      }
      return async () => { lab.ip(m, ['link', 'del', br]); };
    });
  },
});
