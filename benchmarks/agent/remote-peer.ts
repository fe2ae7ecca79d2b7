// The peer side of a run on another host (`xdplab bench --peer-host`): what the row kinds do on
// the peer endpoint (start a generator, attach the drop sink, read its counters, serve iperf3)
// done there through the agent, with the same shapes as on this host (RunningWorker,
// RxCounters), so a row kind chooses the place and not the code. A dropped connection fails
// what was running with the cause (EPEERLOST); the next trial connects again.
import type { WorkerReady, WorkerSampleEvent, WorkerSpecInput } from '../contracts/worker.js';
import type { AgentCommandResult } from '../contracts/agent.js';
import type { Environment } from '../contracts/report.js';
import { LabError } from '../contracts/errors.js';
import type { RunningWorker, WorkerOutcome } from '../engines/worker-client.js';
import type { Endpoint } from '../lab/topology.js';
import type { RxCounters } from '../tools/counters.js';
import type { Iperf3Server } from '../tools/iperf3.js';
import { connectPeer, type PeerClient, type PeerOptions } from './peer-client.js';

export class RemotePeer {
  private client: PeerClient;
  /** Every session's ssh command line and the agent's hello, for the report. */
  readonly sessions: Array<{ commandLine: string; hostname?: string; pid?: number; labId?: string }> = [];

  private constructor(private readonly o: PeerOptions, first: PeerClient) {
    this.client = first;
    this.note(first);
  }

  /** Connects (the error names the host and what ssh said; nothing is created here). */
  static async connect(o: PeerOptions): Promise<RemotePeer> {
    return new RemotePeer(o, await connectPeer(o));
  }

  get host(): string { return this.o.host; }
  /** Why the current session ended, if it has. */
  get lost(): LabError | undefined { return this.client.lost; }


  // The current session is this.client: once lost, its calls fail with the cause until reconnect().

  /** A new session after a lost one (between trials: never in the middle of one). */
  async reconnect(): Promise<void> {
    if (!this.client.lost) return;
    this.client = await connectPeer(this.o);
    this.note(this.client);
  }

  private note(c: PeerClient): void {
    this.sessions.push({ commandLine: c.commandLine, ...(c.hello.hostname ? { hostname: c.hello.hostname } : {}), ...(c.hello.pid ? { pid: c.hello.pid } : {}), ...(c.hello.labId ? { labId: c.hello.labId } : {}) });
  }

  async environment(): Promise<Environment> {
    return (await this.client.call('environment', {})).environment;
  }

  async linkInfo(e: Endpoint): Promise<AgentCommandResult<'link.info'>> {
    return this.client.call('link.info', { ...(e.netns ? { netns: e.netns } : {}), ifname: e.ifname });
  }

  /**
   * The first address of the peer's interface there (global, IPv4 first), for what `use` points
   * at it; none is an error naming --peer, with the command that gives it one.
   */
  async address(peer: Endpoint, dut: Endpoint, use: string): Promise<string> {
    const address = (await this.linkInfo(peer)).addresses[0]?.split('/')[0];
    if (address) return address;
    throw new LabError({
      code: 'ENOADDRESS', field: '--peer',
      message: `--peer: ${peer.ifname} on ${this.host} has no IP address for ${use}`,
      hint: `give it one there (ip addr add 198.51.100.2/24 dev ${peer.ifname}) and ${dut.ifname} one here in the same subnet`,
    });
  }

  /** The interface's receive counters there, in the shape readRxCounters gives here. */
  async counters(e: Endpoint): Promise<RxCounters> {
    const c = await this.client.call('link.counters', { ...(e.netns ? { netns: e.netns } : {}), ifname: e.ifname });
    return { atMs: c.atMs, xdpDrops: c.xdp?.drops ?? 0, xdpPackets: c.xdp?.packets ?? 0, rxPackets: c.rx.packets, rxDropped: c.rx.dropped };
  }

  async dropSink(e: Endpoint, mode: 'native' | 'skb'): Promise<{ detach(): Promise<void> }> {
    const c = this.client;
    const { id } = await c.call('xdp.drop.attach', { ...(e.netns ? { netns: e.netns } : {}), ifname: e.ifname, mode });
    // A lost session's agent has already detached it.
    return { detach: async () => { if (!c.lost) await c.call('xdp.drop.detach', { id }).catch(() => undefined); } };
  }

  /** An iperf3 server there (iperf3 -s: it serves until stopped); ended() says so if it exits or the session drops. */
  async iperf3Server(o: { netns?: string; address: string; port: number }): Promise<Iperf3Server & { commandLine: string }> {
    const c = this.client;
    let end: string | null = null;
    let output = '';
    let id: string | undefined;
    const off = c.on('iperf3.server.exit', (x) => { if (x.id === id) { end = x.signal ?? `exit ${x.code}`; output = x.stderr; } });
    const offClose = c.onClose((cause) => { end = cause.message; });
    const started = await c.call('iperf3.server.start', { ...(o.netns ? { netns: o.netns } : {}), address: o.address, port: o.port }).catch((err: unknown) => { off(); offClose(); throw err; });
    id = started.id;
    let stopped = false;
    return {
      commandLine: `[${this.host}] ${started.commandLine}`,
      where: `pid ${started.pid} on ${this.host}`,
      ended: () => end,
      output: () => output,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        off(); offClose();
        if (!c.lost && end === null) await c.call('iperf3.server.stop', { id: started.id }).catch(() => undefined);
      },
    };
  }

  /** An engine worker there. Its events may arrive before its id does: they wait for it. */
  async startWorker(spec: WorkerSpecInput, onSample?: (s: WorkerSampleEvent) => void): Promise<RunningWorker> {
    const c = this.client;
    let id: string | undefined;
    const early: Array<() => void> = [];
    const forId = <P extends { id: string }>(f: (p: P) => void) => (p: P) => {
      if (id === undefined) early.push(() => { if (p.id === id) f(p); });
      else if (p.id === id) f(p);
    };
    let resolveReady!: (r: WorkerReady) => void;
    let rejectReady!: (e: Error) => void;
    const ready = new Promise<WorkerReady>((res, rej) => { resolveReady = res; rejectReady = rej; });
    ready.catch(() => { /* surfaced through done */ });
    let resolveDone!: (r: WorkerOutcome) => void;
    const done = new Promise<WorkerOutcome>((res) => { resolveDone = res; });
    const finish = (r: WorkerOutcome) => {
      for (const off of offs) off();
      if (!r.ok) rejectReady(new LabError(r.error));
      resolveDone(r);
    };
    const offs = [
      c.on('worker.sample', forId((p) => onSample?.(p.sample))),
      c.on('worker.ready', forId((p) => resolveReady({ mode: p.mode === 'native' ? 'native' : 'skb', zeroCopy: p.zeroCopy }))),
      c.on('worker.done', forId((p) => finish(p.result))),
      c.onClose((cause) => finish({ ok: false, error: cause.toJSON() })),
    ];
    let commandLine: string;
    try {
      ({ id, commandLine } = await c.call('worker.start', { spec }));
    } catch (err) {
      for (const off of offs) off();
      throw err;
    }
    for (const f of early.splice(0)) f();
    return {
      commandLine: `[${this.host}] ${commandLine}`,
      ready,
      done,
      stop: () => { if (!c.lost) void c.call('worker.stop', { id: id! }).catch(() => undefined); },
    };
  }

  /** Ends the session: the agent there removes everything it made. */
  async close(): Promise<void> {
    await this.client.close().catch(() => undefined);
  }
}
