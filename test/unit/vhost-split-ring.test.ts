// SplitRing (native/vhost/split-ring.ts) over a GuestMemory built from plain Uint8Arrays (no
// mmap): the descriptor table, avail and used rings laid out in it as virtio 1.x's split ring
// has them (desc 16 bytes {addr u64, len u32, flags u16, next u16}; avail {flags, idx, ring[N]};
// used {flags, idx, ring {id u32, len u32}[N]}). Properties: over arbitrary descriptor tables,
// read() and write() return within bounds or throw a ProtocolError (never a RangeError), and
// never touch a byte outside the region or the destination's window (guard bytes around both);
// read() returns exactly what a reference walk of the chain says. Examples: a loop, a descriptor
// outside guest memory, avail.idx running ahead, good chains in and out, num_buffers.
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../../native/vhost/guest-memory.js';
import { ProtocolError } from '../../native/vhost/protocol.js';
import { SplitRing, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from '../../native/vhost/split-ring.js';
import { RUNS } from '../helpers/outcome.js';

const N = 8;
const GUEST = 0x10_0000;
const USER = 0x7f00_0000_0000;
const SIZE = 4096;
const GUARD = 64;
const GUARD_BYTE = 0xa5;
/** Where the ring's parts are in the region. */
const DESC = 0, AVAIL = 256, USED = 512, DATA = 1024;

interface Desc { addr: number | bigint; len: number; flags: number; next: number }

class Lab {
  readonly whole = new Uint8Array(GUARD + SIZE + GUARD).fill(GUARD_BYTE);
  readonly bytes = this.whole.subarray(GUARD, GUARD + SIZE);
  readonly view = new DataView(this.bytes.buffer, this.bytes.byteOffset, SIZE);
  readonly memory = new GuestMemory([{ guestAddr: GUEST, userAddr: USER, size: SIZE, bytes: this.bytes }]);
  constructor() { this.bytes.fill(0); }
  /** A ring started at `base`, with used.idx there too (as a back end that completes all it takes leaves it). */
  ring(base = 0): SplitRing {
    this.view.setUint16(USED + 2, base, true);
    return new SplitRing(1, N, this.memory, { desc: USER + DESC, avail: USER + AVAIL, used: USER + USED }, base);
  }
  setDesc(i: number, d: Desc): void {
    const o = DESC + 16 * i;
    this.view.setBigUint64(o, BigInt(d.addr), true);
    this.view.setUint32(o + 8, d.len, true);
    this.view.setUint16(o + 12, d.flags, true);
    this.view.setUint16(o + 14, d.next, true);
  }
  publish(heads: number[]): void {
    const idx = this.view.getUint16(AVAIL + 2, true);
    heads.forEach((h, k) => this.view.setUint16(AVAIL + 4 + 2 * ((idx + k) % N), h, true));
    this.view.setUint16(AVAIL + 2, (idx + heads.length) & 0xffff, true);
  }
  guardsIntact(): boolean {
    for (let i = 0; i < GUARD; i++) if (this.whole[i] !== GUARD_BYTE || this.whole[GUARD + SIZE + i] !== GUARD_BYTE) return false;
    return true;
  }
}

function refusedOr<T>(what: string, f: () => T): T | ProtocolError {
  try {
    return f();
  } catch (err) {
    if (err instanceof ProtocolError) return err;
    throw new Error(`${what} threw ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)} instead of a ProtocolError`, { cause: err });
  }
}

/** The chain's readable bytes after `skip`, or the field the walk must refuse (a reference, written from the spec). */
function referenceRead(lab: Lab, head: number, skip: number): { bytes: number[] } | { field: string } {
  const out: number[] = [];
  let i = head;
  for (let n = 0; ; n++) {
    if (n >= N) return { field: `desc[${head}].next` };
    const o = DESC + 16 * i;
    const addr = lab.view.getBigUint64(o, true);
    const len = lab.view.getUint32(o + 8, true);
    const flags = lab.view.getUint16(o + 12, true);
    const next = lab.view.getUint16(o + 14, true);
    if (flags & VIRTQ_DESC_F_INDIRECT) return { field: `desc[${i}].flags` };
    if (!(flags & VIRTQ_DESC_F_WRITE) && len > 0) {
      if (addr < BigInt(GUEST) || addr + BigInt(len) > BigInt(GUEST + SIZE)) return { field: `desc[${i}].addr` };
      const from = Number(addr) - GUEST;
      for (let k = 0; k < len; k++) { if (skip > 0) skip--; else out.push(lab.bytes[from + k]!); }
    }
    if (!(flags & VIRTQ_DESC_F_NEXT)) return { bytes: out };
    if (next >= N) return { field: `desc[${i}].next` };
    i = next;
  }
}

// ---- arbitrary descriptor tables -----------------------------------------------------------------

const addr = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: GUEST, max: GUEST + SIZE }) },
  { weight: 1, arbitrary: fc.integer({ min: GUEST - 64, max: GUEST + 64 }) },
  { weight: 1, arbitrary: fc.integer({ min: GUEST + SIZE - 64, max: GUEST + SIZE + 64 }) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) },
);
const len = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 200 }) },
  { weight: 1, arbitrary: fc.constantFrom(SIZE, SIZE + 1, 0x7fff_ffff, 0xffff_ffff) },
  { weight: 1, arbitrary: fc.nat({ max: 0xffff_ffff }) },
);
const desc: fc.Arbitrary<Desc> = fc.record({
  addr, len,
  flags: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 3 }) }, { weight: 1, arbitrary: fc.nat({ max: 0xffff }) }),
  next: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: N - 1 }) }, { weight: 1, arbitrary: fc.nat({ max: 0xffff }) }),
});
const table = fc.array(desc, { minLength: N, maxLength: N });
const fill = fc.uint8Array({ minLength: SIZE - DATA, maxLength: SIZE - DATA });

