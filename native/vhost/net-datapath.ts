// Frames between a vhost-user-net device's virtqueues and an AF_XDP port: queue pair i's tx ring
// (guest -> wire) into XSK queue i's UMEM and out, and what XSK queue i receives into the rx
// ring's buffers (wire -> guest). One copy each way (guest buffer <-> UMEM frame), bursts of up
// to `batch`, no allocation and no FFI call per packet: the FFI calls are per burst (the XSK's
// rx/tx kicks and one eventfd write per burst that the guest wants interrupted).
import { Buffer } from 'node:buffer';
import type { AfXdpPort } from '../afxdp/port.js';
import { FrameBatch } from '../afxdp/umem.js';
import type { XskQueue } from '../afxdp/xsk-queue.js';
import { Feature } from './protocol.js';
import type { VhostNetDevice, Vring } from './net-device.js';

export interface VhostNetCounters {
  /** Guest -> wire: frames taken from the tx rings and queued on the XSK. */
  txFrames: number;
  txBytes: number;
  /** Guest frames dropped: longer than a UMEM frame, or the XSK tx ring was full. */
  txDropped: number;
  /** Wire -> guest: frames written into the rx rings. */
  rxFrames: number;
  rxBytes: number;
  /** Frames cut short: the guest's buffers were smaller than the frame (and no merge). */
  rxTruncated: number;
  /** Interrupts (call eventfd writes) sent to the guest. */
  calls: number;
}

interface Pair { q: XskQueue; umem: Buffer; frameSize: number; rx: FrameBatch; tx: FrameBatch }

export class VhostNetDatapath {
  readonly counters: VhostNetCounters = { txFrames: 0, txBytes: 0, txDropped: 0, rxFrames: 0, rxBytes: 0, rxTruncated: 0, calls: 0 };
  private readonly pairs: Pair[];
  private hdr = Buffer.alloc(12);
  private readonly empty = Buffer.alloc(0);

  constructor(private readonly device: VhostNetDevice, port: AfXdpPort, readonly batch = 64) {
    this.pairs = port.queues.map((q) => ({
      q, umem: Buffer.from(q.umem.bytes.buffer, q.umem.bytes.byteOffset, q.umem.bytes.byteLength),
      frameSize: q.umem.geometry.frameSize, rx: new FrameBatch(batch), tx: new FrameBatch(batch),
    }));
    this.refresh();
  }

  /** Called when the device's features changed: the header size follows them. */
  refresh(): void {
    const n = this.device.headerBytes;
    this.hdr = Buffer.alloc(n);
    // num_buffers = 1 (with VERSION_1 it is there even without MRG_RXBUF, and must be 1).
    if (n === 12) this.hdr.writeUInt16LE(1, 10);
  }

  /** One burst each way on every queue pair; returns the frames moved. */
  burst(): number {
    let moved = 0;
    const v = this.device.vrings;
    for (let i = 0; i < this.pairs.length; i++) {
      const p = this.pairs[i]!;
      p.q.reclaim();
      const tx = v[2 * i + 1];
      this.payOwedInterrupt(v[2 * i]);
      this.payOwedInterrupt(tx);
      if (tx?.ring) moved += this.fromGuest(p, tx);
      const rx = this.rxRingFor(i);
      if (rx) moved += this.toGuest(p, rx);
    }
    return moved;
  }

  /** Sends the interrupt a ring owes (SplitRing.interruptOwed), once it has a call fd. */
  private payOwedInterrupt(vr: Vring | undefined): void {
    if (vr?.ring?.interruptOwed && vr.call) { vr.ring.interruptOwed = false; vr.call.signal(); this.counters.calls++; }
  }

  /**
   * The guest rx ring that XSK queue i's frames go to: pair i's when the guest enabled it, else
   * the first enabled one. A guest with fewer vCPUs than queue pairs enables only some (Linux:
   * one per vCPU), while the wire side spreads flows over every queue by hash: frames on a
   * queue whose ring is off would otherwise never reach the guest (as a tap steers around
   * detached queues).
   */
  rxRingFor(i: number): Vring | undefined {
    const v = this.device.vrings;
    const own = v[2 * i];
    if (own?.ring && own.enabled) return own;
    for (let j = 0; j < v.length; j += 2) if (v[j]!.ring && v[j]!.enabled) return v[j];
    return undefined;
  }

  /** Guest -> wire. A started but disabled ring is drained and its frames discarded (the spec's rule). */
  private fromGuest(p: Pair, vr: Vring): number {
    const ring = vr.ring!;
    let n = ring.pending();
    if (n === 0) return 0;
    if (n > this.batch) n = this.batch;
    const b = p.tx;
    const k = vr.enabled ? p.q.allocate(b, n) : 0;
    const hdr = this.hdr.length;
    let out = 0;
    const c = this.counters;
    for (let j = 0; j < (vr.enabled ? k : n); j++) {
      const head = ring.take();
      if (vr.enabled) {
        const addr = b.addr[j]!;
        const len = ring.read(head, hdr, p.umem, addr, p.frameSize);
        if (len <= p.frameSize && len > 0) { b.addr[out] = addr; b.len[out] = len; out++; c.txBytes += len; } else { p.q.umem.give(addr); c.txDropped++; }
      }
      ring.putUsed(head, 0);
    }
    b.count = out;
    const sent = out ? p.q.txBurst(b) : 0;
    if (sent < out) { p.q.release(b, sent, out); c.txDropped += out - sent; }
    c.txFrames += sent;
    if (ring.flush() && vr.call) { vr.call.signal(); c.calls++; }
    return vr.enabled ? k : n;
  }

  /** Wire -> guest: as many frames as the guest has buffers for; the rest wait in the XSK ring. */
  private toGuest(p: Pair, vr: Vring): number {
    const ring = vr.ring!;
    const bufs = ring.pending();
    if (bufs === 0) return 0;
    const b = p.rx;
    const n = p.q.rxBurst(b, bufs);
    if (n === 0) return 0;
    const merge = this.device.has(Feature.NET_F_MRG_RXBUF);
    const hdr = this.hdr;
    const c = this.counters;
    let left = bufs;
    for (let j = 0; j < n; j++) {
      const addr = b.addr[j]!;
      const len = b.len[j]!;
      if (left === 0) { c.rxTruncated++; continue; }
      const head = ring.take(); left--;
      const w = ring.write(head, hdr, p.umem, addr, len);
      ring.putUsed(head, w);
      let done = w - hdr.length;
      let heads = 1;
      while (merge && done < len && left > 0) {
        const h = ring.take(); left--;
        const w2 = ring.write(h, this.empty, p.umem, addr + done, len - done);
        ring.putUsed(h, w2);
        done += w2;
        heads++;
      }
      if (heads > 1) ring.setNumBuffers(head, heads);
      if (done < len) c.rxTruncated++;
      c.rxFrames++;
      c.rxBytes += len;
    }
    p.q.release(b);
    if (ring.flush() && vr.call) { vr.call.signal(); c.calls++; }
    return n;
  }

  /** Asks the guest to kick (on) before sleeping, or not to (off) while polling. */
  setNotify(on: boolean): void {
    for (const v of this.device.vrings) v.ring?.setNotify(on);
  }

  /** Work waiting on any started ring (checked after setNotify(true), before sleeping). */
  pending(): boolean {
    const v = this.device.vrings;
    for (let i = 1; i < v.length; i += 2) if (v[i]!.ring && v[i]!.ring!.pending() > 0) return true;
    return false;
  }
}
