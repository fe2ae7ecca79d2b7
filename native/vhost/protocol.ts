// The vhost-user protocol's messages (docs/interop/vhost-user.rst in QEMU): header, request
// codes, feature bits, and a parser that turns one received message (bytes + fds) into a typed
// request or refuses it with the message's name and the field at fault. Pure: no I/O, no koffi,
// so that the parser is property-tested on its own.

/** Header: request u32, flags u32, size u32 (payload bytes that follow). */
export const HEADER_BYTES = 12;
/** Largest payload we accept: SET_MEM_TABLE with 8 regions is 8 + 8 * 32 = 264 bytes. */
export const MAX_PAYLOAD_BYTES = 4096;
export const MAX_MEM_REGIONS = 8;
/** Largest ring a virtio-net device may have (the virtio spec's Queue Size limit). */
export const MAX_RING_SIZE = 32768;

export const FLAG_VERSION = 0x1;
export const FLAG_REPLY = 0x4;
export const FLAG_NEED_REPLY = 0x8;

export const Req = {
  GET_FEATURES: 1,
  SET_FEATURES: 2,
  SET_OWNER: 3,
  RESET_OWNER: 4,
  SET_MEM_TABLE: 5,
  SET_LOG_BASE: 6,
  SET_LOG_FD: 7,
  SET_VRING_NUM: 8,
  SET_VRING_ADDR: 9,
  SET_VRING_BASE: 10,
  GET_VRING_BASE: 11,
  SET_VRING_KICK: 12,
  SET_VRING_CALL: 13,
  SET_VRING_ERR: 14,
  GET_PROTOCOL_FEATURES: 15,
  SET_PROTOCOL_FEATURES: 16,
  GET_QUEUE_NUM: 17,
  SET_VRING_ENABLE: 18,
  SEND_RARP: 19,
  NET_SET_MTU: 20,
} as const;
export type RequestName = keyof typeof Req;

const NAMES = new Map<number, RequestName>(Object.entries(Req).map(([k, v]) => [v, k as RequestName]));
export const requestName = (code: number): string => NAMES.get(code) ?? `request ${code}`;

/** Virtio and vhost feature bits (bit numbers). */
export const Feature = {
  NET_F_MRG_RXBUF: 15,
  NET_F_STATUS: 16,
  NET_F_MQ: 22,
  RING_F_EVENT_IDX: 29,
  VHOST_USER_F_PROTOCOL_FEATURES: 30,
  F_VERSION_1: 32,
} as const;

export const ProtocolFeature = {
  MQ: 0,
  REPLY_ACK: 3,
} as const;

export const bit = (n: number): bigint => 1n << BigInt(n);

/** SET_VRING_KICK/CALL/ERR: the ring index in bits 0-7; bit 8 says no fd is attached. */
export const VRING_INDEX_MASK = 0xffn;
export const VRING_NOFD_MASK = 0x100n;

export interface MemRegion { guestAddr: bigint; size: bigint; userAddr: bigint; mmapOffset: bigint }

export type Request =
  | { kind: 'GET_FEATURES' | 'SET_OWNER' | 'RESET_OWNER' | 'GET_PROTOCOL_FEATURES' | 'GET_QUEUE_NUM' }
  | { kind: 'SET_FEATURES' | 'SET_PROTOCOL_FEATURES' | 'SET_LOG_BASE'; value: bigint }
  | { kind: 'SET_MEM_TABLE'; regions: MemRegion[] }
  | { kind: 'SET_VRING_NUM' | 'SET_VRING_BASE' | 'GET_VRING_BASE' | 'SET_VRING_ENABLE'; index: number; num: number }
  | { kind: 'SET_VRING_ADDR'; index: number; flags: number; desc: bigint; used: bigint; avail: bigint; log: bigint }
  | { kind: 'SET_VRING_KICK' | 'SET_VRING_CALL' | 'SET_VRING_ERR'; index: number; fd: number | undefined }
  | { kind: 'SEND_RARP'; mac: string }
  | { kind: 'NET_SET_MTU'; mtu: number }
  | { kind: 'SET_LOG_FD'; fd: number };

export interface Message { request: Request; needReply: boolean; code: number }

