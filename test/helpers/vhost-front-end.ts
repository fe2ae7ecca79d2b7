// A FAKE vhost-user front end, for the faults QEMU never sends (bad versions, oversized
// payloads, memory tables past their fds, rings outside memory, looping descriptor chains):
// QEMU cannot be made to send them, so this minimal front end in TypeScript over koffi does.
// It speaks the real protocol on a real unix stream socket to the real back end (xdplab vhost
// serve): messages with SCM_RIGHTS fds, a real memfd as guest memory (mapped here too, so the
// rings and frames it lays out are what the back end maps), real eventfds for kick and call.
// It is a test driver, not a device model: no feature negotiation beyond what a test asks for.
import { Buffer } from 'node:buffer';
import { SystemError } from '../../native/errors.js';
import { POLLIN } from '../../native/afxdp/constants.js';
import { Block, message, release, sockaddrUn } from '../../native/sys/fdpass.js';
import { closeFd, errno, libc, mapMemory, unmapMemory, MAP_SHARED, PROT_READ, PROT_WRITE, type Pointer } from '../../native/sys/libc.js';
import { FLAG_VERSION, HEADER_BYTES, Req } from '../../native/vhost/protocol.js';

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_NOSIGNAL = 0x4000;
const MFD_CLOEXEC = 1;
const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;

export { Req };

export interface Reply { code: number; flags: number; payload: Buffer }

/** A memfd of `size` bytes, mapped shared in this process. */
export class Memfd {
  readonly fd: number;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  private readonly ptr: Pointer;
  constructor(readonly size: number, name = 'xl-fake-guest') {
    const c = libc();
    this.fd = c.memfdCreate(name, MFD_CLOEXEC) as number;
    if (this.fd < 0) throw new SystemError('memfd_create', errno(), 'creating fake guest memory');
    if (Number(c.ftruncate(this.fd, size)) !== 0) { const e = errno(); closeFd(this.fd); throw new SystemError('ftruncate', e, 'sizing fake guest memory'); }
    const m = mapMemory(size, PROT_READ | PROT_WRITE, MAP_SHARED, this.fd, 0, 'mapping fake guest memory');
    this.ptr = m.ptr;
    this.bytes = new Uint8Array(m.buffer);
    this.view = new DataView(m.buffer);
  }
  /** Closes the fd and unmaps. */
  close(): void { closeFd(this.fd); unmapMemory(this.ptr, this.size); }
}

export function eventFd(): number {
  const fd = libc().eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) as number;
  if (fd < 0) throw new SystemError('eventfd', errno(), 'creating a kick/call eventfd');
  return fd;
}

export function signalEventFd(fd: number): void {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(1n);
  if (Number(libc().write(fd, b, 8)) !== 8) throw new SystemError('write', errno(), 'kicking the eventfd');
}

export const u64 = (x: bigint): Buffer => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt.asUintN(64, x)); return b; };
export const vringState = (index: number, num: number): Buffer => { const b = Buffer.alloc(8); b.writeUInt32LE(index >>> 0, 0); b.writeUInt32LE(num >>> 0, 4); return b; };
export function vringAddr(index: number, a: { desc: number; used: number; avail: number }): Buffer {
  const b = Buffer.alloc(40);
  b.writeUInt32LE(index, 0);
  b.writeBigUInt64LE(BigInt(a.desc), 8); b.writeBigUInt64LE(BigInt(a.used), 16); b.writeBigUInt64LE(BigInt(a.avail), 24);
  return b;
}
export interface Region { guestAddr: number; size: number; userAddr: number; mmapOffset: number }
export function memTable(regions: Region[], nregions = regions.length): Buffer {
  const b = Buffer.alloc(8 + 32 * regions.length);
  b.writeUInt32LE(nregions, 0);
  regions.forEach((r, i) => {
    const o = 8 + 32 * i;
    b.writeBigUInt64LE(BigInt(r.guestAddr), o); b.writeBigUInt64LE(BigInt(r.size), o + 8);
    b.writeBigUInt64LE(BigInt(r.userAddr), o + 16); b.writeBigUInt64LE(BigInt(r.mmapOffset), o + 24);
  });
  return b;
}

