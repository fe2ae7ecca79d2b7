// iperf3 through dpdk-testpmd in M (two AF_XDP ports, io forwarding): the reference forwarder.
import { Testpmd, findTestpmd } from '../tools/testpmd.js';
import { NO_TESTPMD } from './generator.js';
import { IPERF3_ORDER, iperfTrial } from './iperf3-path.js';
import { defineRowKind } from './row-kind.js';

export const iperf3TestpmdRows = defineRowKind<null>({
  kind: 'iperf3-testpmd',
  needs: 'forward',
  viaHelper: 'iperf3 rows build their own namespaces and run tools inside them',
  plan: (s) => (s.tests.includes('iperf3') && !s.peerHost ? [{ spec: { id: 'iperf3-testpmd', test: 'iperf3', tool: 'dpdk-testpmd', mode: 'native', copy: false, order: [IPERF3_ORDER, 2] }, params: null }] : []),
  run: async (ctx) => {
    if (!findTestpmd()) throw NO_TESTPMD('');
    const f = ctx.forward!;
    return iperfTrial(ctx, async (lines) => {
      const pmd = new Testpmd({
        netns: f.ma.netns!, ifname: f.ma.ifname, forwardMode: 'io', filePrefix: `${ctx.lab.name('tf')}-${ctx.trial}`,
        lcores: [0, 1], mainLcore: 0, ealArgs: ['--vdev', `net_af_xdp1,iface=${f.mb.ifname}`],
      });
      lines.push(pmd.commandLine);
      await pmd.start(ctx.lab);
      return async () => { await pmd.stop(); };
    });
  },
});
