// The measuring receiver's loss and latency counters against a planted, known impairment on the
// path A -> M -> B: the every-100th XDP drop program on M's port from A (M a Linux bridge) must
// show as 1.00% loss (within 0.05%), and a 2 ms delay in M as a step of 2 ms in p50 (within
// 10%). The delay: netem on M's port to B where the kernel has netem; this machine's kernel has
// no netem (nor fq or etf), so M is xdplab's io with its delay line (holdUs) between ma and mb,
// against the same io without it. Real AF_XDP on all ends, the stamped stream of xdplab's paced
// generator.
import * as hdr from 'hdr-histogram-js';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { startWorker } from '../../benchmarks/engines/worker-client.js';
import { streamCounts } from '../../benchmarks/engines/stream-counts.js';
import { addImpairment, netemMissing, type ImpairmentOptions } from '../../benchmarks/lab/impairment.js';
import { Lab } from '../../benchmarks/lab/lab.js';
import { createForwardTopology, macOf, type ForwardTopology } from '../../benchmarks/lab/topology.js';
import type { Latency, StreamCounts } from '../../benchmarks/contracts/report.js';
import { suite } from '../helpers/requirements.js';

const RATE = 50_000;
const SECONDS = 4;

/** XSK statistics of one port: frames it dropped on receive (no fill buffer, or the rx ring full). */
function rxDrops(stats: Record<string, unknown> | undefined): number {
  return Number(stats?.rxDropped ?? 0) + Number(stats?.rxRingFull ?? 0);
}

interface Streamed { counts: StreamCounts; latency: Latency; drops: Record<string, number> }

async function stream(lab: Lab, f: ForwardTopology): Promise<Streamed> {
  const recv = startWorker(lab, { netns: f.b.netns!, ifname: f.b.ifname, engine: 'rxonly', mode: 'skb', measure: true, flows: 4, seconds: 60, warmupMs: 0, sampleMs: 0 });
  await recv.ready;
  const gen = startWorker(lab, {
    netns: f.a.netns!, ifname: f.a.ifname, engine: 'txonly', mode: 'skb', stamp: true, rate: RATE, flows: 4, seconds: SECONDS, warmupMs: 0, sampleMs: 0,
    srcMac: macOf(lab, f.a), dstMac: macOf(lab, f.b),
  });
  const g = await gen.done;
  await new Promise((r) => setTimeout(r, 300));
  recv.stop();
  const r = await recv.done;
  if (!g.ok) throw new Error(g.error.message);
  if (!r.ok) throw new Error(r.error.message);
  if (!g.stream || !('sentPerFlow' in g.stream) || !r.stream || !('receivedPerFlow' in r.stream) || !r.latency) throw new Error('no stream counts');
  return { counts: streamCounts(g.stream.sentPerFlow, r.stream), latency: r.latency, drops: { 'b rx': rxDrops(r.stats) } };
}

suite('loss and latency counters against a planted impairment', { root: true, tools: ['ip', 'tc', 'bridge'] }, () => {
  let lab: Lab;
  let f: ForwardTopology;
  const impaired = (o: ImpairmentOptions) => addImpairment(lab, f, o);
  beforeEach(() => {
    lab = new Lab('test');
    f = createForwardTopology(lab);
    // No IPv6 chatter (router solicitations, MLD reports) for the receiver to count as foreign:
    // on a slow, shared run they came to 21 frames, past the bound below.
    for (const ns of new Set([f.a.netns, f.ma.netns, f.mb.netns, f.b.netns])) {
      lab.exec(ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    }
  });
  afterEach(() => { lab.close(); });

  it('every 100th frame dropped on the way: 1.00% loss within 0.05%, nothing reordered, duplicated or foreign', async () => {
    const imp = impaired({ drop: { every: 100 } });
    const { counts } = await stream(lab, f);
    const drops = imp.dropCounts()!;
    imp.close();
    expect(counts.sent).toBeGreaterThan(RATE * SECONDS * 0.9);
    expect(counts.lost / counts.sent).toBeGreaterThan(0.0095);
    expect(counts.lost / counts.sent).toBeLessThan(0.0105);
    // What the program dropped is what the receiver missed (its counter also sees stray frames).
    expect(Math.abs(drops.dropped - counts.lost)).toBeLessThanOrEqual(2);
    expect(counts.reordered + counts.duplicated).toBe(0);
    // The bridge also forwards M's own few frames (IGMP reports): not ours, and counted apart.
    expect(counts.foreign).toBeLessThan(20);
  }, 60_000);

  it('2 ms of delay on the way: p50 one-way latency rises by 2 ms within 10%', async () => {
    let base: Streamed, delayed: Streamed;
    if (!netemMissing()) {
      const plain = impaired({});
      base = await stream(lab, f);
      plain.close();
      const slow = impaired({ delay: { ms: 2 } });
      delayed = await stream(lab, f);
      slow.close();
    } else {
      const through = async (holdUs: number) => {
        const io = startWorker(lab, { netns: f.ma.netns!, ifname: f.ma.ifname, peerIfname: f.mb.ifname, engine: 'io', mode: 'skb', seconds: 60, warmupMs: 0, sampleMs: 0, ...(holdUs ? { holdUs } : {}) });
        await io.ready;
        let s: Streamed;
        try { s = await stream(lab, f); } finally { io.stop(); }
        const r = await io.done;
        if (!r.ok) throw new Error(r.error.message);
        // The delay line itself drops nothing: every frame it received was held and sent.
        expect(r.forwardDropped).toBe(0);
        return { ...s, drops: { ...s.drops, 'ma rx': rxDrops(r.stats), 'mb rx': rxDrops(r.peerStats) } };
      };
      base = await through(0);
      delayed = await through(2000);
    }
    const step = delayed.latency.p50Ns - base.latency.p50Ns;
    expect(step).toBeGreaterThan(1.8e6);
    expect(step).toBeLessThan(2.2e6);
    // Nearly every frame waited the 2 ms, within 10% at the 1st percentile. Measured: p1 1.86 to
    // 2.03 ms, and a few frames in 10^4 up to 1 ms early on this loaded host (not explained yet;
    // the note says so).
    const p1 = hdr.decodeFromCompressedBase64(delayed.latency.histogram).getValueAtPercentile(1);
    expect(p1).toBeGreaterThan(1.8e6);
    // Frames lost on the way are ones a port on the path counted as dropped on receive. On a
    // loaded 2-core host a busy-polling process is sometimes descheduled for tens of ms, and its
    // rx ring (2048 frames, 41 ms at this rate) overflows: CI saw 533 such frames on M's port in
    // one run of ~20. That is the host, not the delay line, and not a miscount.
    for (const run of [base, delayed]) {
      const counted = Object.values(run.drops).reduce((a, b) => a + b, 0);
      expect(Math.abs(run.counts.lost - counted), `lost ${run.counts.lost}, dropped on receive ${JSON.stringify(run.drops)}`).toBeLessThanOrEqual(2);
    }
  }, 60_000);
});
