// LabApi over the web server's WebSocket (web mode). The token comes from the page's URL and goes
// with the WebSocket as its `token` query parameter. Requests carry ids; answers settle them.
// When the connection drops, pending calls fail at once with EDISCONNECTED and the client
// reconnects with a growing delay; listeners stay registered across reconnects.
import { LabClientError } from './errors.js';
import type { CommandArgs, CommandName, CommandResult, EventMessage, EventName, EventPayload, LabApi, Response } from './types.js';

export type ConnectionState = 'connecting' | 'open' | 'closed';

interface Pending { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }

export interface WebSocketLabApiOptions {
  /** Per call (default 5 minutes: doctor and VM starts take a while). */
  requestTimeoutMs?: number;
  WebSocketImpl?: typeof WebSocket;
  onState?: (state: ConnectionState, detail?: string) => void;
}

/** ws://host/api?token=... for the page at `pageUrl` (the token from its query). */
export function apiUrl(pageUrl: string): string {
  const u = new URL(pageUrl);
  const token = u.searchParams.get('token') ?? '';
  return `${u.protocol === 'https:' ? 'wss' : 'ws'}://${u.host}/api?token=${encodeURIComponent(token)}`;
}

export class WebSocketLabApi implements LabApi {
  private ws: WebSocket | undefined;
  private opened: Promise<void> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Map<string, Set<(payload: unknown) => void>>();
  private retryMs = 500;
  private closedByUs = false;
  private readonly WS: typeof WebSocket;

  constructor(private readonly url: string, private readonly opts: WebSocketLabApiOptions = {}) {
    this.WS = opts.WebSocketImpl ?? WebSocket;
    this.connect();
  }

  private connect(): void {
    this.opts.onState?.('connecting');
    const ws = new this.WS(this.url);
    this.ws = ws;
    this.opened = new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => { this.retryMs = 500; this.opts.onState?.('open'); resolve(); }, { once: true });
      ws.addEventListener('close', () => reject(new LabClientError({ code: 'EDISCONNECTED', message: 'the connection to the lab closed', hint: 'is xdplab serve still running? the page reconnects by itself' })), { once: true });
    });
    this.opened.catch(() => {});
    ws.addEventListener('message', (ev: MessageEvent) => this.onMessage(ev.data));
    ws.addEventListener('close', (ev: CloseEvent) => {
      const why = ev.reason || (ev.code === 1006 ? 'the server refused or dropped the connection' : `code ${ev.code}`);
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new LabClientError({ code: 'EDISCONNECTED', message: `the connection to the lab closed (${why}) before the answer came`, hint: 'the request may or may not have run; check before repeating it' }));
        this.pending.delete(id);
      }
      this.opts.onState?.('closed', why);
      if (this.closedByUs) return;
      setTimeout(() => { if (!this.closedByUs) this.connect(); }, this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
    });
  }

  private onMessage(data: unknown): void {
    if (typeof data !== 'string') return;
    let msg: Response | EventMessage;
    try { msg = JSON.parse(data) as Response | EventMessage; } catch { return; }
    if (msg.type === 'event') {
      for (const l of this.listeners.get(msg.event) ?? []) {
        try { l(msg.payload); } catch (err) { console.error(`xdplab: a listener of '${msg.event}' failed`, err); }
      }
      return;
    }
    if (msg.type !== 'response') return;
    const p = this.pending.get(msg.id);
    if (!p) {
      if (!msg.ok) console.warn(`xdplab: the server answered a message it could not read: ${msg.error.message}`);
      return;
    }
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new LabClientError(msg.error));
  }

  async call<C extends CommandName>(command: C, args: CommandArgs<C>): Promise<CommandResult<C>> {
    await this.opened;
    const ws = this.ws!;
    const id = this.nextId++;
    const timeoutMs = this.opts.requestTimeoutMs ?? 300_000;
    return new Promise<CommandResult<C>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new LabClientError({ code: 'ETIMEDOUT', message: `${command}: no answer within ${Math.round(timeoutMs / 1000)} s` }));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      ws.send(JSON.stringify({ type: 'request', id, command, args }));
    });
  }

  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) { set = new Set(); this.listeners.set(event, set); }
    const l = listener as (payload: unknown) => void;
    set.add(l);
    return () => { set.delete(l); };
  }

  close(): void {
    this.closedByUs = true;
    this.ws?.close(1000, 'page closed');
  }
}
