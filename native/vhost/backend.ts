// The vhost-user-net back end: serves one front end (QEMU) at a time on a unix socket, as the
// server (QEMU's chardev connects, with reconnect= to survive our restarts) or as the client
// (QEMU's chardev has server=on; we connect and reconnect). Its guest's frames go to and come
// from an AF_XDP port. A refused message or a ring fault drops that connection (the error names
// the message and the field) and the back end waits for the next one; a front end that goes
// away (QEMU killed) is the same: its memory is unmapped and its eventfds closed.
//
// The loop runs on this thread in slices that yield to the event loop (signals, timers): busy,
// it polls the rings with notifications off; idle for a while, it turns guest kicks back on and
// sleeps in poll() on the socket, the kick eventfds and the XSK sockets.
import { SystemError } from '../errors.js';
import { POLLIN } from '../afxdp/constants.js';
import type { AfXdpPort } from '../afxdp/port.js';
import { errno, libc } from '../sys/libc.js';
import { Channel, ChannelListener, connectChannel } from './channel.js';
import { VhostNetDatapath, type VhostNetCounters } from './net-datapath.js';
import { VhostNetDevice } from './net-device.js';
import { encodeReply, parsePayload, ProtocolError, requestName, u64Payload, bit, ProtocolFeature } from './protocol.js';
import { closeFd } from '../sys/libc.js';

export type VhostRole = 'server' | 'client';

export type BackendEvent =
  | { kind: 'listening' | 'connecting'; socket: string }
  | { kind: 'connected'; socket: string }
  | { kind: 'disconnected'; reason: string; counters: VhostNetCounters }
  | { kind: 'refused'; request: string; field: string; message: string }
  | { kind: 'error'; message: string }
  /** A ring started; base: where it takes from; resyncedFrom: the front end's base, when it disagreed with used.idx. */
  | { kind: 'ready'; rings: number; ring: number; base: number; resyncedFrom?: number };

export interface BackendOptions {
  socketPath: string;
  role: VhostRole;
  port: AfXdpPort;
  batch?: number;
  /** How long (µs) the loop keeps polling after the last frame it moved before it sleeps. */
  spinUs?: number;
  onEvent?(e: BackendEvent): void;
}

const SLICE_MS = 5;
const SLEEP_MS = 20;
const DEFAULT_SPIN_US = 10_000;
const RECONNECT_MS = 100;

export class VhostUserBackend {
  private listener: ChannelListener | undefined;
  private conn: { channel: Channel; device: VhostNetDevice; datapath: VhostNetDatapath } | undefined;
  private stopped = false;
  private lastConnectTry = 0;
  /** Totals over every connection. */
  readonly totals: VhostNetCounters = { txFrames: 0, txBytes: 0, txDropped: 0, rxFrames: 0, rxBytes: 0, rxTruncated: 0, calls: 0 };
  connections = 0;

  constructor(private readonly o: BackendOptions) {
    if (o.role === 'server') {
      this.listener = new ChannelListener(o.socketPath);
      o.onEvent?.({ kind: 'listening', socket: o.socketPath });
    } else {
      o.onEvent?.({ kind: 'connecting', socket: o.socketPath });
    }
  }

  get connected(): boolean { return !!this.conn; }

  /** Counters of the connection in progress (zeros when none). */
  get counters(): VhostNetCounters { return this.conn?.datapath.counters ?? { txFrames: 0, txBytes: 0, txDropped: 0, rxFrames: 0, rxBytes: 0, rxTruncated: 0, calls: 0 }; }

