// A split virtqueue (virtio 1.x, 2.7) as typed arrays over the guest's memory: the descriptor
// table, the available ring (the driver's) and the used ring (ours). The driver publishes
// avail.idx after writing its entries, so avail.idx is read with Atomics.load before the
// entries; we write used entries and then publish used.idx with Atomics.store (seq_cst: on x86
// also the store-load fence the spec asks for before reading avail.flags to decide whether to
// notify). Descriptor chains are walked with bounds checks on every index, address and length,
// and a chain longer than the ring is a loop. Nothing allocates per packet.
import { Buffer } from 'node:buffer';
import type { GuestMemory } from './guest-memory.js';
import { ProtocolError } from './protocol.js';

export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
export const VIRTQ_USED_F_NO_NOTIFY = 1;

/** Where a ring's three parts are, in the front end's virtual addresses (SET_VRING_ADDR). */
export interface RingAddresses { desc: number; avail: number; used: number }

/** A ring fault: names the queue and the field; the device drops the connection on it. */
export const ringFault = (queue: number, field: string, detail: string) => new ProtocolError(`virtqueue ${queue}`, field, detail);

export class SplitRing {
  private readonly desc: Uint32Array;
  private readonly avail: Uint16Array;
  private readonly usedHead: Uint16Array;
  /** used.avail_event (after the used ring): where we want the next kick (EVENT_IDX). */
  private readonly availEvent: Uint16Array;
  private readonly usedRing: Uint32Array;
  private readonly mask: number;
  /** Region bytes as Buffers (Buffer.copy copies without a view per call). */
  private readonly regionBuffers: Buffer[];
  /** The next avail entry we will take (the vring base). */
  lastAvail: number;
  /** Our used.idx (published by flush). */
  private usedIdx: number;
  private unpublished = 0;

  /** The base the front end gave, when it disagreed with used.idx and was replaced by it. */
  resyncedFrom: number | undefined;

  /**
   * An interrupt is owed whatever EVENT_IDX says: from the start (a driver whose last back end
   * went away may be waiting for one that never came, its used_event already behind us) and
   * after the call fd changes (SET_VRING_CALL). A spurious interrupt costs nothing; a lost one
   * stalls the queue for good. QEMU's virtio does the same (signalled_used_valid = false).
   */
  interruptOwed = true;

  /** The used idx the driver last saw published (EVENT_IDX decides against it). */
  private publishedIdx: number;

  /**
   * eventIdx: VIRTIO_RING_F_EVENT_IDX was negotiated: interrupts only when the used index
   * crosses the driver's used_event, kicks only when its avail index crosses our avail_event
   * (the driver batches both; under TCG every interrupt and kick is expensive).
   */
  constructor(readonly queue: number, readonly size: number, private readonly memory: GuestMemory, addr: RingAddresses, base: number, private readonly eventIdx = false) {
    this.mask = size - 1;
    const mem = memory;
    const part = (what: string, a: number, bytes: number, align: number) => {
      if (a % align !== 0) throw ringFault(queue, what, `address 0x${a.toString(16)} is not ${align}-byte aligned`);
      if (!mem.fromUser(a, bytes)) throw ringFault(queue, what, `0x${a.toString(16)}..+${bytes} is outside the memory table`);
      const r = mem.regions[mem.region]!.bytes;
      // The typed arrays need the part aligned in the mapping too (a region's userspace_addr or
      // mmap_offset that is not would make them throw a RangeError).
      const off = r.byteOffset + mem.offset;
      if (off % align !== 0) throw ringFault(queue, what, `0x${a.toString(16)} is ${off % align} bytes off ${align}-byte alignment in its region's mapping (userspace_addr or mmap_offset not aligned)`);
      return { buf: r.buffer, off };
    };
    const d = part('desc', addr.desc, 16 * size, 16);
    const av = part('avail', addr.avail, 6 + 2 * size, 2);
    const us = part('used', addr.used, 6 + 8 * size, 4);
    this.desc = new Uint32Array(d.buf, d.off, 4 * size);
    this.avail = new Uint16Array(av.buf, av.off, 3 + size);
    this.usedHead = new Uint16Array(us.buf, us.off, 2);
    this.availEvent = new Uint16Array(us.buf, us.off + 4 + 8 * size, 1);
    this.usedRing = new Uint32Array(us.buf, us.off + 4, 2 * size);
    this.regionBuffers = memory.regions.map((r) => Buffer.from(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength));
    this.usedIdx = Atomics.load(this.usedHead, 1);
    this.publishedIdx = this.usedIdx;
    // We complete every chain in the burst that takes it, so the ring's used.idx is where we
    // stopped. A front end that lost its back end (we were killed or restarted: no
    // GET_VRING_BASE answered) gives a base from its own stale copy; taking chains from there
    // would complete heads the driver no longer has out, and Linux's driver then marks the
    // queue broken. As DPDK's vhost does, trust used.idx when the two disagree.
    this.lastAvail = base & 0xffff;
    if (this.lastAvail !== this.usedIdx) { this.resyncedFrom = this.lastAvail; this.lastAvail = this.usedIdx; }
  }

