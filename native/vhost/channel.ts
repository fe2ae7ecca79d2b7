// The vhost-user control channel: a unix stream socket carrying messages (12-byte header, then
// the payload) with file descriptors (SCM_RIGHTS) on the header's part. Node's net module
// cannot receive fds, so this is libc through koffi. The back end either listens (QEMU's
// chardev connects, as a client with reconnect=) or connects (QEMU's chardev has server=on).
import { rmSync } from 'node:fs';
import { SystemError } from '../errors.js';
import { POLLIN } from '../afxdp/constants.js';
import { closeFd, errno, libc } from '../sys/libc.js';
import { Block, message, release, sockaddrUn } from '../sys/fdpass.js';
import { HEADER_BYTES, MAX_MEM_REGIONS, parseHeader, ProtocolError } from './protocol.js';

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_NOSIGNAL = 0x4000;
const MSG_CMSG_CLOEXEC = 0x40000000;
const POLLHUP = 0x10;
const POLLERR = 0x8;
/** How long the rest of a message may take once its first bytes came. */
const REST_TIMEOUT_MS = 1000;

/** Open channel fds of this process (tests count them across connect/disconnect cycles). */
let liveChannels = 0;
export const openChannels = (): number => liveChannels;

export interface RawMessage { code: number; flags: number; payload: Uint8Array; fds: number[] }

const EINTR = 4;

/** poll() on one fd; a signal (SIGTERM while waiting in accept) interrupts it: it is retried for the time left. */
function pollOne(fd: number, timeoutMs: number): number {
  const pfd = Buffer.alloc(8);
  pfd.writeInt32LE(fd, 0);
  pfd.writeInt16LE(POLLIN, 4);
  const until = Date.now() + timeoutMs;
  for (;;) {
    const n = libc().poll(pfd, 1, timeoutMs) as number;
    if (n >= 0) return n === 0 ? 0 : pfd.readInt16LE(6);
    const e = errno();
    if (e !== EINTR) throw new SystemError('poll', e, 'waiting on the vhost-user socket');
    timeoutMs = Math.max(0, until - Date.now());
  }
}

/** A listening socket at `path` (an old socket file there is replaced). */
export class ChannelListener {
  readonly fd: number;
  constructor(readonly path: string) {
    const c = libc();
    rmSync(path, { force: true });
    this.fd = c.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) as number;
    if (this.fd < 0) throw new SystemError('socket', errno(), 'creating the vhost-user socket');
    const addr = sockaddrUn(path);
    if ((c.bind(this.fd, addr, addr.length) as number) !== 0 || (c.listen(this.fd, 1) as number) !== 0) {
      const e = errno(); c.close(this.fd);
      throw new SystemError('bind', e, `listening on ${path}`, undefined, 'socket');
    }
  }

  /** A connection if one is waiting within timeoutMs, else undefined. */
  accept(timeoutMs: number): Channel | undefined {
    if (!pollOne(this.fd, timeoutMs)) return undefined;
    const fd = libc().accept(this.fd, null, null) as number;
    if (fd < 0) throw new SystemError('accept', errno(), `accepting on ${this.path}`);
    libc().fcntl(fd, 2 /* F_SETFD */, 1 /* FD_CLOEXEC */);
    return new Channel(fd);
  }

  close(): void {
    closeFd(this.fd);
    rmSync(this.path, { force: true });
  }
}

/** Connects to a front end listening at `path`; undefined while nobody listens there. */
export function connectChannel(path: string): Channel | undefined {
  const c = libc();
  const fd = c.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) as number;
  if (fd < 0) throw new SystemError('socket', errno(), 'creating the vhost-user socket');
  const addr = sockaddrUn(path);
  if ((c.connect(fd, addr, addr.length) as number) !== 0) {
    const e = errno();
    c.close(fd);
    // ENOENT (no socket yet), ECONNREFUSED (nobody listening): try again later.
    if (e === 2 || e === 111) return undefined;
    throw new SystemError('connect', e, `connecting to ${path}`, undefined, 'socket');
  }
  return new Channel(fd);
}

export class Channel {
  private closed = false;
  constructor(readonly fd: number) { liveChannels++; }

  /** True when a message (or a hangup) is waiting. */
  readable(timeoutMs = 0): boolean { return pollOne(this.fd, timeoutMs) !== 0; }

  /**
   * Reads one message; undefined when the front end hung up. A message that is malformed at the
   * header (version, size) throws ProtocolError; fds that came with it are closed first.
   */
  receive(): RawMessage | undefined {
    const c = libc();
    const head = new Block(HEADER_BYTES);
    const controlLen = 16 + MAX_MEM_REGIONS * 4 + 8;
    const control = new Block(controlLen);
    const { msg, iov } = message(head, HEADER_BYTES, control, controlLen);
    const fds: number[] = [];
    try {
      const n = Number(c.recvmsg(this.fd, msg.ptr, MSG_CMSG_CLOEXEC));
      if (n <= 0) return undefined;
      const used = Number(msg.bytes.readBigUInt64LE(40));
      if (used >= 16 && control.bytes.readInt32LE(8) === SOL_SOCKET && control.bytes.readInt32LE(12) === SCM_RIGHTS) {
        const count = (Number(control.bytes.readBigUInt64LE(0)) - 16) / 4;
        for (let i = 0; i < count; i++) fds.push(control.bytes.readInt32LE(16 + i * 4));
      }
      const header = Buffer.from(head.bytes.subarray(0, HEADER_BYTES));
      if (n < HEADER_BYTES) this.readExactly(header.subarray(n), 'header');
      const { code, flags, size } = parseHeader(header);
      const payload = Buffer.alloc(size);
      if (size) this.readExactly(payload, 'payload');
      return { code, flags, payload, fds };
    } catch (err) {
      for (const fd of fds) closeFd(fd);
      throw err;
    } finally {
      release(msg, iov, head, control);
    }
  }

  private readExactly(into: Buffer, what: string): void {
    const c = libc();
    let got = 0;
    while (got < into.length) {
      const rev = pollOne(this.fd, REST_TIMEOUT_MS);
      if (!rev) throw new ProtocolError('message', what, `the rest (${into.length - got} bytes) did not come within ${REST_TIMEOUT_MS} ms`);
      const chunk = Buffer.alloc(into.length - got);
      const n = Number(c.recvfrom(this.fd, chunk, chunk.length, 0, null, null));
      if (n <= 0) {
        if (rev & (POLLHUP | POLLERR) || n === 0) throw new ProtocolError('message', what, 'the front end hung up in the middle of a message');
        throw new SystemError('recv', errno(), 'reading from the vhost-user socket');
      }
      chunk.copy(into, got, 0, n);
      got += n;
    }
  }

  send(bytes: Uint8Array): void {
    const n = Number(libc().sendto(this.fd, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), bytes.byteLength, MSG_NOSIGNAL, null, 0));
    if (n !== bytes.byteLength) throw new SystemError('send', errno(), 'replying on the vhost-user socket');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    liveChannels--;
    closeFd(this.fd);
  }
}
