// The rate-controlled, stamping generator and the measuring receiver on a real veth pair this
// file creates: txonly (rate, stamp, frameMix) in one namespace, rxonly (measure) in the other,
// each a worker process started with startWorker, as run code starts them. The receiver is
// started first and stopped with SIGINT ~200 ms after the generator ends.
//
// The machine is shared: a generator that cannot keep up must say so (rateReached false, and
// the credit it dropped in rateMissedPackets) rather than fail the test; what fails the test is
// wrong pacing: above the target, or sent + missed not the target. Credit starts at 0 and is
// capped at two bursts, so sent + missed = target x sendSeconds less at most two bursts (BURST:
// big enough to ride out short scheduler stalls, small against a run's frames); a point that
// stalled is tried again (up to 3 times): a stall is the machine's, not the pacer's.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imixCycle } from '../../benchmarks/contracts/traffic.js';
import type { WorkerResult } from '../../benchmarks/contracts/worker.js';
import { startWorker, type WorkerSpec } from '../../benchmarks/engines/worker-client.js';
import { streamCounts } from '../../benchmarks/engines/stream-counts.js';
import { suite } from '../helpers/requirements.js';
import { createVethLab, type VethLab } from '../helpers/veth-lab.js';

const WORKER = fileURLToPath(new URL('../../dist/benchmarks/engines/worker.js', import.meta.url));
const haveWorker = existsSync(WORKER);
const BURST = 256;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Ok = Extract<WorkerResult, { ok: true }>;
function ok(r: WorkerResult): Ok {
  if (!r.ok) throw new Error(`worker failed: ${r.error.message}`);
  return r;
}

interface Pair { gen: Ok; rx: Ok }

