// io: forward what arrives (testpmd's io). On one port it is L2 loopback: received frames go
// straight back out of the same queue, from the same UMEM, without a copy. Given a peer port
// it forwards both ways between them, as testpmd does with two ports: that is how an iperf3
// TCP stream crosses xdplab's rings (namespace A <-> port <-> port <-> namespace B). The two
// ports have separate UMEMs, so frames are copied (Buffer.copy: no allocation per packet).
import { performance } from 'node:perf_hooks';
import { FrameBatch, type AfXdpPort, type XskQueue } from '../../native/index.js';
import type { BurstCounts, Engine, EngineParams } from './engine.js';

/** Swaps the Ethernet source and destination addresses in place (macswap). */
export function swapMacs(bytes: Uint8Array, off: number): void {
  for (let i = 0; i < 6; i++) {
    const t = bytes[off + i]!;
    bytes[off + i] = bytes[off + 6 + i]!;
    bytes[off + 6 + i] = t;
  }
}

/**
 * Frames copied into the egress port's UMEM and held until they are due (the delay line):
 * a FIFO of addresses, lengths and due times in typed arrays (no allocation per frame).
 */
class HeldFrames {
  readonly addr: Float64Array;
  readonly len: Uint32Array;
  readonly due: Float64Array;
  head = 0;
  count = 0;
  constructor(readonly capacity: number) {
    this.addr = new Float64Array(capacity);
    this.len = new Uint32Array(capacity);
    this.due = new Float64Array(capacity);
  }
}

interface Direction { from: XskQueue; to: XskQueue; fromBytes: Buffer; toBytes: Buffer; rx: FrameBatch; tx: FrameBatch; held?: HeldFrames }

function bufferOf(q: XskQueue): Buffer {
  const b = q.umem.bytes;
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export class IoEngine implements Engine {
  readonly name: 'io' | 'macswap' = 'io';
  protected swap = false;
  private batch = new FrameBatch(1);
  private peer: AfXdpPort | undefined;
  private directions: Direction[] = [];
  private readonly counts: BurstCounts = { rx: 0, tx: 0 };
  /** Frames received that could not be queued for transmission (tx ring or pool full). */
  dropped = 0;

  private holdMs = 0;

  prepare(port: AfXdpPort, params: EngineParams): void {
    this.batch = new FrameBatch(params.batch);
    this.peer = params.peer;
    this.dropped = 0;
    this.directions = [];
    this.holdMs = (params.holdUs ?? 0) / 1000;
    if (this.holdMs > 0 && !this.peer) throw new RangeError('holdUs: the delay line forwards between two ports (give a peer port)');
    if (this.peer) {
      const a = port.queues[0]!, b = this.peer.queues[0]!;
      for (const [from, to] of [[a, b], [b, a]] as const) {
        this.directions.push({
          from, to, fromBytes: bufferOf(from), toBytes: bufferOf(to), rx: new FrameBatch(params.batch), tx: new FrameBatch(params.batch),
          ...(this.holdMs > 0 ? { held: new HeldFrames(to.umem.geometry.frameCount) } : {}),
        });
      }
    }
  }

  burst(port: AfXdpPort, queue: number): BurstCounts {
    const counts = this.counts;
    counts.rx = 0;
    counts.tx = 0;
    if (this.peer) {
      if (this.holdMs > 0) { const now = performance.now(); for (const d of this.directions) this.forwardHeld(d, now); }
      else for (const d of this.directions) this.forward(d);
      return counts;
    }
    const q = port.queues[queue]!;
    counts.tx = q.reclaim();
    const batch = this.batch;
    const n = q.rxBurst(batch);
    if (n > 0) {
      if (this.swap) {
        const bytes = q.umem.bytes;
        for (let i = 0; i < n; i++) swapMacs(bytes, batch.addr[i]!);
      }
      const sent = q.txBurst(batch);
      if (sent < n) { q.release(batch, sent, n); this.dropped += n - sent; }
      counts.rx = n;
    }
    return counts;
  }

  private forward(d: Direction): void {
    const counts = this.counts;
    counts.tx += d.to.reclaim();
    const n = d.from.rxBurst(d.rx);
    if (n === 0) return;
    counts.rx += n;
    const k = d.to.allocate(d.tx, n);
    for (let i = 0; i < k; i++) {
      const src = d.rx.addr[i]!, len = d.rx.len[i]!, dst = d.tx.addr[i]!;
      d.fromBytes.copy(d.toBytes, dst, src, src + len);
      d.tx.len[i] = len;
      if (this.swap) swapMacs(d.toBytes, dst);
    }
    d.from.release(d.rx, 0, n);
    const sent = k > 0 ? d.to.txBurst(d.tx) : 0;
    if (sent < k) d.to.release(d.tx, sent, k);
    this.dropped += n - sent;
  }

  /**
   * The delay line (holdUs): received frames are copied at once and sent when they are due,
   * holdUs after the burst that received them, in order. A planted, known delay for checking
   * latency counters where the kernel has no netem. One clock read per burst.
   */
  private forwardHeld(d: Direction, now: number): void {
    const counts = this.counts;
    const h = d.held!;
    counts.tx += d.to.reclaim();
    const n = d.from.rxBurst(d.rx);
    if (n > 0) {
      counts.rx += n;
      const room = Math.min(n, h.capacity - h.count);
      const k = d.to.allocate(d.tx, room);
      for (let i = 0; i < k; i++) {
        const src = d.rx.addr[i]!, len = d.rx.len[i]!, dst = d.tx.addr[i]!;
        d.fromBytes.copy(d.toBytes, dst, src, src + len);
        const at = (h.head + h.count++) % h.capacity;
        h.addr[at] = dst;
        h.len[at] = len;
        h.due[at] = now + this.holdMs;
      }
      d.from.release(d.rx, 0, n);
      this.dropped += n - k;
    }
    // Send what is due, a batch at most.
    const tx = d.tx;
    let m = 0;
    while (m < tx.capacity && h.count > 0 && h.due[h.head]! <= now) {
      tx.addr[m] = h.addr[h.head]!;
      tx.len[m] = h.len[h.head]!;
      m++;
      h.head = (h.head + 1) % h.capacity;
      h.count--;
    }
    if (m === 0) return;
    tx.count = m;
    const sent = d.to.txBurst(tx);
    if (sent < m) { d.to.release(tx, sent, m); this.dropped += m - sent; }
  }

  finish(_port: AfXdpPort): void {
    // Frames are queued or given back inside burst(); the delay line's held frames go with the port.
  }
}

/** macswap: io with source and destination MAC addresses swapped (testpmd's macswap). */
export class MacSwapEngine extends IoEngine {
  override readonly name = 'macswap' as const;
  protected override swap = true;
}
