// Property tests of the vhost-user message parser (native/vhost/protocol.ts): whatever bytes and
// fds come in, parseHeader/parsePayload return a message or throw a ProtocolError whose message
// names the request and the field, never another exception; and a well-formed message of every
// request kind the parser knows round-trips (built here from the spec's layout, parsed, fields
// compared).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FLAG_NEED_REPLY, FLAG_REPLY, FLAG_VERSION, HEADER_BYTES, MAX_MEM_REGIONS, MAX_PAYLOAD_BYTES, MAX_RING_SIZE,
  parseHeader, parsePayload, ProtocolError, Req, requestName, type Message,
} from '../../native/vhost/protocol.js';
import { RUNS } from '../helpers/outcome.js';

/** Calls f; a ProtocolError is returned, anything else thrown is a failure of the property. */
function refusedOr<T>(what: string, f: () => T): T | ProtocolError {
  try {
    return f();
  } catch (err) {
    if (err instanceof ProtocolError) return err;
    throw new Error(`${what} threw ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)} instead of a ProtocolError`, { cause: err });
  }
}

function namesRequestAndField(e: ProtocolError): void {
  expect(e.request.length).toBeGreaterThan(0);
  expect(e.field.length).toBeGreaterThan(0);
  expect(e.message).toContain(e.request);
  expect(e.message).toContain(e.field);
}

const CODES = Object.values(Req);
/** Known request codes mostly, sometimes any u32. */
const code = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...CODES) }, { weight: 1, arbitrary: fc.nat() });
const flags = fc.oneof(fc.constantFrom(FLAG_VERSION, FLAG_VERSION | FLAG_NEED_REPLY, 0, 2, 3, FLAG_VERSION | FLAG_REPLY), fc.nat());
/** fds are just numbers to the parser: 0..9 of them. */
const fds = fc.array(fc.integer({ min: 0, max: 1023 }), { maxLength: 9 });
/** Payloads of the sizes the requests take (and near them), or any length. */
const payload = fc.oneof(
  fc.constantFrom(0, 7, 8, 9, 40, 8 + 32, 8 + 2 * 32, 8 + 8 * 32, 8 + 9 * 32).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
  fc.uint8Array({ maxLength: 400 }),
);

/** A payload placed at an odd offset of a larger buffer (the parser must use byteOffset). */
const offsetBy = (p: Uint8Array, k: number): Uint8Array => {
  const b = new Uint8Array(p.byteLength + k + 3).fill(0xee);
  b.set(p, k);
  return b.subarray(k, k + p.byteLength);
};

