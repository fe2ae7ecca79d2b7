// io and macswap on a real port: every frame the peer sends comes back, byte for byte (io) or
// with the Ethernet addresses swapped (macswap); and io between two ports forwards both ways.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AfXdpPort, FrameBatch, withNetns } from '../../native/index.js';
import { IoEngine, MacSwapEngine } from '../../benchmarks/engines/io.js';
import type { Engine } from '../../benchmarks/engines/engine.js';
import { suite } from '../helpers/requirements.js';
import { checkFrame, queueFrames } from '../helpers/traffic.js';
import { createVethLab, type VethLab } from '../helpers/veth-lab.js';

/** Sends `count` test frames from `peer`, runs `engine` on `dut`, collects what comes back to `peer`. */
function roundTrip(peer: AfXdpPort, dut: AfXdpPort, engine: Engine, count: number, tag: number) {
  const q = peer.queues[0]!;
  const tx = new FrameBatch(16), rx = new FrameBatch(64);
  const back: Array<{ seq: number; dst: number[]; src: number[] }> = [];
  let sent = 0, corrupt = 0;
  const deadline = Date.now() + 5000;
  while (back.length < count && Date.now() < deadline) {
    if (sent < count && sent - back.length < 64) {
      sent += queueFrames(q, tx, tag, sent, count - sent);
    }
    peer.reclaim();
    engine.burst(dut, 0);
    const n = q.rxBurst(rx);
    for (let i = 0; i < n; i++) {
      const off = rx.addr[i]!;
      const bytes = q.umem.bytes;
      const dst = [...bytes.subarray(off, off + 6)], src = [...bytes.subarray(off + 6, off + 12)];
      // checkFrame reads the tag from the source MAC's last byte; after macswap it sits in the destination.
      if (dst[5] === tag && src[0] === 0xff) bytes.copyWithin(off + 6, off, off + 6), bytes.fill(0xff, off, off + 6);
      const seq = checkFrame(bytes, off, rx.len[i]!, tag);
      if (seq === -2) corrupt++;
      else if (seq >= 0) back.push({ seq, dst, src });
    }
    q.release(rx);
  }
  return { sent, back, corrupt };
}

suite('io and macswap engines on a veth pair', { root: true, tools: ['ip'] }, () => {
  let v: VethLab;
  beforeAll(() => { v = createVethLab(); });
  afterAll(() => v?.lab.close());

  for (const mode of ['native', 'skb'] as const) {
    it(`io (${mode}) returns every frame it receives, unchanged`, () => {
      const peer = withNetns(v.nsA, () => AfXdpPort.open({ ifname: v.ifA, mode }));
      const dut = withNetns(v.nsB, () => AfXdpPort.open({ ifname: v.ifB, mode }));
      try {
        const engine = new IoEngine();
        engine.prepare(dut, { batch: 32, frameBytes: 64 });
        const r = roundTrip(peer, dut, engine, 1000, 21);
        expect(r.corrupt).toBe(0);
        expect(new Set(r.back.map((b) => b.seq)).size).toBe(1000);
        expect(r.back.every((b) => b.dst.every((x) => x === 0xff) && b.src[5] === 21)).toBe(true);
        expect(engine.dropped).toBe(0);
      } finally {
        peer.close();
        dut.close();
      }
    });
  }

  it('macswap swaps source and destination MAC on every frame', () => {
    const peer = withNetns(v.nsA, () => AfXdpPort.open({ ifname: v.ifA, mode: 'native' }));
    const dut = withNetns(v.nsB, () => AfXdpPort.open({ ifname: v.ifB, mode: 'native' }));
    try {
      const engine = new MacSwapEngine();
      engine.prepare(dut, { batch: 32, frameBytes: 64 });
      const r = roundTrip(peer, dut, engine, 500, 22);
      expect(r.back.length).toBe(500);
      expect(r.corrupt).toBe(0);
      // Sent: dst ff:ff:ff:ff:ff:ff, src 02:00:00:00:00:22. Back: swapped.
      for (const b of r.back) {
        expect(b.dst).toEqual([0x02, 0, 0, 0, 0, 22]);
        expect(b.src).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
      }
    } finally {
      peer.close();
      dut.close();
    }
  });
});

suite('io between two ports (the iperf3 forwarder)', { root: true, tools: ['ip'] }, () => {
  let v: VethLab;
  let w: VethLab;
  beforeAll(() => { v = createVethLab(); w = createVethLab(); });
  afterAll(() => { v?.lab.close(); w?.lab.close(); });

  it('forwards every frame from one side to the other, both ways', () => {
    // a (v.nsA) <-> [m1 (v.nsB) | io | m2 (w.nsA)] <-> b (w.nsB): the forwarder's ports live in
    // two namespaces here, which one process can hold (sockets keep their namespace).
    const a = withNetns(v.nsA, () => AfXdpPort.open({ ifname: v.ifA, mode: 'native' }));
    const m1 = withNetns(v.nsB, () => AfXdpPort.open({ ifname: v.ifB, mode: 'native' }));
    const m2 = withNetns(w.nsA, () => AfXdpPort.open({ ifname: w.ifA, mode: 'native' }));
    const b = withNetns(w.nsB, () => AfXdpPort.open({ ifname: w.ifB, mode: 'native' }));
    try {
      const engine = new IoEngine();
      engine.prepare(m1, { batch: 32, frameBytes: 64, peer: m2 });
      for (const [from, to, tag] of [[a, b, 31], [b, a, 32]] as const) {
        const q = from.queues[0]!;
        const tx = new FrameBatch(16), rx = new FrameBatch(64);
        const seen = new Set<number>();
        let sent = 0, corrupt = 0;
        const deadline = Date.now() + 5000;
        while (seen.size < 800 && Date.now() < deadline) {
          if (sent < 800 && sent - seen.size < 64) {
            sent += queueFrames(q, tx, tag, sent, 800 - sent);
          }
          from.reclaim();
          engine.burst(m1, 0);
          const n = to.queues[0]!.rxBurst(rx);
          for (let i = 0; i < n; i++) {
            const seq = checkFrame(to.queues[0]!.umem.bytes, rx.addr[i]!, rx.len[i]!, tag);
            if (seq === -2) corrupt++; else if (seq >= 0) seen.add(seq);
          }
          to.queues[0]!.release(rx);
        }
        expect([seen.size, corrupt]).toEqual([800, 0]);
      }
    } finally {
      for (const p of [a, m1, m2, b]) p.close();
    }
  });
});