function poll(fd: number, timeoutMs: number): number {
  const pfd = Buffer.alloc(8);
  pfd.writeInt32LE(fd, 0);
  pfd.writeInt16LE(POLLIN, 4);
  const n = libc().poll(pfd, 1, timeoutMs) as number;
  return n <= 0 ? 0 : pfd.readInt16LE(6);
}

export class FakeFrontEnd {
  private closed = false;
  private constructor(readonly fd: number) {}

  /** Connects to the back end listening at path (retrying while the socket is not there yet). */
  static async connect(path: string, timeoutMs = 5000): Promise<FakeFrontEnd> {
    const c = libc();
    const until = Date.now() + timeoutMs;
    for (;;) {
      const fd = c.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) as number;
      if (fd < 0) throw new SystemError('socket', errno(), 'creating the fake front end socket');
      const addr = sockaddrUn(path);
      if ((c.connect(fd, addr, addr.length) as number) === 0) return new FakeFrontEnd(fd);
      const e = errno();
      closeFd(fd);
      if (Date.now() > until) throw new SystemError('connect', e, `connecting to ${path}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Sends raw bytes (a header of one's own making), with fds on them. */
  sendRaw(bytes: Buffer, fds: number[] = []): void {
    const c = libc();
    const data = new Block(Math.max(1, bytes.length));
    bytes.copy(data.bytes);
    const controlLen = 16 + Math.ceil((fds.length * 4) / 8) * 8;
    const control = new Block(controlLen);
    control.bytes.writeBigUInt64LE(BigInt(16 + fds.length * 4), 0);
    control.bytes.writeInt32LE(SOL_SOCKET, 8);
    control.bytes.writeInt32LE(SCM_RIGHTS, 12);
    fds.forEach((fd, i) => control.bytes.writeInt32LE(fd, 16 + i * 4));
    const { msg, iov } = message(data, bytes.length, control, fds.length ? controlLen : 0);
    try {
      const n = Number(c.sendmsg(this.fd, msg.ptr, MSG_NOSIGNAL));
      if (n !== bytes.length) throw new SystemError('sendmsg', errno(), `sending ${bytes.length} bytes and ${fds.length} fds to the back end`);
    } finally {
      release(msg, iov, data, control);
    }
  }

  /** Sends one request: header (version 1, flags as given) and payload. */
  send(code: number, payload: Buffer = Buffer.alloc(0), fds: number[] = [], flags = FLAG_VERSION): void {
    const h = Buffer.alloc(HEADER_BYTES);
    h.writeUInt32LE(code, 0); h.writeUInt32LE(flags, 4); h.writeUInt32LE(payload.length, 8);
    this.sendRaw(Buffer.concat([h, payload]), fds);
  }

  /** Reads exactly n bytes; 'eof' when the back end hung up first. Throws on timeout. */
  private read(n: number, timeoutMs: number): Buffer | 'eof' {
    const out = Buffer.alloc(n);
    let got = 0;
    const until = Date.now() + timeoutMs;
    while (got < n) {
      const left = until - Date.now();
      if (left <= 0 || !poll(this.fd, left)) throw new Error(`fake front end: nothing from the back end within ${timeoutMs} ms`);
      const chunk = Buffer.alloc(n - got);
      const k = Number(libc().recvfrom(this.fd, chunk, chunk.length, 0, null, null));
      if (k === 0) return 'eof';
      if (k < 0) {
        const e = errno();
        if (e === 104 /* ECONNRESET */) return 'eof';
        if (e === 4 || e === 11) continue;
        throw new SystemError('recv', e, 'reading from the back end');
      }
      chunk.copy(out, got, 0, k);
      got += k;
    }
    return out;
  }

  /** The next reply (or 'eof'). */
  reply(timeoutMs = 5000): Reply | 'eof' {
    const h = this.read(HEADER_BYTES, timeoutMs);
    if (h === 'eof') return h;
    const size = h.readUInt32LE(8);
    const p = size ? this.read(size, timeoutMs) : Buffer.alloc(0);
    if (p === 'eof') return p;
    return { code: h.readUInt32LE(0), flags: h.readUInt32LE(4), payload: p };
  }

  /** Waits for the back end to hang up: true when it did (anything it sends before is skipped). */
  waitEof(timeoutMs = 5000): boolean {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const left = until - Date.now();
      if (left <= 0) return false;
      try { if (this.reply(left) === 'eof') return true; } catch { return false; }
    }
  }

  /** GET_FEATURES, answered with the offered features. */
  getFeatures(): bigint {
    this.send(Req.GET_FEATURES);
    const r = this.reply();
    if (r === 'eof') throw new Error('fake front end: the back end hung up on GET_FEATURES');
    if (r.code !== Req.GET_FEATURES || r.payload.length !== 8) throw new Error(`fake front end: GET_FEATURES answered with ${JSON.stringify({ code: r.code, size: r.payload.length })}`);
    return r.payload.readBigUInt64LE(0);
  }

  close(): void { if (!this.closed) { this.closed = true; closeFd(this.fd); } }
}

// ---- a guest: memory, one queue pair's rings, laid out in the memfd ---------------------------

export const RING_SIZE = 256;
export const GUEST_BASE = 0;
export const USER_BASE = 0x7f00_0000_0000;
export const MEM_BYTES = 1 << 20;
/** Ring i's parts at offsets 0x4000 * i: desc, then avail at +0x1000, used at +0x2000. */
export const ringLayout = (i: number) => ({ desc: 0x4000 * i, avail: 0x4000 * i + 0x1000, used: 0x4000 * i + 0x2000 });
/** Frame buffers from here on. */
export const BUFFERS = 0x10000;

/** The usual opening: features (VERSION_1, no PROTOCOL_FEATURES: rings enabled from the start), owner, memory table. */
export function negotiate(fe: FakeFrontEnd, mem: Memfd): void {
  const offered = fe.getFeatures();
  fe.send(Req.SET_FEATURES, u64(offered & (1n << 32n)));
  fe.send(Req.SET_OWNER);
  fe.send(Req.SET_MEM_TABLE, memTable([{ guestAddr: GUEST_BASE, size: mem.size, userAddr: USER_BASE, mmapOffset: 0 }]), [mem.fd]);
}

/** SET_VRING_NUM/ADDR/BASE/CALL/KICK for ring i at its layout; returns the kick and call eventfds (the caller closes them). */
export function startRing(fe: FakeFrontEnd, i: number): { kick: number; call: number } {
  const l = ringLayout(i);
  fe.send(Req.SET_VRING_NUM, vringState(i, RING_SIZE));
  fe.send(Req.SET_VRING_ADDR, vringAddr(i, { desc: USER_BASE + l.desc, used: USER_BASE + l.used, avail: USER_BASE + l.avail }));
  fe.send(Req.SET_VRING_BASE, vringState(i, 0));
  const call = eventFd();
  fe.send(Req.SET_VRING_CALL, u64(BigInt(i)), [call]);
  const kick = eventFd();
  fe.send(Req.SET_VRING_KICK, u64(BigInt(i)), [kick]);
  return { kick, call };
}

/** Writes descriptor d of ring i. */
export function setDesc(mem: Memfd, i: number, d: number, x: { addr: number | bigint; len: number; flags: number; next: number }): void {
  const o = ringLayout(i).desc + 16 * d;
  mem.view.setBigUint64(o, BigInt(x.addr), true);
  mem.view.setUint32(o + 8, x.len, true);
  mem.view.setUint16(o + 12, x.flags, true);
  mem.view.setUint16(o + 14, x.next, true);
}

/** Makes `head` available on ring i (avail.ring[idx % N] = head, then avail.idx++). */
export function publish(mem: Memfd, i: number, head: number): void {
  const a = ringLayout(i).avail;
  const idx = mem.view.getUint16(a + 2, true);
  mem.view.setUint16(a + 4 + 2 * (idx % RING_SIZE), head, true);
  const idxArr = new Uint16Array(mem.bytes.buffer, a, 2);
  Atomics.store(idxArr, 1, (idx + 1) & 0xffff);
}

export const usedIdx = (mem: Memfd, i: number): number => Atomics.load(new Uint16Array(mem.bytes.buffer, ringLayout(i).used, 2), 1);
