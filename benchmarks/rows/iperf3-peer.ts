// iperf3 across two hosts (--peer-host): the server on the peer host at its interface's address
// (started through the agent), the client here in --ifname's namespace. The kernel's TCP path
// over the link between them, as the seed's two-host figures were measured.
import { runIperf3Client } from '../tools/iperf3.js';
import { IPERF3_ORDER } from './iperf3-path.js';
import { defineRowKind } from './row-kind.js';

const PORT = 5201;

export const iperf3PeerRows = defineRowKind<Record<string, never>>({
  kind: 'iperf3-peer',
  needs: 'packet',
  viaHelper: 'a run across --peer-host runs as root here',
  plan: (s) => (s.peerHost && s.tests.includes('iperf3') ? [{
    spec: { id: 'iperf3-peer-host', test: 'iperf3', tool: 'kernel', mode: 'tcp', order: [IPERF3_ORDER, 0, 0] },
    params: {},
  }] : []),
  run: async (ctx) => {
    const s = ctx.scenario, t = ctx.packet!, remote = ctx.remote!;
    ctx.phase('setup');
    const address = await remote.address(t.peer, t.dut, 'iperf3');
    const server = await remote.iperf3Server({ ...(t.peer.netns ? { netns: t.peer.netns } : {}), address, port: PORT });
    try {
      ctx.phase('measure');
      const r = await runIperf3Client(ctx.lab, {
        ...(t.dut.netns ? { clientNetns: t.dut.netns } : {}), serverAddress: address, port: PORT, durationMs: s.durationMs, parallel: s.parallel, reverse: s.reverse,
        onIntervals: (intervals) => {
          for (const i of intervals) ctx.sample({ row: ctx.row.id, trial: ctx.trial, tMs: Math.round(i.startMs + i.durationMs), intervalMs: Math.round(i.durationMs), metrics: { bitsPerSecond: i.bitsPerSecond, retransmits: i.retransmits } });
        },
      }, server);
      // A session lost at the very end still leaves the row's figures in doubt: say so.
      if (remote.lost) throw remote.lost;
      return {
        commandLines: [server.commandLine, r.commandLine],
        metrics: { bitsPerSecond: r.receivedBitsPerSecond, sentBitsPerSecond: r.sentBitsPerSecond, retransmits: r.retransmits, cpuHostPercent: r.cpuHostPercent, cpuRemotePercent: r.cpuRemotePercent, streams: r.streams },
      };
    } finally {
      ctx.phase('teardown');
      await server.stop();
    }
  },
});