describe('SplitRing over arbitrary descriptor tables', () => {
  it('read(): exactly the reference walk, or a ProtocolError naming the same field; nothing outside its window is touched', () => {
    fc.assert(fc.property(table, fill, fc.integer({ min: 0, max: N - 1 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 600 }), (t, data, head, skip, max) => {
      const lab = new Lab();
      lab.bytes.set(data, DATA);
      t.forEach((d, i) => lab.setDesc(i, d));
      const ring = lab.ring();
      const dst = Buffer.alloc(GUARD + max + GUARD, GUARD_BYTE);
      const before = Buffer.from(lab.whole);
      const r = refusedOr('read', () => ring.read(head, skip, dst, GUARD, max));
      const ref = referenceRead(lab, head, skip);
      expect(Buffer.from(lab.whole).equals(before)).toBe(true);
      for (let i = 0; i < GUARD; i++) { expect(dst[i]).toBe(GUARD_BYTE); expect(dst[GUARD + max + i]).toBe(GUARD_BYTE); }
      if (r instanceof ProtocolError) {
        expect(ref).toEqual({ field: r.field });
        expect(r.request).toBe('virtqueue 1');
        if (r.field.endsWith('.next') && r.message.includes('longer than the ring')) expect(r.message).toContain('loops');
        return;
      }
      expect('bytes' in ref).toBe(true);
      const want = 'bytes' in ref ? ref.bytes : [];
      expect(r).toBe(want.length);
      const k = Math.min(max, want.length);
      expect([...dst.subarray(GUARD, GUARD + k)]).toEqual(want.slice(0, k));
    }), { numRuns: RUNS * 2 });
  });

  it('write(): returns at most header + frame or throws a ProtocolError; never writes outside the region', () => {
    fc.assert(fc.property(table, fc.integer({ min: 0, max: N - 1 }), fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 600 }), (t, head, hdrLen, frameLen) => {
      const lab = new Lab();
      t.forEach((d, i) => lab.setDesc(i, d));
      const ring = lab.ring();
      const hdr = Buffer.alloc(hdrLen, 0x11);
      const src = Buffer.alloc(GUARD + frameLen + GUARD, 0x22);
      const srcBefore = Buffer.from(src);
      const r = refusedOr('write', () => ring.write(head, hdr, src, GUARD, frameLen));
      expect(lab.guardsIntact()).toBe(true);
      expect(src.equals(srcBefore)).toBe(true);
      if (r instanceof ProtocolError) { expect(r.field).toMatch(/^desc\[\d+\]\.(addr|next|flags)$/); return; }
      expect(r).toBeGreaterThanOrEqual(0);
      expect(r).toBeLessThanOrEqual(hdrLen + frameLen);
    }), { numRuns: RUNS * 2 });
  });

  it('setNumBuffers(): never writes outside the region and never throws', () => {
    fc.assert(fc.property(table, fc.integer({ min: 0, max: N - 1 }), fc.integer({ min: 0, max: 0xffff }), (t, head, n) => {
      const lab = new Lab();
      t.forEach((d, i) => lab.setDesc(i, d));
      lab.ring().setNumBuffers(head, n);
      expect(lab.guardsIntact()).toBe(true);
    }), { numRuns: RUNS });
  });

  it('pending()/take(): avail.idx and heads anywhere give a count within the ring or a ProtocolError', () => {
    fc.assert(fc.property(fc.nat({ max: 0xffff }), fc.nat({ max: 0xffff }), fc.array(fc.nat({ max: 0xffff }), { minLength: N, maxLength: N }), (idx, base, heads) => {
      const lab = new Lab();
      lab.view.setUint16(AVAIL + 2, idx, true);
      heads.forEach((h, k) => lab.view.setUint16(AVAIL + 4 + 2 * k, h, true));
      const ring = lab.ring(base);
      const n = refusedOr('pending', () => ring.pending());
      if (n instanceof ProtocolError) { expect(n.field).toBe('avail.idx'); expect(((idx - base) & 0xffff)).toBeGreaterThan(N); return; }
      expect(n).toBe((idx - base) & 0xffff);
      for (let k = 0; k < n; k++) {
        const h = refusedOr('take', () => ring.take());
        if (h instanceof ProtocolError) { expect(h.field).toMatch(/^avail\.ring\[\d+\]$/); continue; }
        expect(h).toBeLessThan(N);
      }
      expect(lab.guardsIntact()).toBe(true);
    }), { numRuns: RUNS });
  });
});