/** A message refused: which one (by name) and which field; the connection is then dropped. */
export class ProtocolError extends Error {
  readonly code = 'EVHOSTUSER';
  constructor(readonly request: string, readonly field: string, detail: string) {
    super(`vhost-user ${request}: ${field}: ${detail}`);
    this.name = 'ProtocolError';
  }
}

/** Parses the 12-byte header; refuses a wrong version or a payload over the limit. */
export function parseHeader(h: Uint8Array): { code: number; flags: number; size: number } {
  if (h.byteLength < HEADER_BYTES) throw new ProtocolError('header', 'size', `${h.byteLength} bytes, a header is ${HEADER_BYTES}`);
  const v = new DataView(h.buffer, h.byteOffset, HEADER_BYTES);
  const code = v.getUint32(0, true);
  const flags = v.getUint32(4, true);
  const size = v.getUint32(8, true);
  const name = requestName(code);
  if ((flags & 0x3) !== FLAG_VERSION) throw new ProtocolError(name, 'flags', `version ${flags & 0x3}, only version 1 is spoken`);
  if (flags & FLAG_REPLY) throw new ProtocolError(name, 'flags', 'the reply bit is set on a request from the front end');
  if (size > MAX_PAYLOAD_BYTES) throw new ProtocolError(name, 'size', `${size} bytes is over the ${MAX_PAYLOAD_BYTES}-byte limit`);
  return { code, flags, size };
}

const U64 = 8;
const STATE = 8;
const ADDR = 40;

/**
 * Parses a request's payload. `fds` are the descriptors that came with it; they are validated
 * against what the request takes (too many or too few is refused). The caller owns the fds
 * and closes them when this throws.
 */
