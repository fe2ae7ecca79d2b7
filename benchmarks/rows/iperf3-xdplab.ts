// iperf3 through xdplab's two-port io forwarder in M (one row per mode).
import type { AfXdpMode } from '../contracts/datapath.js';
import { LabError } from '../contracts/errors.js';
import { startWorker } from '../engines/worker-client.js';
import { IPERF3_ORDER, iperfTrial } from './iperf3-path.js';
import { defineRowKind, type TrialOutcome } from './row-kind.js';
import { TX_BUDGET } from './trial-tools.js';

export const iperf3XdplabRows = defineRowKind<{ mode: AfXdpMode; copy: boolean }>({
  kind: 'iperf3-xdplab',
  needs: 'forward',
  viaHelper: 'iperf3 rows build their own namespaces and run tools inside them',
  plan: (s) => (s.tests.includes('iperf3') && !s.peerHost ? s.modes.map((mode, mi) => ({
    spec: { id: `iperf3-${mode}${s.copy ? '-copy' : ''}`, test: 'iperf3', tool: 'xdplab', mode, copy: s.copy, order: [IPERF3_ORDER, 0, mi] },
    params: { mode, copy: s.copy },
  })) : []),
  run: (ctx, p) => {
    const f = ctx.forward!, s = ctx.scenario;
    let attached: TrialOutcome['attached'];
    return iperfTrial(ctx, async (lines) => {
      const w = startWorker(ctx.lab, { netns: f.ma.netns!, ifname: f.ma.ifname, peerIfname: f.mb.ifname, engine: 'io', mode: p.mode, copy: p.copy, seconds: s.durationMs / 1000 + 30, warmupMs: 0, burst: s.burst, sampleMs: 0, txBudget: TX_BUDGET });
      lines.push(w.commandLine);
      const ready = await w.ready.catch(async () => { const r = await w.done; throw r.ok ? new LabError({ code: 'EWORKER', message: 'the forwarder stopped before it was ready' }) : new LabError(r.error); });
      attached = { mode: ready.mode, zeroCopy: ready.zeroCopy };
      return async () => { w.stop(); await w.done; };
    }).then((o) => ({ ...o, ...(attached ? { attached } : {}) }));
  },
});