suite('paced, stamped traffic between two workers on a veth pair', { root: true, tools: ['ip', 'ethtool', 'sysctl'] }, () => {
  let v: VethLab;
  beforeAll(() => {
    v = createVethLab();
    // No IPv6 chatter: every frame on the pair is the test's (foreign must stay 0).
    for (const [ns, i] of [[v.nsA, v.ifA], [v.nsB, v.ifB]] as const) {
      v.lab.exec(ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', `net.ipv6.conf.${i}.disable_ipv6=1`]);
    }
  });
  afterAll(() => v?.lab.close());

  /** Receiver first, then the generator; the receiver stops (SIGINT) 200 ms after the generator. */
  async function pair(mode: 'native' | 'skb', gen: Partial<WorkerSpec>, flows = 1): Promise<Pair> {
    const rx = startWorker(v.lab, { netns: v.nsB, ifname: v.ifB, engine: 'rxonly', mode, seconds: 120, warmupMs: 0, sampleMs: 0, flows, measure: true });
    await rx.ready;
    const g = startWorker(v.lab, { netns: v.nsA, ifname: v.ifA, engine: 'txonly', mode, warmupMs: 200, sampleMs: 0, flows, ...gen });
    const genResult = await g.done;
    await sleep(200);
    rx.stop();
    return { gen: ok(genResult), rx: ok(await rx.done) };
  }

  const sent = (r: Ok) => (r.stream && 'sentPerFlow' in r.stream ? r.stream.sentPerFlow : []);
  const received = (r: Ok) => {
    if (!r.stream || !('receivedPerFlow' in r.stream)) throw new Error('receiver result without stream counts');
    return r.stream;
  };

  for (const mode of ['native', 'skb'] as const) {
    describe.skipIf(!haveWorker)(`${mode} mode${haveWorker ? '' : ' [skipped: run npm run build first]'}`, () => {
      it('a stamped stream at a low rate over 4 flows: nothing lost, reordered, duplicated or foreign; latency measured', async () => {
        const { gen, rx } = await pair(mode, { seconds: 1, rate: 20_000, burst: BURST, stamp: true, frameBytes: 64 }, 4);
        const s = received(rx);
        const perFlow = sent(gen);
        expect(perFlow).toHaveLength(4);
        // Round robin over the UMEM's frames: the flows stay within a burst of each other.
        expect(Math.max(...perFlow) - Math.min(...perFlow)).toBeLessThanOrEqual(64);
        expect({ received: s.receivedPerFlow, rxStats: rx.stats }).toMatchObject({ received: perFlow });
        const c = streamCounts(perFlow, s);
        expect(c).toMatchObject({ lost: 0, reordered: 0, duplicated: 0, foreign: 0, flows: 4 });
        expect(c.sent).toBeGreaterThan(5_000); // 20 kpps for 1.2 s, less what a busy machine made it miss
        expect(s.frameBytes).toEqual({ 64: c.received });
        const l = rx.latency!;
        expect(l.count).toBe(c.received);
        expect(l.minNs).toBeGreaterThan(0);
        expect(l.p50Ns).toBeLessThan(10e6);
        expect(l.maxNs * 1.001).toBeGreaterThanOrEqual(l.p999Ns); // percentiles are bucket edges (3 digits)
        console.log(`${mode}: ${c.sent} sent, latency min ${(l.minNs / 1e3).toFixed(1)} us p50 ${(l.p50Ns / 1e3).toFixed(1)} us p99 ${(l.p99Ns / 1e3).toFixed(1)} us max ${(l.maxNs / 1e3).toFixed(0)} us`);
      }, 30_000);

      it('IMIX: received sizes follow 7:4:1 (60/566/1514 bytes without FCS)', async () => {
        const { gen, rx } = await pair(mode, { seconds: 1, rate: 20_000, burst: BURST, stamp: true, frameMix: 'imix' }, 4);
        const s = received(rx);
        const total = sent(gen).reduce((a, b) => a + b, 0);
        expect({ received: s.receivedPerFlow.reduce((a, b) => a + b, 0), rxStats: rx.stats }).toMatchObject({ received: total });
        expect(Object.keys(s.frameBytes).sort()).toEqual(['1514', '566', '60']);
        const share = (b: number) => (s.frameBytes[String(b)] ?? 0) / total;
        const cycle = imixCycle();
        // Frames go out in turn over the UMEM's frames, whose sizes repeat the 12-frame cycle.
        for (const [bytes, weight] of [[60, 7], [566, 4], [1514, 1]] as const) {
          expect(cycle.filter((c) => c - 4 === bytes)).toHaveLength(weight);
          expect(Math.abs(share(bytes) - weight / 12)).toBeLessThan(0.005);
        }
        expect(received(rx).foreign).toBe(0);
      }, 30_000);

      it('a low rate is kept: 20 kpps for 2 s gives 40k frames, +-1%', async () => {
        let attempt = 1;
        let r = await pair(mode, { seconds: 2, warmupMs: 0, rate: 20_000, burst: BURST, stamp: true });
        while (r.gen.rateMissedPackets! > 0 && attempt < 3) { attempt++; r = await pair(mode, { seconds: 2, warmupMs: 0, rate: 20_000, burst: BURST, stamp: true }); }
        const { gen, rx } = r;
        const total = sent(gen)[0]!;
        const got = received(rx).receivedPerFlow[0]!;
        console.log(`${mode}: 20 kpps x 2 s (attempt ${attempt}): sent ${total}, received ${got}, achieved ${gen.achievedPps?.toFixed(0)} pps over ${gen.sendSeconds?.toFixed(3)} s, missed ${gen.rateMissedPackets}`);
        expect(gen.targetPps).toBe(20_000);
        expect({ got, rxStats: rx.stats }).toMatchObject({ got: total });
        const missed = gen.rateMissedPackets!;
        // Books: sent + missed is 20 kpps x the send time, less at most two bursts of credit.
        expect(total + missed).toBeLessThanOrEqual(20_000 * gen.sendSeconds! + 2);
        expect(total + missed).toBeGreaterThanOrEqual(20_000 * gen.sendSeconds! - 2 * BURST - 2);
        if (missed >= 400) {
          // Three attempts stalled by the host: the result must say so rather than lie.
          expect(gen.rateReached).toBe(false);
          return;
        }
        expect(Math.abs(total - 40_000)).toBeLessThanOrEqual(400);
        expect(Math.abs(got - 40_000)).toBeLessThanOrEqual(400);
        expect(Math.abs(gen.achievedPps! / 20_000 - 1)).toBeLessThan(0.01);
        expect(gen.rateReached).toBe(true);
      }, 30_000);

      it('paced at 10%, 50% and 90% of the unpaced maximum: within 1%, or (90%) flagged as missed', async () => {
        const max = (await pair(mode, { seconds: 1.5 })).gen.achievedPps!;
        expect(max).toBeGreaterThan(0);
        const lines = [`${mode}: unpaced ${(max / 1e3).toFixed(0)} kpps (burst 64)`];
        for (const fraction of [0.1, 0.5, 0.9]) {
          const target = Math.round(max * fraction);
          for (let attempt = 1; ; attempt++) {
            const { gen, rx } = await pair(mode, { seconds: 2, rate: target, burst: BURST, stamp: true });
            const achieved = gen.achievedPps!;
            const T = gen.sendSeconds!;
            const missed = gen.rateMissedPackets!;
            const total = sent(gen)[0]!;
            const got = received(rx).receivedPerFlow[0]!;
            const overRun = got / T;
            lines.push(`${fraction * 100}% #${attempt}: target ${target} achieved ${achieved.toFixed(0)} (${((achieved / target - 1) * 100).toFixed(2)}%) over ${T.toFixed(3)} s, missed ${missed}, rateReached ${gen.rateReached}; receiver ${overRun.toFixed(0)} pps, lost ${total - got}`);
            // On every attempt: never above the rate; every frame of credit was sent or reported
            // missed, less the credit left at the end; the flag tells the truth.
            expect(gen.targetPps).toBe(target);
            expect(total).toBe(Math.round(achieved * T));
            expect(achieved).toBeLessThanOrEqual(target * 1.0001);
            expect(total + missed).toBeLessThanOrEqual(target * T + 2);
            // Less the credit left at the end: at most the generator's catch-up cap (10 ms at the rate).
            expect(total + missed).toBeGreaterThanOrEqual(target * T - Math.max(2 * BURST, target * 0.01) - 2);
            expect(gen.rateReached).toBe(achieved >= 0.99 * target);
            expect(got).toBeLessThanOrEqual(total);
            // The receiver's count over time is judged only if its ring overflowed nowhere.
            const rxDrops = Number(rx.stats.rxDropped ?? 0) + Number(rx.stats.rxRingFull ?? 0) + Number(rx.stats.rxFillRingEmpty ?? 0);
            const rxOk = rxDrops > 0 || Math.abs(overRun / target - 1) < 0.01;
            const within = Math.abs(achieved / target - 1) < 0.01 && rxOk;
            if (within || fraction >= 0.9) break;
            if (attempt === 3) {
              console.log(lines.join('\n  '));
              // 10% and 50% must be kept, unless the generator itself reported that the host
              // stalled it (missed credit): then the books above are what can be checked.
              if (missed < 0.01 * target * T) expect(Math.abs(achieved / target - 1)).toBeLessThan(0.01);
              else expect(gen.rateReached).toBe(false);
              if (rxDrops === 0 && total === got) expect(Math.abs(overRun / target - 1)).toBeLessThan(0.01 + missed / (target * T));
              break;
            }
          }
        }
        console.log(lines.join('\n  '));
      }, 120_000);
    });
  }
});
