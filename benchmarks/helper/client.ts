// A session with `xdplab helper`, for an unprivileged xdplab: requests go out one at a time and
// their answers (with fds) are awaited without blocking the event loop. Closing the client (or
// the process dying) ends the session, and the helper removes everything it made for it.
import { closeSync } from 'node:fs';
import { LabError } from '../contracts/errors.js';
import { SeqpacketSocket, pollReadable } from '../../native/index.js';
import type { RxCounters } from '../tools/counters.js';
import { HELPER_PROTOCOL_VERSION, ResponseSchema, type HelloResponse, type HelperRequest, type SocketsResponse, type TopologyResponse } from './protocol.js';
import type { AfXdpMode } from '../contracts/datapath.js';

const POLL_MS = 5;

export class HelperClient {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(private readonly sock: SeqpacketSocket, readonly path: string) {}

  /** Connects and greets; a refusal (uid not allowed, too many sessions) is thrown here. */
  static async connect(path: string, timeoutMs = 10000): Promise<{ client: HelperClient; hello: HelloResponse }> {
    const client = new HelperClient(SeqpacketSocket.connect(path), path);
    try {
      const { body } = await client.request({ op: 'hello', version: HELPER_PROTOCOL_VERSION }, timeoutMs);
      return { client, hello: body as unknown as HelloResponse };
    } catch (err) {
      client.close();
      throw err;
    }
  }

  /** Sends one request (or anything, for tests of the helper's checks) and awaits its answer. */
  request(req: HelperRequest | Record<string, unknown> | string, timeoutMs = 60000): Promise<{ body: Record<string, unknown>; fds: number[] }> {
    const next = this.queue.then(() => this.exchange(req, timeoutMs));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async exchange(req: unknown, timeoutMs: number): Promise<{ body: Record<string, unknown>; fds: number[] }> {
    if (this.closed) throw new LabError({ code: 'ECLOSED', field: 'helper', message: 'helper: this session is closed' });
    // A refusal may already be waiting (the helper answers refused peers before any request).
    if (!pollReadable([this.sock.fd], 0)[0]) this.sock.send(req);
    const end = Date.now() + timeoutMs;
    while (!pollReadable([this.sock.fd], 0)[0]) {
      if (Date.now() > end) throw new LabError({ code: 'ETIMEDOUT', field: 'helper', message: `helper: no answer from ${this.path} within ${timeoutMs} ms` });
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    const packet = this.sock.receive();
    if (!packet) throw new LabError({ code: 'EHELPERGONE', field: 'helper', message: `helper: ${this.path} closed the session`, hint: 'the helper stopped or refused this client; its log says why' });
    const r = ResponseSchema.safeParse(packet.payload);
    if (!r.success) {
      for (const fd of packet.fds) closeSync(fd);
      throw new LabError({ code: 'EPROTO', field: 'helper', message: `helper: unexpected answer from ${this.path}` });
    }
    if (!r.data.ok) {
      for (const fd of packet.fds) closeSync(fd);
      throw new LabError({ ...r.data.error });
    }
    return { body: r.data as Record<string, unknown>, fds: packet.fds };
  }

  async topology(queues = 1): Promise<TopologyResponse> {
    return (await this.request({ op: 'topology', queues })).body as unknown as TopologyResponse;
  }

  /** XSK program + sockets on an interface; the caller owns the fds (close them when passed on). */
  async sockets(o: { netns?: string; ifname: string; mode?: AfXdpMode; queues?: number }): Promise<SocketsResponse & { fds: number[] }> {
    const { body, fds } = await this.request({ op: 'sockets', ...o });
    return { ...(body as unknown as SocketsResponse), fds };
  }

  async drop(o: { netns?: string; ifname: string; mode: AfXdpMode }): Promise<number> {
    return (await this.request({ op: 'drop', ...o })).body.handle as number;
  }

  async release(handle: number): Promise<void> {
    await this.request({ op: 'release', handle });
  }

  async counters(netns: string | undefined, ifname: string): Promise<RxCounters> {
    const { body } = await this.request({ op: 'counters', ifname, ...(netns ? { netns } : {}) });
    return body as unknown as RxCounters;
  }

  /** Ends the session: the helper removes its topology, programs and sockets. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.close();
  }
}