// ---- examples ------------------------------------------------------------------------------------

describe('SplitRing examples', () => {
  const frame = Buffer.from(Array.from({ length: 60 }, (_, i) => (i * 7 + 3) & 0xff));
  const hdr = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);

  it('a chain that loops is refused: "loops", desc[head].next', () => {
    const lab = new Lab();
    lab.setDesc(0, { addr: GUEST + DATA, len: 16, flags: VIRTQ_DESC_F_NEXT, next: 1 });
    lab.setDesc(1, { addr: GUEST + DATA, len: 16, flags: VIRTQ_DESC_F_NEXT, next: 0 });
    const ring = lab.ring();
    expect(() => ring.read(0, 12, Buffer.alloc(2048), 0, 2048)).toThrow(ProtocolError);
    const e = refusedOr('read', () => ring.read(0, 12, Buffer.alloc(2048), 0, 2048)) as ProtocolError;
    expect(e.field).toBe('desc[0].next');
    expect(e.message).toContain('loops');
    lab.setDesc(0, { addr: GUEST + DATA, len: 16, flags: VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, next: 1 });
    lab.setDesc(1, { addr: GUEST + DATA, len: 16, flags: VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, next: 0 });
    const w = refusedOr('write', () => ring.write(0, Buffer.alloc(0), Buffer.alloc(0), 0, 0)) as ProtocolError;
    expect(w).toBeInstanceOf(ProtocolError);
    expect(w.field).toBe('desc[0].next');
    expect(w.message).toContain('loops');
  });

  it('a descriptor outside guest memory is refused naming desc[i].addr', () => {
    const lab = new Lab();
    lab.setDesc(0, { addr: GUEST + DATA, len: 16, flags: VIRTQ_DESC_F_NEXT, next: 2 });
    lab.setDesc(2, { addr: GUEST + SIZE - 8, len: 16, flags: 0, next: 0 });
    const e = refusedOr('read', () => lab.ring().read(0, 0, Buffer.alloc(64), 0, 64));
    expect(e).toBeInstanceOf(ProtocolError);
    expect((e as ProtocolError).field).toBe('desc[2].addr');
    lab.setDesc(2, { addr: 0, len: 16, flags: VIRTQ_DESC_F_WRITE, next: 0 });
    lab.setDesc(0, { addr: GUEST + DATA, len: 4, flags: VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, next: 2 });
    const w = refusedOr('write', () => lab.ring().write(0, hdr, frame, 0, frame.length));
    expect((w as ProtocolError).field).toBe('desc[2].addr');
    expect(lab.guardsIntact()).toBe(true);
  });

  it('a base that disagrees with used.idx (a front end whose back end died) gives way to used.idx, and says so', () => {
    const lab = new Lab();
    lab.view.setUint16(USED + 2, 40, true);
    lab.view.setUint16(AVAIL + 2, 43, true);
    const ring = new SplitRing(1, N, lab.memory, { desc: USER + DESC, avail: USER + AVAIL, used: USER + USED }, 37);
    expect({ lastAvail: ring.lastAvail, resyncedFrom: ring.resyncedFrom, pending: ring.pending() }).toEqual({ lastAvail: 40, resyncedFrom: 37, pending: 3 });
    expect(lab.ring(40).resyncedFrom).toBeUndefined();
    // Whatever EVENT_IDX says, the first interrupt after a start is owed.
    expect(ring.interruptOwed).toBe(true);
  });

  it('avail.idx running ahead of the ring size is refused', () => {
    const lab = new Lab();
    lab.view.setUint16(AVAIL + 2, N, true);
    expect(lab.ring().pending()).toBe(N);
    lab.view.setUint16(AVAIL + 2, N + 1, true);
    const e = refusedOr('pending', () => lab.ring().pending()) as ProtocolError;
    expect(e).toBeInstanceOf(ProtocolError);
    expect(e.field).toBe('avail.idx');
    // Wrapping: base 0xfffe, idx 3 is 5 ahead.
    lab.view.setUint16(AVAIL + 2, 3, true);
    expect(lab.ring(0xfffe).pending()).toBe(5);
  });

  it('a good chain\'s bytes come out exactly, the 12-byte header skipped across descriptor boundaries', () => {
    const lab = new Lab();
    const whole = Buffer.concat([hdr, frame]); // 72 bytes
    // Pieces of 5, 4, 20 and 43 bytes in descriptors 3 -> 5 -> 1 -> 6, scattered in memory.
    const pieces = [[3, 5, 1500], [5, 4, 1100], [1, 20, 2000], [6, 43, 1300]] as const;
    let at = 0;
    pieces.forEach(([i, l, off], k) => {
      lab.bytes.set(whole.subarray(at, at + l), off);
      at += l;
      lab.setDesc(i, { addr: GUEST + off, len: l, flags: k < pieces.length - 1 ? VIRTQ_DESC_F_NEXT : 0, next: pieces[k + 1]?.[0] ?? 0 });
    });
    lab.publish([3]);
    const ring = lab.ring();
    expect(ring.pending()).toBe(1);
    const head = ring.take();
    expect(head).toBe(3);
    const dst = Buffer.alloc(200, 0xcc);
    expect(ring.read(head, 12, dst, 10, 180)).toBe(frame.length);
    expect(dst.subarray(10, 10 + frame.length).equals(frame)).toBe(true);
    expect(dst[9]).toBe(0xcc);
    expect(dst[10 + frame.length]).toBe(0xcc);
    // Too small a destination: cut at max, the full length still reported.
    const small = Buffer.alloc(32, 0xcc);
    expect(ring.read(head, 12, small, 0, 30)).toBe(frame.length);
    expect(small.subarray(0, 30).equals(frame.subarray(0, 30))).toBe(true);
    expect(small[30]).toBe(0xcc);
    // Device-writable descriptors in the chain are not read.
    lab.setDesc(5, { addr: GUEST + 1100, len: 4, flags: VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, next: 1 });
    expect(ring.read(head, 12, dst, 0, 180)).toBe(frame.length - 4);
    ring.putUsed(head, 0);
    expect(ring.flush()).toBe(true);
    expect(lab.view.getUint16(USED + 2, true)).toBe(1);
    expect(lab.view.getUint32(USED + 4, true)).toBe(3);
  });

  it('write(): header + frame into a multi-descriptor chain; a short chain reports what fit', () => {
    const lab = new Lab();
    // 4 + 10 + 100 bytes of device-writable buffers; a read-only one in between is skipped.
    lab.setDesc(0, { addr: GUEST + 1200, len: 4, flags: VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, next: 4 });
    lab.setDesc(4, { addr: GUEST + 1300, len: 10, flags: VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, next: 7 });
    lab.setDesc(7, { addr: GUEST + 1400, len: 8, flags: VIRTQ_DESC_F_NEXT, next: 2 });
    lab.setDesc(2, { addr: GUEST + 1500, len: 100, flags: VIRTQ_DESC_F_WRITE, next: 0 });
    const ring = lab.ring();
    const src = Buffer.concat([Buffer.alloc(5, 0xee), frame]);
    expect(ring.write(0, hdr, src, 5, frame.length)).toBe(12 + frame.length);
    const got = Buffer.concat([lab.bytes.subarray(1200, 1204), lab.bytes.subarray(1300, 1310), lab.bytes.subarray(1500, 1500 + 58)]);
    expect(got.equals(Buffer.concat([hdr, frame]))).toBe(true);
    expect(lab.bytes[1500 + 58]).toBe(0);
    expect([...lab.bytes.subarray(1400, 1408)]).toEqual(new Array(8).fill(0));
    // Only 14 bytes of buffers: 12 of header and 2 of frame.
    lab.setDesc(4, { addr: GUEST + 1300, len: 10, flags: VIRTQ_DESC_F_WRITE, next: 0 });
    expect(ring.write(0, hdr, frame, 0, frame.length)).toBe(14);
    expect(lab.guardsIntact()).toBe(true);
  });

  it('setNumBuffers(): bytes 10 and 11 of a header split over descriptors', () => {
    const lab = new Lab();
    // Header bytes 0-3 in desc 0, 4-10 in desc 1, 11.. in desc 2.
    lab.setDesc(0, { addr: GUEST + 1200, len: 4, flags: VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, next: 1 });
    lab.setDesc(1, { addr: GUEST + 1300, len: 7, flags: VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, next: 2 });
    lab.setDesc(2, { addr: GUEST + 1400, len: 100, flags: VIRTQ_DESC_F_WRITE, next: 0 });
    lab.ring().setNumBuffers(0, 0x0302);
    expect(lab.bytes[1306]).toBe(0x02);
    expect(lab.bytes[1400]).toBe(0x03);
    // The usual case: one descriptor holding the whole header.
    lab.setDesc(3, { addr: GUEST + 2000, len: 1514, flags: VIRTQ_DESC_F_WRITE, next: 0 });
    lab.ring().setNumBuffers(3, 5);
    expect(lab.view.getUint16(2010, true)).toBe(5);
    expect(lab.guardsIntact()).toBe(true);
  });

  it('ring parts outside the memory table or misaligned are refused naming the part', () => {
    const lab = new Lab();
    const make = (a: { desc: number; avail: number; used: number }) => refusedOr('new SplitRing', () => new SplitRing(0, N, lab.memory, a, 0));
    const ok = { desc: USER + DESC, avail: USER + AVAIL, used: USER + USED };
    expect((make({ ...ok, desc: USER + SIZE }) as ProtocolError).field).toBe('desc');
    expect((make({ ...ok, used: USER + SIZE - 16 }) as ProtocolError).field).toBe('used');
    expect((make({ ...ok, avail: USER + 1 }) as ProtocolError).field).toBe('avail');
    expect((make({ ...ok, desc: GUEST }) as ProtocolError).field).toBe('desc');
  });

  it('a region whose bytes are not aligned for the ring (userspace_addr or mmap_offset odd) is refused, not a RangeError', () => {
    const buf = new Uint8Array(SIZE + 8);
    // The region's bytes start 2 bytes into the buffer (an mmap_offset of 2): the desc table's
    // 16-byte aligned address is 2 bytes off in the mapping.
    const mem = new GuestMemory([{ guestAddr: GUEST, userAddr: USER, size: SIZE, bytes: buf.subarray(2, 2 + SIZE) }]);
    const r = refusedOr('new SplitRing', () => new SplitRing(1, N, mem, { desc: USER + DESC, avail: USER + AVAIL, used: USER + USED }, 0));
    expect(r).toBeInstanceOf(ProtocolError);
    expect((r as ProtocolError).field).toBe('desc');
  });
});
