// Sends numbered test frames through one AF_XDP port and collects them at another, checking
// every byte. Frames use the local experimental EtherType 0x88B5 so that anything else the
// kernel puts on the wire (IPv6 neighbour discovery, ...) is told apart and ignored.
import { FrameBatch, type AfXdpPort, type XskQueue } from '../../native/index.js';

const ETHERTYPE = 0x88b5;

/** Frame `seq` of `tag`: its length and every byte follow from (tag, seq). */
export function frameLength(seq: number): number {
  return 60 + ((seq * 37) % 1400);
}

export function writeFrame(buf: Uint8Array, off: number, tag: number, seq: number): number {
  const len = frameLength(seq);
  buf.fill(0xff, off, off + 6);
  buf.set([0x02, 0, 0, 0, 0, tag], off + 6);
  buf[off + 12] = ETHERTYPE >> 8;
  buf[off + 13] = ETHERTYPE & 0xff;
  new DataView(buf.buffer, buf.byteOffset + off + 14, 4).setUint32(0, seq);
  for (let i = 18; i < len; i++) buf[off + i] = (seq + i * 7 + tag) & 0xff;
  return len;
}

/** Returns the frame's seq if it is a well-formed test frame of `tag`, else -1 (or -2 if corrupt). */
export function checkFrame(buf: Uint8Array, off: number, len: number, tag: number): number {
  if (buf[off + 12] !== ETHERTYPE >> 8 || buf[off + 13] !== (ETHERTYPE & 0xff) || buf[off + 11] !== tag) return -1;
  const seq = new DataView(buf.buffer, buf.byteOffset + off + 14, 4).getUint32(0);
  if (len !== frameLength(seq)) return -2;
  for (let i = 18; i < len; i++) if (buf[off + i] !== ((seq + i * 7 + tag) & 0xff)) return -2;
  return seq;
}

/** Queues up to `max` test frames numbered from `first` on `q`; returns how many were queued. */
export function queueFrames(q: XskQueue, tx: FrameBatch, tag: number, first: number, max: number): number {
  q.allocate(tx, Math.min(tx.capacity, max));
  for (let i = 0; i < tx.count; i++) tx.len[i] = writeFrame(q.umem.bytes, tx.addr[i]!, tag, first + i);
  const n = q.txBurst(tx);
  q.release(tx, n);
  return n;
}

export interface Delivery { sent: number; received: number[]; corrupt: number; perQueue: number[] }

/**
 * Sends `count` frames tagged `tag` on tx queue `txQueue` of `from`, paced in bursts so that
 * nothing overflows (a full tx ring is retried), and receives on every queue of `to` until all
 * arrived; timeoutMs is only the deadline for frames that never come (lost for real).
 */
export function deliver(from: AfXdpPort, to: AfXdpPort, count: number, tag: number, txQueue = 0, timeoutMs = 20000): Delivery {
  const tx = new FrameBatch(32);
  const rx = new FrameBatch(64);
  const q = from.queues[txQueue]!;
  const seen = new Set<number>();
  const received: number[] = [];
  const perQueue = to.queues.map(() => 0);
  let sent = 0, corrupt = 0;
  const base = from.stats().txPackets;
  const deadline = Date.now() + timeoutMs;
  while ((sent < count || received.length < count) && Date.now() < deadline) {
    if (sent < count && sent - received.length < 256) {
      sent += queueFrames(q, tx, tag, sent, count - sent);
    }
    from.reclaim();
    to.queues.forEach((rq, qi) => {
      const n = rq.rxBurst(rx);
      for (let i = 0; i < n; i++) {
        const seq = checkFrame(rq.umem.bytes, rx.addr[i]!, rx.len[i]!, tag);
        if (seq === -2) corrupt++;
        else if (seq >= 0 && !seen.has(seq)) { seen.add(seq); received.push(seq); perQueue[qi]!++; }
      }
      rq.release(rx);
    });
  }
  // Let the last completions come back so tx statistics are final (they follow the frames that
  // arrived; a deadline only for a kernel that never completes them).
  const completed = Date.now() + timeoutMs;
  while (from.stats().txPackets - base < sent && Date.now() < completed) from.reclaim();
  return { sent, received, corrupt, perQueue };
}

/**
 * Sends `count` test frames numbered from `first` (a full tx ring is retried) and waits until the
 * kernel completed them all; timeoutMs is the deadline for completions that never come. Returns
 * how many completed.
 */
export function send(from: AfXdpPort, count: number, tag: number, o: { first?: number; txQueue?: number; timeoutMs?: number } = {}): number {
  const tx = new FrameBatch(32);
  const q = from.queues[o.txQueue ?? 0]!;
  const first = o.first ?? 0;
  let sent = 0;
  const deadline = Date.now() + (o.timeoutMs ?? 20000);
  const done = () => from.stats().txPackets;
  const base = done();
  while ((sent < count || done() - base < sent) && Date.now() < deadline) {
    if (sent < count && sent - (done() - base) < 128) {
      sent += queueFrames(q, tx, tag, first + sent, count - sent);
    }
    from.reclaim();
  }
  return done() - base;
}