describe('vhost-user parser on arbitrary input', () => {
  it('parseHeader: a header or a ProtocolError naming the request and the field', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 24 }), fc.integer({ min: 0, max: 5 }), (bytes, k) => {
      const r = refusedOr('parseHeader', () => parseHeader(offsetBy(bytes, k)));
      if (r instanceof ProtocolError) { namesRequestAndField(r); return; }
      expect(bytes.byteLength).toBeGreaterThanOrEqual(HEADER_BYTES);
      expect(r.flags & 3).toBe(FLAG_VERSION);
      expect(r.flags & FLAG_REPLY).toBe(0);
      expect(r.size).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
      expect(r.code).toBe(new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true));
    }), { numRuns: RUNS * 4 });
  });

  it('parseHeader: structured headers (known codes, every flag pattern, sizes around the limit)', () => {
    const sizes = fc.oneof(fc.constantFrom(0, MAX_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES + 1, 0xffffffff), fc.nat());
    fc.assert(fc.property(code, flags, sizes, (c, f, s) => {
      const h = new Uint8Array(HEADER_BYTES);
      const v = new DataView(h.buffer);
      v.setUint32(0, c >>> 0, true); v.setUint32(4, f >>> 0, true); v.setUint32(8, s >>> 0, true);
      const r = refusedOr('parseHeader', () => parseHeader(h));
      if (r instanceof ProtocolError) {
        namesRequestAndField(r);
        expect(r.request).toBe(requestName(c >>> 0));
        expect(['flags', 'size']).toContain(r.field);
        return;
      }
      expect(r).toEqual({ code: c >>> 0, flags: f >>> 0, size: s >>> 0 });
    }), { numRuns: RUNS * 4 });
  });

  it('parsePayload: a message or a ProtocolError naming the request and the field', () => {
    fc.assert(fc.property(code, flags, payload, fds, fc.integer({ min: 0, max: 5 }), (c, f, p, fs, k) => {
      const r = refusedOr('parsePayload', () => parsePayload(c, f, offsetBy(p, k), fs));
      if (r instanceof ProtocolError) {
        namesRequestAndField(r);
        expect(r.request).toBe(requestName(c));
        return;
      }
      expect(r.code).toBe(c);
      expect(r.request.kind).toBe(requestName(c));
      expect(r.needReply).toBe((f & FLAG_NEED_REPLY) !== 0);
    }), { numRuns: RUNS * 4 });
  });

  it('the refusals the back end relies on', () => {
    const st = (i: number, n: number) => { const b = new Uint8Array(8); const v = new DataView(b.buffer); v.setUint32(0, i, true); v.setUint32(4, n, true); return b; };
    const refused = (c: number, p: Uint8Array, fs: number[] = []) => {
      const r = refusedOr('parsePayload', () => parsePayload(c, FLAG_VERSION, p, fs));
      expect(r).toBeInstanceOf(ProtocolError);
      return r as ProtocolError;
    };
    expect(refused(Req.SET_VRING_NUM, st(0, 100))).toMatchObject({ request: 'SET_VRING_NUM', field: 'num' });
    expect(refused(Req.SET_VRING_NUM, st(0, 0))).toMatchObject({ field: 'num' });
    expect(refused(Req.SET_VRING_NUM, st(0, 2 * MAX_RING_SIZE))).toMatchObject({ field: 'num' });
    expect(refused(Req.SET_MEM_TABLE, new Uint8Array(8))).toMatchObject({ request: 'SET_MEM_TABLE', field: 'nregions' });
    expect(refused(Req.SET_MEM_TABLE, memTable([{ guestAddr: 0n, size: 4096n, userAddr: 0n, mmapOffset: 0n }]), [])).toMatchObject({ field: 'fds' });
    expect(refused(Req.SET_MEM_TABLE, memTable([{ guestAddr: 0n, size: 0n, userAddr: 0n, mmapOffset: 0n }]), [3])).toMatchObject({ field: 'regions[0].memory_size' });
    expect(refused(Req.SET_MEM_TABLE, memTable([
      { guestAddr: 0n, size: 8192n, userAddr: 0n, mmapOffset: 0n }, { guestAddr: 4096n, size: 4096n, userAddr: 1n << 20n, mmapOffset: 0n },
    ]), [3, 4])).toMatchObject({ field: 'regions[1].guest_phys_addr' });
    expect(refused(Req.SET_VRING_KICK, u64(1n), [])).toMatchObject({ request: 'SET_VRING_KICK', field: 'fds' });
    expect(refused(Req.SET_VRING_KICK, u64(0x100n), [5])).toMatchObject({ field: 'fds' });
    expect(refused(Req.SET_VRING_KICK, u64(0x200n), [5])).toMatchObject({ field: 'u64' });
    expect(refused(Req.GET_FEATURES, new Uint8Array(0), [5])).toMatchObject({ field: 'fds' });
    expect(refused(99, new Uint8Array(0))).toMatchObject({ request: 'request 99', field: 'request' });
  });
});

// ---- well-formed messages ----------------------------------------------------------------------

const u64 = (x: bigint): Uint8Array => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, x, true); return b; };
interface Region { guestAddr: bigint; size: bigint; userAddr: bigint; mmapOffset: bigint }
function memTable(rs: Region[]): Uint8Array {
  const b = new Uint8Array(8 + 32 * rs.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, rs.length, true);
  rs.forEach((r, i) => {
    const o = 8 + 32 * i;
    v.setBigUint64(o, r.guestAddr, true); v.setBigUint64(o + 8, r.size, true);
    v.setBigUint64(o + 16, r.userAddr, true); v.setBigUint64(o + 24, r.mmapOffset, true);
  });
  return b;
}

interface Built { code: number; payload: Uint8Array; fds: number[]; expected: Message['request'] }

const u64v = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const index = fc.integer({ min: 0, max: 0xffff_ffff });
const fd = fc.integer({ min: 0, max: 1 << 20 });

/** Non-overlapping regions: region i lives in its own 2^40-byte slot of guest space. */
const regions = fc.array(fc.record({
  size: fc.bigInt({ min: 1n, max: 1n << 36n }),
  slotOffset: fc.bigInt({ min: 0n, max: 1n << 36n }),
  userAddr: fc.bigInt({ min: 0n, max: 1n << 52n }),
  mmapOffset: fc.bigInt({ min: 0n, max: 1n << 40n }),
}), { minLength: 1, maxLength: MAX_MEM_REGIONS }).map((rs) => rs.map((r, i): Region => ({
  guestAddr: (BigInt(i) << 40n) + r.slotOffset, size: r.size, userAddr: r.userAddr, mmapOffset: r.mmapOffset,
})));

