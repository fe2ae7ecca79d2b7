// Passing file descriptors between processes over a unix socket (SCM_RIGHTS), which Node's net
// module cannot do. Used for sock-fds: a process with the capabilities creates AF_XDP sockets
// and hands them to one without (QEMU's inhibit=on model).
import koffi from 'koffi';
import { SystemError } from '../errors.js';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { libc, errno } from './libc.js';
import { POLLIN } from '../afxdp/constants.js';

const AF_UNIX = 1;
const SOCK_SEQPACKET = 5;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
export const MAX_FDS = 64;
export const MAX_PAYLOAD = 16384;

/** Native memory with a JS view and its address (for pointers inside C structs). */
export class Block {
  readonly ptr: unknown;
  readonly bytes: Buffer;
  readonly address: bigint;
  constructor(size: number) {
    this.ptr = koffi.alloc('uint8_t', size);
    this.bytes = Buffer.from(koffi.view(this.ptr, size) as ArrayBuffer);
    this.bytes.fill(0);
    this.address = BigInt(koffi.address(this.ptr));
  }
  free(): void { koffi.free(this.ptr); }
}

export function sockaddrUn(path: string): Buffer {
  const addr = Buffer.alloc(110);
  if (Buffer.byteLength(path) > 107) throw new LabError({ code: 'EINVALIDOPTION', field: 'socketPath', message: `socketPath: '${path}' is longer than 107 bytes` });
  addr.writeUInt16LE(AF_UNIX, 0);
  addr.write(path, 2);
  return addr;
}

/** A msghdr with one iovec over `payload` and a control buffer; free both blocks after use. */
export function message(payload: Block, payloadLen: number, control: Block, controlLen: number): { msg: Block; iov: Block } {
  const iov = new Block(16);
  iov.bytes.writeBigUInt64LE(payload.address, 0);
  iov.bytes.writeBigUInt64LE(BigInt(payloadLen), 8);
  const msg = new Block(56);
  msg.bytes.writeBigUInt64LE(iov.address, 16); // msg_iov
  msg.bytes.writeBigUInt64LE(1n, 24); // msg_iovlen
  msg.bytes.writeBigUInt64LE(control.address, 32); // msg_control
  msg.bytes.writeBigUInt64LE(BigInt(controlLen), 40); // msg_controllen
  return { msg, iov };
}

export function release(...blocks: Block[]): void {
  for (const b of blocks) b.free();
}

/**
 * One sendmsg message: `payload` as JSON and `fds` as SCM_RIGHTS, checked against the limits.
 * `msg` is the msghdr to pass; free `blocks` after sending.
 */
export function rightsMessage(payload: unknown, fds: number[]): { msg: Block; blocks: Block[] } {
  if (fds.length > MAX_FDS) throw new LabError({ code: 'EINVALIDOPTION', field: 'fds', message: `fds: at most ${MAX_FDS} per message` });
  const body = Buffer.from(JSON.stringify(payload ?? null));
  if (body.length > MAX_PAYLOAD) throw new LabError({ code: 'E2BIG', message: `message of ${body.length} bytes is over the ${MAX_PAYLOAD}-byte limit` });
  const data = new Block(Math.max(1, body.length));
  body.copy(data.bytes);
  const controlLen = 16 + Math.ceil((fds.length * 4) / 8) * 8;
  const control = new Block(controlLen);
  control.bytes.writeBigUInt64LE(BigInt(16 + fds.length * 4), 0);
  control.bytes.writeInt32LE(SOL_SOCKET, 8);
  control.bytes.writeInt32LE(SCM_RIGHTS, 12);
  fds.forEach((fd, i) => control.bytes.writeInt32LE(fd, 16 + i * 4));
  const { msg, iov } = message(data, body.length, control, fds.length ? controlLen : 0);
  return { msg, blocks: [msg, iov, data, control] };
}

/** Connects to `socketPath` and sends fds with a JSON payload in one message. */
export function sendFds(socketPath: string, fds: number[], payload: unknown): void {
  const { msg, blocks } = rightsMessage(payload, fds);
  const c = libc();
  const sock = c.socket(AF_UNIX, SOCK_SEQPACKET, 0) as number;
  if (sock < 0) { release(...blocks); throw new SystemError('socket', errno(), 'creating a unix socket to pass fds'); }
  try {
    const addr = sockaddrUn(socketPath);
    if ((c.connect(sock, addr, addr.length) as number) !== 0) throw new SystemError('connect', errno(), `connecting to ${socketPath}`);
    if (Number(c.sendmsg(sock, msg.ptr, 0)) < 0) throw new SystemError('sendmsg', errno(), `sending ${fds.length} fds to ${socketPath}`);
  } finally {
    release(...blocks);
    c.close(sock);
  }
}

export interface ReceivedFds { fds: number[]; payload: unknown }

/** A listening unix socket that accepts one message with fds per connection. */
export class FdReceiver {
  private readonly sock: number;

  constructor(readonly socketPath: string) {
    const c = libc();
    this.sock = c.socket(AF_UNIX, SOCK_SEQPACKET, 0) as number;
    if (this.sock < 0) throw new SystemError('socket', errno(), 'creating a unix socket to receive fds');
    const addr = sockaddrUn(socketPath);
    if ((c.bind(this.sock, addr, addr.length) as number) !== 0) {
      const e = errno(); c.close(this.sock);
      throw new SystemError('bind', e, `binding ${socketPath}`);
    }
    c.listen(this.sock, 4);
  }

  /** Waits up to timeoutMs for a sender (blocking this thread); returns its fds and payload. */
  receive(timeoutMs: number): ReceivedFds {
    const c = libc();
    const pfd = Buffer.alloc(8);
    pfd.writeInt32LE(this.sock, 0);
    pfd.writeInt16LE(POLLIN, 4);
    if ((c.poll(pfd, 1, timeoutMs) as number) <= 0) {
      throw new LabError({ code: 'ETIMEDOUT', message: `no process passed fds on ${this.socketPath} within ${timeoutMs} ms` });
    }
    const conn = c.accept(this.sock, null, null) as number;
    if (conn < 0) throw new SystemError('accept', errno(), `accepting on ${this.socketPath}`);
    const data = new Block(MAX_PAYLOAD);
    const controlLen = 16 + MAX_FDS * 4;
    const control = new Block(controlLen);
    const { msg, iov } = message(data, MAX_PAYLOAD, control, controlLen);
    try {
      const n = Number(c.recvmsg(conn, msg.ptr, 0x40000000 /* MSG_CMSG_CLOEXEC */));
      if (n < 0) throw new SystemError('recvmsg', errno(), `receiving fds on ${this.socketPath}`);
      const fds: number[] = [];
      const used = Number(msg.bytes.readBigUInt64LE(40));
      if (used >= 16 && control.bytes.readInt32LE(8) === SOL_SOCKET && control.bytes.readInt32LE(12) === SCM_RIGHTS) {
        const count = (Number(control.bytes.readBigUInt64LE(0)) - 16) / 4;
        for (let i = 0; i < count; i++) fds.push(control.bytes.readInt32LE(16 + i * 4));
      }
      const text = data.bytes.toString('utf8', 0, n);
      return { fds, payload: text ? JSON.parse(text) : null };
    } finally {
      release(msg, iov, data, control);
      c.close(conn);
    }
  }

  close(): void {
    libc().close(this.sock);
  }
}