  /** Chains the driver has made available and we have not taken. */
  pending(): number {
    const idx = Atomics.load(this.avail, 1);
    const n = (idx - this.lastAvail) & 0xffff;
    if (n > this.size) throw ringFault(this.queue, 'avail.idx', `${idx} is ${n} entries ahead of the last one taken (${this.lastAvail}); the ring has ${this.size}`);
    return n;
  }

  /** Takes the next available chain's head (call pending() first). */
  take(): number {
    const head = this.avail[2 + (this.lastAvail & this.mask)]!;
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    if (head >= this.size) throw ringFault(this.queue, `avail.ring[${(this.lastAvail - 1) & this.mask}]`, `head ${head} is past the descriptor table (${this.size} entries)`);
    return head;
  }

  /**
   * Copies the device-readable bytes of the chain at `head`, after skipping `skip` bytes (the
   * virtio-net header), into dst at dstOff, up to max bytes. Returns the bytes the chain held
   * after the skip (more than max: the frame is too long for dst and was cut).
   */
  read(head: number, skip: number, dst: Buffer, dstOff: number, max: number): number {
    const d = this.desc;
    const mem = this.memory;
    let i = head;
    let total = 0;
    let copied = 0;
    for (let n = 0; ; n++) {
      if (n >= this.size) throw ringFault(this.queue, `desc[${head}].next`, `the chain from ${head} is longer than the ring (${this.size}): it loops`);
      const w = i << 2;
      const flags = d[w + 3]! & 0xffff;
      if (flags & VIRTQ_DESC_F_INDIRECT) throw ringFault(this.queue, `desc[${i}].flags`, 'INDIRECT, which was not negotiated');
      const len = d[w + 2]!;
      if (!(flags & VIRTQ_DESC_F_WRITE) && len > 0) {
        const addr = d[w + 1]! * 0x1_0000_0000 + d[w]!;
        if (!mem.fromGuest(addr, len)) throw ringFault(this.queue, `desc[${i}].addr`, `0x${addr.toString(16)}..+${len} is outside guest memory`);
        let from = mem.offset;
        let avail = len;
        if (skip > 0) { const s = Math.min(skip, avail); skip -= s; from += s; avail -= s; }
        total += avail;
        const room = max - copied;
        const k = avail < room ? avail : room;
        if (k > 0) { this.regionBuffers[mem.region]!.copy(dst, dstOff + copied, from, from + k); copied += k; }
      }
      if (!(flags & VIRTQ_DESC_F_NEXT)) return total;
      i = d[w + 3]! >>> 16;
      if (i >= this.size) throw ringFault(this.queue, `desc[${w >> 2}].next`, `${i} is past the descriptor table (${this.size} entries)`);
    }
  }