const built: fc.Arbitrary<Built> = fc.oneof(
  fc.constantFrom('GET_FEATURES', 'SET_OWNER', 'RESET_OWNER', 'GET_PROTOCOL_FEATURES', 'GET_QUEUE_NUM' as const)
    .map((kind): Built => ({ code: Req[kind], payload: new Uint8Array(0), fds: [], expected: { kind } })),
  fc.tuple(fc.constantFrom('SET_FEATURES', 'SET_PROTOCOL_FEATURES', 'SET_LOG_BASE' as const), u64v)
    .map(([kind, value]): Built => ({ code: Req[kind], payload: u64(value), fds: [], expected: { kind, value } })),
  fc.tuple(regions, fc.array(fd, { minLength: MAX_MEM_REGIONS, maxLength: MAX_MEM_REGIONS }))
    .map(([rs, f]): Built => ({ code: Req.SET_MEM_TABLE, payload: memTable(rs), fds: f.slice(0, rs.length), expected: { kind: 'SET_MEM_TABLE', regions: rs } })),
  fc.tuple(index, fc.integer({ min: 0, max: 15 }))
    .map(([i, p]): Built => ({ code: Req.SET_VRING_NUM, payload: st(i, 2 ** p), fds: [], expected: { kind: 'SET_VRING_NUM', index: i, num: 2 ** p } })),
  fc.tuple(index, fc.integer({ min: 0, max: 0xffff }))
    .map(([i, n]): Built => ({ code: Req.SET_VRING_BASE, payload: st(i, n), fds: [], expected: { kind: 'SET_VRING_BASE', index: i, num: n } })),
  fc.tuple(index, fc.integer({ min: 0, max: 0xffff_ffff }))
    .map(([i, n]): Built => ({ code: Req.GET_VRING_BASE, payload: st(i, n), fds: [], expected: { kind: 'GET_VRING_BASE', index: i, num: n } })),
  fc.tuple(index, fc.integer({ min: 0, max: 1 }))
    .map(([i, n]): Built => ({ code: Req.SET_VRING_ENABLE, payload: st(i, n), fds: [], expected: { kind: 'SET_VRING_ENABLE', index: i, num: n } })),
  fc.tuple(index, fc.integer({ min: 0, max: 0xffff_ffff }), u64v, u64v, u64v, u64v).map(([i, f, desc, used, avail, log]): Built => {
    const b = new Uint8Array(40);
    const v = new DataView(b.buffer);
    v.setUint32(0, i, true); v.setUint32(4, f, true);
    v.setBigUint64(8, desc, true); v.setBigUint64(16, used, true); v.setBigUint64(24, avail, true); v.setBigUint64(32, log, true);
    return { code: Req.SET_VRING_ADDR, payload: b, fds: [], expected: { kind: 'SET_VRING_ADDR', index: i, flags: f, desc, used, avail, log } };
  }),
  fc.tuple(fc.constantFrom('SET_VRING_KICK', 'SET_VRING_CALL', 'SET_VRING_ERR' as const), fc.integer({ min: 0, max: 255 }), fc.boolean(), fd)
    .map(([kind, i, nofd, f]): Built => ({
      code: Req[kind], payload: u64(BigInt(i) | (nofd ? 0x100n : 0n)), fds: nofd ? [] : [f], expected: { kind, index: i, fd: nofd ? undefined : f },
    })),
  fd.map((f): Built => ({ code: Req.SET_LOG_FD, payload: new Uint8Array(0), fds: [f], expected: { kind: 'SET_LOG_FD', fd: f } })),
  fc.uint8Array({ minLength: 6, maxLength: 6 }).map((mac): Built => {
    const b = new Uint8Array(8); b.set(mac);
    return { code: Req.SEND_RARP, payload: b, fds: [], expected: { kind: 'SEND_RARP', mac: [...mac].map((x) => x.toString(16).padStart(2, '0')).join(':') } };
  }),
  fc.integer({ min: 68, max: 65535 }).map((mtu): Built => ({ code: Req.NET_SET_MTU, payload: u64(BigInt(mtu)), fds: [], expected: { kind: 'NET_SET_MTU', mtu } })),
);
function st(i: number, n: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, i, true); v.setUint32(4, n, true);
  return b;
}

describe('vhost-user parser on well-formed messages', () => {
  it('every request kind round-trips: header and payload parse to the fields they were built from', () => {
    fc.assert(fc.property(built, fc.boolean(), fc.integer({ min: 0, max: 5 }), (m, needReply, k) => {
      const f = FLAG_VERSION | (needReply ? FLAG_NEED_REPLY : 0);
      const h = new Uint8Array(HEADER_BYTES);
      const v = new DataView(h.buffer);
      v.setUint32(0, m.code, true); v.setUint32(4, f, true); v.setUint32(8, m.payload.byteLength, true);
      const head = parseHeader(h);
      expect(head).toEqual({ code: m.code, flags: f, size: m.payload.byteLength });
      const parsed = parsePayload(head.code, head.flags, offsetBy(m.payload, k), m.fds);
      expect(parsed).toEqual({ request: m.expected, needReply, code: m.code });
    }), { numRuns: RUNS * 2 });
  });

  it('covers every request code the parser accepts', () => {
    const kinds = new Set<string>();
    fc.assert(fc.property(built, (m) => { kinds.add(m.expected.kind); }), { numRuns: 2000 });
    expect([...kinds].sort()).toEqual(Object.keys(Req).sort());
  });
});
