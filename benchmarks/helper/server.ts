// `xdplab helper`'s server: accepts clients on a unix SOCK_SEQPACKET socket, checks each one's
// SO_PEERCRED against the config, and does for it only the privileged steps (its topology, XSK
// program + AF_XDP sockets passed as fds, a drop program, counters), each on an interface the
// session may use. A session is one connection: everything it made belongs to its Lab and goes
// when the connection closes (the client exits or dies) or the helper stops.
import { rmSync, closeSync } from 'node:fs';
import { LabError, describeError } from '../contracts/errors.js';
import { XskSocketProvider, resolveIfindex, withNetns, SeqpacketSocket, isHangup, pollReadable, type Packet, type PeerCred, XdpDropProgram } from '../../native/index.js';
import { Lab } from '../lab/lab.js';
import { createPacketTopology, macOf } from '../lab/topology.js';
import { readRxCounters } from '../tools/counters.js';
import { interfaceAllowed, refusePeer, type HelperConfig } from './config.js';
import { HELPER_PROTOCOL_VERSION, errorResponse, parseRequest, type EndpointInfo, type HelperRequest, type HelperResponse } from './protocol.js';

const TICK_MS = 10;

interface Reply { body: HelperResponse; fds?: number[] }

class Session {
  readonly lab = new Lab('helper');
  topology?: { dut: EndpointInfo; peer: EndpointInfo };
  readonly handles = new Map<number, { close(): void }>();
  private nextHandle = 1;
  busy = false;
  readonly pending: Packet[] = [];
  greeted = false;

  constructor(readonly sock: SeqpacketSocket, readonly cred: PeerCred) {}

  add(h: { close(): void }): number {
    const id = this.nextHandle++;
    this.handles.set(id, h);
    return id;
  }

  /** Removes everything the session made, newest first; never throws. */
  end(): void {
    for (const [id, h] of [...this.handles].reverse()) {
      try { h.close(); } catch { /* the Lab's sweep below still removes the program */ }
      this.handles.delete(id);
    }
    this.lab.close();
    this.sock.close();
  }
}

export class HelperServer {
  private readonly sessions = new Map<number, Session>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  private constructor(readonly config: HelperConfig, private readonly listener: SeqpacketSocket, private readonly ownsPath: boolean, private readonly log: (line: string) => void) {}

  /** Listens on the config's socket, or on fd 3 when systemd passed one (socket activation). */
  static start(config: HelperConfig, log: (line: string) => void = () => {}): HelperServer {
    const activated = process.env.LISTEN_FDS === '1' && process.env.LISTEN_PID === String(process.pid);
    const listener = activated
      ? SeqpacketSocket.fromFd(3, config.socket)
      : SeqpacketSocket.listen(config.socket, config.mode, config.socketGid !== undefined ? { uid: 0, gid: config.socketGid } : undefined);
    const server = new HelperServer(config, listener, !activated, log);
    server.schedule();
    return server;
  }

  get sessionCount(): number { return this.sessions.size; }

  private schedule(): void {
    if (!this.stopped) this.timer = setTimeout(() => this.tick(), TICK_MS);
  }

  private tick(): void {
    try {
      const socks = [this.listener, ...[...this.sessions.values()].map((s) => s.sock)];
      const revents = pollReadable(socks.map((s) => s.fd), 0);
      if (revents[0]) this.accept();
      for (const [i, sock] of socks.entries()) {
        if (i === 0 || !revents[i]) continue;
        const session = this.sessions.get(sock.fd);
        if (session) this.readFrom(session, revents[i]!);
      }
    } catch (err) {
      this.log(`helper: ${describeError(err)}`);
    }
    this.schedule();
  }

  private accept(): void {
    const sock = this.listener.accept();
    let cred: PeerCred;
    try {
      cred = sock.peerCred();
    } catch (err) {
      sock.close();
      throw err;
    }
    const refusal = refusePeer(this.config, cred) ?? (this.sessions.size >= this.config.maxSessions
      ? new LabError({ code: 'EBUSY', field: 'maxSessions', message: `maxSessions: the helper already serves ${this.sessions.size} sessions (the config allows ${this.config.maxSessions})` })
      : undefined);
    if (refusal) {
      this.log(`helper: refused pid ${cred.pid} uid ${cred.uid}: ${refusal.message}`);
      try { sock.send(errorResponse(refusal)); } catch { /* it left already */ }
      sock.close();
      return;
    }
    const session = new Session(sock, cred);
    this.sessions.set(sock.fd, session);
    this.log(`helper: session ${session.lab.id} for pid ${cred.pid} uid ${cred.uid}`);
  }

  private readFrom(session: Session, revents: number): void {
    // A hang-up with nothing left to read reads as null: the client closed or died.
    const packet = session.sock.receive();
    if (!packet) {
      this.endSession(session, isHangup(revents) ? 'client closed' : 'end of stream');
      return;
    }
    session.pending.push(packet);
    void this.drain(session);
  }

