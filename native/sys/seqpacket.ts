// A connected unix SOCK_SEQPACKET socket that carries one JSON message with fds (SCM_RIGHTS) per
// packet, plus the peer's credentials (SO_PEERCRED). Node's net module can neither pass fds
// nor read peer credentials, so this is libc through koffi. Every call that could block is
// guarded by poll, so callers decide how long to wait (the helper and its client poll from
// timers and never stall their event loop for long).
import { chmodSync, chownSync, rmSync } from 'node:fs';
import { SystemError } from '../errors.js';
import { POLLIN } from '../afxdp/constants.js';
import { libc, errno } from './libc.js';
import { Block, MAX_FDS, MAX_PAYLOAD, message, release, rightsMessage, sockaddrUn } from './fdpass.js';

const AF_UNIX = 1;
const SOCK_SEQPACKET = 5;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
const SCM_RIGHTS = 1;
const MSG_NOSIGNAL = 0x4000;
const MSG_DONTWAIT = 0x40;
const MSG_CMSG_CLOEXEC = 0x40000000;
const POLLHUP = 0x10;
const POLLERR = 0x8;

export interface PeerCred { pid: number; uid: number; gid: number }
export interface Packet { fds: number[]; payload: unknown }

/** Waits up to timeoutMs for any of fds to become readable (or hang up); returns revents per fd. */
export function pollReadable(fds: number[], timeoutMs: number): number[] {
  const buf = Buffer.alloc(8 * fds.length);
  fds.forEach((fd, i) => { buf.writeInt32LE(fd, i * 8); buf.writeInt16LE(POLLIN, i * 8 + 4); });
  const n = libc().poll(buf, fds.length, timeoutMs) as number;
  if (n < 0) throw new SystemError('poll', errno(), 'waiting on unix sockets');
  return fds.map((_, i) => buf.readInt16LE(i * 8 + 6));
}

export const isHangup = (revents: number) => (revents & (POLLHUP | POLLERR)) !== 0;

export class SeqpacketSocket {
  private closed = false;
  private constructor(readonly fd: number, readonly path: string) {}

  /** Binds and listens at path, created with `mode` from the start (no window with looser permissions). */
  static listen(path: string, mode: number, owner?: { uid: number; gid: number }): SeqpacketSocket {
    const c = libc();
    const fd = c.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0) as number;
    if (fd < 0) throw new SystemError('socket', errno(), 'creating the helper socket');
    const addr = sockaddrUn(path);
    const oldMask = process.umask(0o777 & ~mode);
    try {
      if ((c.bind(fd, addr, addr.length) as number) !== 0) {
        const e = errno();
        c.close(fd);
        throw new SystemError('bind', e, `binding ${path}`, e === 98 ? `${path} exists: another helper may be running; remove the file if it is not` : undefined, 'socket');
      }
    } finally {
      process.umask(oldMask);
    }
    try {
      chmodSync(path, mode);
      if (owner) chownSync(path, owner.uid, owner.gid);
      if ((c.listen(fd, 16) as number) !== 0) throw new SystemError('listen', errno(), `listening on ${path}`);
    } catch (err) {
      c.close(fd);
      rmSync(path, { force: true });
      throw err;
    }
    return new SeqpacketSocket(fd, path);
  }

  /** A listening socket inherited from the service manager (systemd socket activation). */
  static fromFd(fd: number, path: string): SeqpacketSocket {
    return new SeqpacketSocket(fd, path);
  }

  static connect(path: string): SeqpacketSocket {
    const c = libc();
    const fd = c.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0) as number;
    if (fd < 0) throw new SystemError('socket', errno(), 'creating a unix socket');
    const addr = sockaddrUn(path);
    if ((c.connect(fd, addr, addr.length) as number) !== 0) {
      const e = errno();
      c.close(fd);
      throw new SystemError('connect', e, `connecting to the helper at ${path}`,
        e === 13 ? 'the socket file does not let this user in: ask for membership of its group (ls -l shows it)' : e === 2 || e === 111 ? 'no helper is listening there: start `xdplab helper` (or its systemd socket unit)' : undefined, 'helper');
    }
    return new SeqpacketSocket(fd, path);
  }

  /** Accepts one pending connection (call when poll says the listening socket is readable). */
  accept(): SeqpacketSocket {
    const conn = libc().accept(this.fd, null, null) as number;
    if (conn < 0) throw new SystemError('accept', errno(), `accepting on ${this.path}`);
    libc().fcntl(conn, 2 /* F_SETFD */, 1 /* FD_CLOEXEC */);
    return new SeqpacketSocket(conn, this.path);
  }

  peerCred(): PeerCred {
    const cred = Buffer.alloc(12);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(12, 0);
    if ((libc().getsockopt(this.fd, SOL_SOCKET, SO_PEERCRED, cred, len) as number) !== 0) throw new SystemError('getsockopt', errno(), 'reading SO_PEERCRED');
    return { pid: cred.readInt32LE(0), uid: cred.readUInt32LE(4), gid: cred.readUInt32LE(8) };
  }

  send(payload: unknown, fds: number[] = []): void {
    const { msg, blocks } = rightsMessage(payload, fds);
    try {
      if (Number(libc().sendmsg(this.fd, msg.ptr, MSG_NOSIGNAL)) < 0) throw new SystemError('sendmsg', errno(), `sending on ${this.path}`);
    } finally {
      release(...blocks);
    }
  }

  /** Reads one packet; null when the peer has closed. Blocks unless poll said it is readable. */
  receive(afterReset = false): Packet | null {
    const data = new Block(MAX_PAYLOAD);
    const controlLen = 16 + MAX_FDS * 4;
    const control = new Block(controlLen);
    const { msg, iov } = message(data, MAX_PAYLOAD, control, controlLen);
    try {
      const n = Number(libc().recvmsg(this.fd, msg.ptr, MSG_CMSG_CLOEXEC | (afterReset ? MSG_DONTWAIT : 0)));
      if (n < 0) {
        const e = errno();
        // A peer that closed with our packet unread leaves ECONNRESET, reported before the
        // packets it sent last (a helper's refusal): reading again returns those.
        if (e === 104 /* ECONNRESET */) return afterReset ? null : this.receive(true);
        if (e === 11 /* EAGAIN */ && afterReset) return null;
        throw new SystemError('recvmsg', e, `receiving on ${this.path}`);
      }
      const fds: number[] = [];
      const used = Number(msg.bytes.readBigUInt64LE(40));
      if (used >= 16 && control.bytes.readInt32LE(8) === SOL_SOCKET && control.bytes.readInt32LE(12) === SCM_RIGHTS) {
        const count = (Number(control.bytes.readBigUInt64LE(0)) - 16) / 4;
        for (let i = 0; i < count; i++) fds.push(control.bytes.readInt32LE(16 + i * 4));
      }
      if (n === 0 && fds.length === 0) return null;
      const text = data.bytes.toString('utf8', 0, n);
      let payload: unknown;
      try { payload = JSON.parse(text); } catch { payload = text; /* the schema check names it */ }
      return { fds, payload };
    } finally {
      release(msg, iov, data, control);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc().close(this.fd);
  }
}