export function parsePayload(code: number, flags: number, payload: Uint8Array, fds: readonly number[]): Message {
  const name = requestName(code);
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const needSize = (n: number, field = 'size') => {
    if (payload.byteLength !== n) throw new ProtocolError(name, field, `${payload.byteLength} payload bytes, expected ${n}`);
  };
  const noFds = () => { if (fds.length) throw new ProtocolError(name, 'fds', `${fds.length} file descriptors attached; this request takes none`); };
  const u64 = (off: number) => v.getBigUint64(off, true);
  const msg = (request: Request): Message => ({ request, needReply: (flags & FLAG_NEED_REPLY) !== 0, code });
  switch (name) {
    case 'GET_FEATURES': case 'SET_OWNER': case 'RESET_OWNER': case 'GET_PROTOCOL_FEATURES': case 'GET_QUEUE_NUM':
      // QEMU sends GET_* with an empty payload (some front ends pad with a u64).
      if (payload.byteLength !== 0 && payload.byteLength !== U64) needSize(0);
      noFds();
      return msg({ kind: name });
    case 'SET_FEATURES': case 'SET_PROTOCOL_FEATURES': case 'SET_LOG_BASE':
      needSize(U64); noFds();
      return msg({ kind: name, value: u64(0) });
    case 'SET_MEM_TABLE': {
      if (payload.byteLength < 8) throw new ProtocolError(name, 'size', `${payload.byteLength} payload bytes, at least 8 (nregions, padding)`);
      const n = v.getUint32(0, true);
      if (n < 1 || n > MAX_MEM_REGIONS) throw new ProtocolError(name, 'nregions', `${n}, allowed 1..${MAX_MEM_REGIONS}`);
      if (payload.byteLength < 8 + n * 32) throw new ProtocolError(name, 'size', `${payload.byteLength} payload bytes for ${n} regions, expected ${8 + n * 32}`);
      if (fds.length !== n) throw new ProtocolError(name, 'fds', `${fds.length} file descriptors for ${n} regions`);
      const regions: MemRegion[] = [];
      for (let i = 0; i < n; i++) {
        const o = 8 + i * 32;
        const r = { guestAddr: u64(o), size: u64(o + 8), userAddr: u64(o + 16), mmapOffset: u64(o + 24) };
        const f = (x: string) => `regions[${i}].${x}`;
        if (r.size === 0n) throw new ProtocolError(name, f('memory_size'), 'is 0');
        if (r.guestAddr + r.size > 2n ** 64n) throw new ProtocolError(name, f('guest_phys_addr'), `0x${r.guestAddr.toString(16)} + size 0x${r.size.toString(16)} wraps past 2^64`);
        if (r.userAddr + r.size > 2n ** 64n) throw new ProtocolError(name, f('userspace_addr'), `0x${r.userAddr.toString(16)} + size 0x${r.size.toString(16)} wraps past 2^64`);
        if (r.mmapOffset + r.size > 2n ** 53n) throw new ProtocolError(name, f('mmap_offset'), `0x${r.mmapOffset.toString(16)} + size 0x${r.size.toString(16)} is past what can be mapped`);
        for (const p of regions) {
          if (r.guestAddr < p.guestAddr + p.size && p.guestAddr < r.guestAddr + r.size) throw new ProtocolError(name, f('guest_phys_addr'), `0x${r.guestAddr.toString(16)}..+0x${r.size.toString(16)} overlaps another region`);
        }
        regions.push(r);
      }
      return msg({ kind: name, regions });
    }
    case 'SET_VRING_NUM': case 'SET_VRING_BASE': case 'GET_VRING_BASE': case 'SET_VRING_ENABLE': {
      needSize(STATE); noFds();
      const index = v.getUint32(0, true);
      const num = v.getUint32(4, true);
      if (name === 'SET_VRING_NUM' && (num === 0 || num > MAX_RING_SIZE || (num & (num - 1)) !== 0)) {
        throw new ProtocolError(name, 'num', `${num} is not a power of two from 1 to ${MAX_RING_SIZE} (a split ring's size)`);
      }
      if (name === 'SET_VRING_BASE' && num > 0xffff) throw new ProtocolError(name, 'num', `${num}: a split ring's index is 16 bits`);
      if (name === 'SET_VRING_ENABLE' && num > 1) throw new ProtocolError(name, 'num', `${num}: 0 (disable) or 1 (enable)`);
      return msg({ kind: name, index, num });
    }
    case 'SET_VRING_ADDR': {
      needSize(ADDR); noFds();
      return msg({ kind: name, index: v.getUint32(0, true), flags: v.getUint32(4, true), desc: u64(8), used: u64(16), avail: u64(24), log: u64(32) });
    }
    case 'SET_VRING_KICK': case 'SET_VRING_CALL': case 'SET_VRING_ERR': {
      needSize(U64);
      const x = u64(0);
      if (x & ~(VRING_INDEX_MASK | VRING_NOFD_MASK)) throw new ProtocolError(name, 'u64', `0x${x.toString(16)} has bits set past the index and the no-fd flag`);
      const nofd = (x & VRING_NOFD_MASK) !== 0n;
      if (nofd && fds.length) throw new ProtocolError(name, 'fds', 'a file descriptor came with the no-fd flag set');
      if (!nofd && fds.length !== 1) throw new ProtocolError(name, 'fds', `${fds.length} file descriptors; expected 1 (or the no-fd flag)`);
      return msg({ kind: name, index: Number(x & VRING_INDEX_MASK), fd: nofd ? undefined : fds[0] });
    }
    case 'SET_LOG_FD':
      if (fds.length !== 1) throw new ProtocolError(name, 'fds', `${fds.length} file descriptors; expected 1`);
      return msg({ kind: name, fd: fds[0]! });
    case 'SEND_RARP': {
      needSize(U64); noFds();
      const mac = [...payload.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
      return msg({ kind: name, mac });
    }
    case 'NET_SET_MTU': {
      needSize(U64); noFds();
      const mtu = Number(u64(0));
      if (mtu < 68 || mtu > 65535) throw new ProtocolError(name, 'mtu', `${mtu}, allowed 68..65535`);
      return msg({ kind: name, mtu });
    }
    default:
      throw new ProtocolError(name, 'request', `not supported by this back end (it offers only the features it negotiated)`);
  }
}

/** A reply: the header with the reply bit and the payload (a u64 or a vring state). */
export function encodeReply(code: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + payload.byteLength);
  const v = new DataView(out.buffer);
  v.setUint32(0, code, true);
  v.setUint32(4, FLAG_VERSION | FLAG_REPLY, true);
  v.setUint32(8, payload.byteLength, true);
  out.set(payload, HEADER_BYTES);
  return out;
}

export function u64Payload(x: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, x), true);
  return b;
}

export function statePayload(index: number, num: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, index, true);
  v.setUint32(4, num, true);
  return b;
}
