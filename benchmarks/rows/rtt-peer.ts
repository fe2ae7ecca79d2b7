// Round-trip latency across two hosts (--peer-host --latency): ICMP echo from the DUT's namespace
// to the peer interface's address, the peer's kernel reflecting. One-way latency needs the two
// clocks in step (PTP on both, which the report's peerHost.latency says they are or are not);
// a round trip is timed by one clock, so it is valid between any two hosts. Every reply's time
// goes into the same HDR histogram as the one-way rows, marked round-trip.
import { createInterface } from 'node:readline';
import { LabError } from '../contracts/errors.js';
import { LatencyRecorder } from '../engines/latency-recorder.js';
import { IPERF3_ORDER } from './iperf3-path.js';
import { defineRowKind } from './row-kind.js';
import { sampleMs } from './trial-tools.js';

/** ping's interval: 100 echoes a second (intervals under 0.2 s need root, which a run has). */
const INTERVAL_MS = 10;

const REPLY = /icmp_seq=(\d+) .*time=([\d.]+) ms/;
const SUMMARY = /(\d+) packets transmitted, (\d+) received/;

export const rttPeerRows = defineRowKind<Record<string, never>>({
  kind: 'rtt-peer',
  needs: 'packet',
  viaHelper: 'a run across --peer-host runs as root here',
  plan: (s) => (s.peerHost && s.latency ? [{
    spec: { id: 'rtt-peer-host', test: 'latency', tool: 'ping', mode: 'icmp-echo', liveSource: 'ping replies (round trip)', order: [IPERF3_ORDER, 1, 0] },
    params: {},
  }] : []),
  run: async (ctx) => {
    const s = ctx.scenario, t = ctx.packet!, remote = ctx.remote!;
    ctx.phase('setup');
    const address = await remote.address(t.peer, t.dut, 'ping');
    const count = Math.max(10, Math.floor(s.durationMs / INTERVAL_MS));
    const args = ['-n', '-i', String(INTERVAL_MS / 1000), '-c', String(count), '-W', '1', address];
    const commandLine = `${t.dut.netns ? `ip netns exec ${t.dut.netns} ` : ''}ping ${args.join(' ')}`;
    const recorder = new LatencyRecorder();
    ctx.phase('measure');
    const child = ctx.lab.spawn(t.dut.netns, 'ping', args);
    const stop = setInterval(() => { if (ctx.stopSignal.stop) child.kill('SIGINT'); }, 100);
    let summary: RegExpExecArray | null = null;
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-1000); });
    // Live: the window's replies as one sample each sampling interval (its median and count).
    const every = sampleMs(s);
    const t0 = Date.now();
    let window: number[] = [];
    let windowStart = 0;
    const flush = (now: number) => {
      if (!window.length) return;
      const sorted = window.sort((a, b) => a - b);
      ctx.sample({ row: ctx.row.id, trial: ctx.trial, tMs: now, intervalMs: now - windowStart, metrics: { rttNs: sorted[Math.floor(sorted.length / 2)]!, replies: sorted.length } });
      window = [];
      windowStart = now;
    };
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const m = REPLY.exec(line);
      if (m) {
        const ns = Number(m[2]) * 1e6;
        recorder.add(ns);
        window.push(ns);
        const now = Date.now() - t0;
        if (now - windowStart >= every) flush(now);
        return;
      }
      summary = SUMMARY.exec(line) ?? summary;
    });
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve)).finally(() => clearInterval(stop));
    flush(Date.now() - t0);
    if (!summary) throw new LabError({ code: 'EPING', message: `ping ${address} gave no summary (exit ${code}): ${stderr.trim() || 'no output'}` });
    const [, sent, received] = (summary as RegExpExecArray).map(Number);
    if (!received) throw new LabError({ code: 'ENOTRAFFIC', message: `no echo reply from ${address} on ${remote.host} (${sent} sent)`, hint: 'a firewall there, or no route between the two interfaces' });
    const latency = { ...recorder.summary(), method: 'round-trip' as const };
    return {
      commandLines: [commandLine],
      latency,
      metrics: { rttMinNs: latency.minNs, rttP50Ns: latency.p50Ns, rttP99Ns: latency.p99Ns, rttMaxNs: latency.maxNs, sentPackets: sent!, receivedPackets: received!, lostPackets: sent! - received! },
    };
  },
});