  /**
   * Writes `hdr` then src[srcOff, srcOff+len) into the device-writable descriptors of the
   * chain at `head`. Returns the bytes written (less than hdr + len: the chain was too short).
   */
  write(head: number, hdr: Buffer, src: Buffer, srcOff: number, len: number): number {
    const d = this.desc;
    const mem = this.memory;
    let i = head;
    let written = 0;
    const want = hdr.length + len;
    for (let n = 0; ; n++) {
      if (n >= this.size) throw ringFault(this.queue, `desc[${head}].next`, `the chain from ${head} is longer than the ring (${this.size}): it loops`);
      const w = i << 2;
      const flags = d[w + 3]! & 0xffff;
      if (flags & VIRTQ_DESC_F_INDIRECT) throw ringFault(this.queue, `desc[${i}].flags`, 'INDIRECT, which was not negotiated');
      const dlen = d[w + 2]!;
      if ((flags & VIRTQ_DESC_F_WRITE) && dlen > 0 && written < want) {
        const addr = d[w + 1]! * 0x1_0000_0000 + d[w]!;
        if (!mem.fromGuest(addr, dlen)) throw ringFault(this.queue, `desc[${i}].addr`, `0x${addr.toString(16)}..+${dlen} is outside guest memory`);
        const dst = this.regionBuffers[mem.region]!;
        let at = mem.offset;
        let room = dlen;
        if (written < hdr.length) {
          const k = Math.min(hdr.length - written, room);
          hdr.copy(dst, at, written, written + k);
          written += k; at += k; room -= k;
        }
        if (room > 0 && written >= hdr.length) {
          const done = written - hdr.length;
          const k = Math.min(len - done, room);
          if (k > 0) { src.copy(dst, at, srcOff + done, srcOff + done + k); written += k; }
        }
      }
      if (!(flags & VIRTQ_DESC_F_NEXT)) return written;
      i = d[w + 3]! >>> 16;
      if (i >= this.size) throw ringFault(this.queue, `desc[${w >> 2}].next`, `${i} is past the descriptor table (${this.size} entries)`);
    }
  }

  /** Sets num_buffers (bytes 10-11 of the virtio-net header) in the chain at head, which holds the header. */
  setNumBuffers(head: number, n: number): void {
    const d = this.desc;
    const mem = this.memory;
    let i = head;
    let pos = 0;
    for (let k = 0; k < this.size; k++) {
      const w = i << 2;
      const flags = d[w + 3]! & 0xffff;
      const len = d[w + 2]!;
      if (flags & VIRTQ_DESC_F_WRITE) {
        for (const at of [10, 11]) {
          if (at >= pos && at < pos + len && mem.fromGuest(d[w + 1]! * 0x1_0000_0000 + d[w]! + (at - pos), 1)) {
            this.regionBuffers[mem.region]![mem.offset] = at === 10 ? n & 0xff : n >>> 8;
          }
        }
        pos += len;
        if (pos >= 12) return;
      }
      if (!(flags & VIRTQ_DESC_F_NEXT)) return;
      i = (d[w + 3]! >>> 16) & this.mask;
    }
  }

  /** Queues a used entry; flush() publishes them. */
  putUsed(head: number, len: number): void {
    const e = (this.usedIdx & this.mask) << 1;
    this.usedRing[e] = head;
    this.usedRing[e + 1] = len;
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    this.unpublished++;
  }

  /** Publishes the used entries; true when the driver wants an interrupt for them. */
  flush(): boolean {
    if (this.unpublished === 0) return false;
    this.unpublished = 0;
    const old = this.publishedIdx;
    const now = this.usedIdx;
    this.publishedIdx = now;
    Atomics.store(this.usedHead, 1, now);
    if (!this.eventIdx) return (Atomics.load(this.avail, 0) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
    // vring_need_event(used_event, new, old): the driver asked for an interrupt at used_event.
    const usedEvent = Atomics.load(this.avail, 2 + this.size);
    return ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff);
  }

  /** Asks the driver not to kick (we are polling) or to kick again (we are going to sleep). */
  setNotify(on: boolean): void {
    if (!this.eventIdx) { Atomics.store(this.usedHead, 0, on ? 0 : VIRTQ_USED_F_NO_NOTIFY); return; }
    // With EVENT_IDX a kick comes once the avail index passes avail_event: ask for the next one
    // (on), or leave it behind us (off: no kick until we ask again).
    if (on) Atomics.store(this.availEvent, 0, this.lastAvail);
  }
}