  /** Requests of one session run one at a time, in order. */
  private async drain(session: Session): Promise<void> {
    if (session.busy) return;
    session.busy = true;
    try {
      for (let p = session.pending.shift(); p; p = session.pending.shift()) {
        // A client has nothing to pass the helper: close whatever it sent.
        for (const fd of p.fds) closeSync(fd);
        let reply: Reply;
        try {
          reply = await this.handle(session, parseRequest(p.payload));
        } catch (err) {
          reply = { body: errorResponse(err) };
        }
        // Ended meanwhile (its fd number may already serve a new session): answer no one.
        if (this.sessions.get(session.sock.fd) !== session) return;
        try {
          session.sock.send(reply.body, reply.fds ?? []);
        } catch {
          this.endSession(session, 'client gone while answering');
          return;
        }
      }
    } finally {
      session.busy = false;
    }
  }

  private async handle(session: Session, req: HelperRequest): Promise<Reply> {
    if (!session.greeted && req.op !== 'hello') {
      throw new LabError({ code: 'EPROTO', field: 'request.op', message: `request.op: the first request must be hello, got ${req.op}` });
    }
    switch (req.op) {
      case 'hello': {
        if (req.version !== HELPER_PROTOCOL_VERSION) {
          throw new LabError({ code: 'EPROTO', field: 'request.version', message: `request.version: this helper speaks protocol ${HELPER_PROTOCOL_VERSION}, got ${req.version}`, hint: 'run the helper and the client from the same xdplab version' });
        }
        session.greeted = true;
        return { body: { ok: true, version: HELPER_PROTOCOL_VERSION, uid: session.cred.uid, prefix: `xl-${session.lab.id}-` } };
      }
      case 'topology': {
        if (session.topology) throw new LabError({ code: 'EEXIST', field: 'request.op', message: 'request.op: this session has its topology already (one per session)' });
        const t = createPacketTopology(session.lab, { queues: req.queues });
        const info = (e: { netns?: string; ifname: string }): EndpointInfo => ({ netns: e.netns!, ifname: e.ifname, mac: macOf(session.lab, e) });
        session.topology = { dut: info(t.dut), peer: info(t.peer) };
        this.log(`helper: session ${session.lab.id}: topology ${t.dut.netns}/${t.dut.ifname} <-> ${t.peer.netns}/${t.peer.ifname}`);
        return { body: { ok: true, ...session.topology } };
      }
      case 'sockets': {
        this.checkInterface(session, req.netns, req.ifname);
        const provider = withNetns(req.netns, () => XskSocketProvider.create({ ifname: req.ifname, queues: req.queues, 'start-queue': req['start-queue'], ...(req.mode ? { mode: req.mode } : {}) }));
        session.lab.recordXdp(req.netns, req.ifname);
        const ifindex = withNetns(req.netns, () => resolveIfindex(req.ifname));
        const handle = session.add(provider);
        return { body: { ok: true, handle, ifindex, mode: provider.mode, queues: req.queues, 'start-queue': req['start-queue'] }, fds: provider.fds };
      }
      case 'drop': {
        this.checkInterface(session, req.netns, req.ifname);
        const prog = withNetns(req.netns, () => XdpDropProgram.attachTo(req.ifname, req.mode));
        session.lab.recordXdp(req.netns, req.ifname);
        return { body: { ok: true, handle: session.add({ close: () => prog.detach() }) } };
      }
      case 'release': {
        const h = session.handles.get(req.handle);
        if (!h) throw new LabError({ code: 'ENOENT', field: 'request.handle', message: `request.handle: no handle ${req.handle} in this session (it has ${[...session.handles.keys()].join(', ') || 'none'})` });
        session.handles.delete(req.handle);
        h.close();
        return { body: { ok: true } };
      }
      case 'counters': {
        this.checkInterface(session, req.netns, req.ifname);
        return { body: { ok: true, ...(await readRxCounters(req.netns, req.ifname)) } };
      }
    }
  }

  /** The session's own topology interfaces, or host interfaces the config lists; nothing else. */
  private checkInterface(session: Session, netns: string | undefined, ifname: string): void {
    const own = session.topology ? [session.topology.dut, session.topology.peer] : [];
    const allowed = `this session's interfaces [${own.map((e) => `${e.ifname} in ${e.netns}`).join(', ') || 'none: request a topology first'}] and the host interfaces of ${this.config.path} (interfaces: [${this.config.interfaces.join(', ')}])`;
    if (netns !== undefined) {
      if (!own.some((e) => e.netns === netns)) {
        throw new LabError({ code: 'ENOTALLOWED', field: 'request.netns', message: `request.netns: '${netns}' is not a namespace of this session; allowed: ${allowed}` });
      }
      if (own.some((e) => e.netns === netns && e.ifname === ifname)) return;
    } else if (interfaceAllowed(this.config, ifname)) {
      return;
    }
    throw new LabError({ code: 'ENOTALLOWED', field: 'request.ifname', message: `request.ifname: '${ifname}'${netns ? ` in ${netns}` : ''} is not allowed; allowed: ${allowed}` });
  }

  private endSession(session: Session, why: string): void {
    if (this.sessions.get(session.sock.fd) !== session) return;
    this.sessions.delete(session.sock.fd);
    this.log(`helper: session ${session.lab.id} ended (${why}); removing what it made`);
    session.end();
  }

  /** Ends every session (removing what they made), closes and removes the socket. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    for (const s of [...this.sessions.values()]) this.endSession(s, 'helper stopping');
    this.listener.close();
    if (this.ownsPath) rmSync(this.config.socket, { force: true });
  }
}