  /** Runs until stop(); resolves after everything is released. */
  async run(): Promise<void> {
    try {
      // Time since the last frame, not a count of empty polls: a guest under TCG sends in bursts
      // milliseconds apart, and each kick it must make once we sleep costs it more than our
      // polling costs us (rxonly: 0.15 Mpps sleeping after 256 empty polls, 0.25 after ~10 ms).
      // A wake-up that finds nothing goes back to sleep at once, so an idle guest costs ~nothing.
      const spinMs = (this.o.spinUs ?? DEFAULT_SPIN_US) / 1000;
      let lastWork = performance.now();
      while (!this.stopped) {
        const end = Date.now() + SLICE_MS;
        do {
          if (!this.conn) { this.connect(); if (!this.conn) break; }
          const now = performance.now();
          if (this.step(now - lastWork > spinMs)) lastWork = now;
        } while (!this.stopped && Date.now() < end);
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.drop('the back end stopped');
      this.listener?.close();
      this.listener = undefined;
    }
  }

  stop(): void { this.stopped = true; }

  private connect(): void {
    let ch: Channel | undefined;
    if (this.listener) ch = this.listener.accept(SLEEP_MS);
    else if (Date.now() - this.lastConnectTry >= RECONNECT_MS) {
      this.lastConnectTry = Date.now();
      ch = connectChannel(this.o.socketPath);
    } else {
      libc().poll(null, 0, SLEEP_MS);
    }
    if (!ch) return;
    const device = new VhostNetDevice({ queuePairs: this.o.port.queues.length });
    const datapath = new VhostNetDatapath(device, this.o.port, this.o.batch ?? 64);
    this.conn = { channel: ch, device, datapath };
    this.connections++;
    this.o.onEvent?.({ kind: 'connected', socket: this.o.socketPath });
  }

  /** One message or burst; with `sleepy`, waits in poll() when nothing is pending. Returns frames moved. */
  private step(sleepy: boolean): number {
    const c = this.conn!;
    let moved = 0;
    try {
      moved = c.datapath.burst();
      if (c.channel.readable(0)) this.message(c);
      else if (moved === 0 && sleepy) {
        c.datapath.setNotify(true);
        if (!c.datapath.pending()) this.sleep(c);
        c.datapath.setNotify(false);
      }
    } catch (err) {
      // Whatever went wrong belongs to this connection: drop it and serve the next one.
      if (err instanceof ProtocolError) {
        this.o.onEvent?.({ kind: 'refused', request: err.request, field: err.field, message: err.message });
        this.drop(err.message);
      } else {
        const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        this.o.onEvent?.({ kind: 'error', message });
        this.drop(message);
      }
    }
    return moved;
  }

  /** Sleeps on the socket, the kick eventfds and the XSKs; drains the kicks that fired. */
  private sleep(c: NonNullable<VhostUserBackend['conn']>): void {
    const fds = [c.channel.fd];
    for (const v of c.device.vrings) if (v.ring && v.kick) fds.push(v.kick.fd);
    // An XSK only while its guest has buffers to take its frames: otherwise frames waiting in it
    // would wake us at once, again and again; the guest's kick says when buffers come.
    this.o.port.queues.forEach((q, i) => { if (c.datapath.rxRingFor(i)?.ring?.pending()) fds.push(q.fd); });
    const pfd = Buffer.alloc(8 * fds.length);
    fds.forEach((fd, i) => { pfd.writeInt32LE(fd, i * 8); pfd.writeInt16LE(POLLIN, i * 8 + 4); });
    const n = libc().poll(pfd, fds.length, SLEEP_MS) as number;
    if (n < 0 && errno() !== 4 /* EINTR */) throw new SystemError('poll', errno(), 'waiting for the front end and the guest');
    for (const v of c.device.vrings) v.kick?.drain();
  }

  private message(c: NonNullable<VhostUserBackend['conn']>): void {
    const raw = c.channel.receive();
    if (!raw) { this.drop('the front end closed the connection'); return; }
    c.device.pendingFds = [...raw.fds];
    let needReply = false;
    try {
      const m = parsePayload(raw.code, raw.flags, raw.payload, raw.fds);
      needReply = m.needReply;
      const before = c.device.features;
      const reply = c.device.handle(m);
      if (c.device.features !== before) c.datapath.refresh();
      if (reply) c.channel.send(reply);
      if (m.request.kind === 'SET_VRING_KICK') {
        const ring = c.device.vrings[m.request.index]?.ring;
        this.o.onEvent?.({
          kind: 'ready', rings: c.device.vrings.filter((v) => v.ring).length, ring: m.request.index, base: ring?.lastAvail ?? 0,
          ...(ring?.resyncedFrom !== undefined ? { resyncedFrom: ring.resyncedFrom } : {}),
        });
      }
    } catch (err) {
      for (const fd of c.device.pendingFds.splice(0)) closeFd(fd);
      // With REPLY_ACK the front end is waiting for a verdict: say no before hanging up.
      if (needReply && (c.device.protocol & bit(ProtocolFeature.REPLY_ACK))) { try { c.channel.send(encodeReply(raw.code, u64Payload(1n))); } catch { /* gone */ } }
      if (err instanceof ProtocolError) throw err;
      throw new ProtocolError(requestName(raw.code), 'request', err instanceof Error ? err.message : String(err));
    }
    c.device.pendingFds = [];
  }

  /** Releases the connection: mappings, eventfds, the socket. */
  private drop(reason: string): void {
    const c = this.conn;
    if (!c) return;
    this.conn = undefined;
    const k = c.datapath.counters;
    for (const key of Object.keys(this.totals) as (keyof VhostNetCounters)[]) this.totals[key] += k[key];
    c.device.close();
    c.channel.close();
    this.o.onEvent?.({ kind: 'disconnected', reason, counters: { ...k } });
  }
}
