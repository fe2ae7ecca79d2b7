// A QMP client over a unix socket: the greeting, qmp_capabilities, commands with ids and
// per-command timeouts, QEMU's errors as QmpError (class and desc), events as an async stream
// and as 'event' emissions, and a clean close. When the socket closes with commands pending
// (QEMU exited or crashed), every pending command rejects with code QMP_CLOSED: never a hang.
import { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { LabError } from '../contracts/errors.js';
import { jsonText } from './netdev/validate.js';
import type { QmpNetdevArguments } from './netdev/qmp-args.js';

export interface QmpVersion {
  qemu: { major: number; minor: number; micro: number };
  package: string;
}

export interface QmpGreeting {
  QMP: { version: QmpVersion; capabilities: string[] };
}

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
}

export interface RxFilterInfo {
  name: string;
  promiscuous: boolean;
  multicast: 'normal' | 'none' | 'all';
  unicast: 'normal' | 'none' | 'all';
  vlan: 'normal' | 'none' | 'all';
  'broadcast-allowed': boolean;
  'multicast-overflow': boolean;
  'unicast-overflow': boolean;
  'main-mac': string;
  'vlan-table': number[];
  'unicast-table': string[];
  'multicast-table': string[];
}

type Empty = Record<string, never>;

/** Argument and return types of the commands the lab uses. */
export interface QmpCommands {
  qmp_capabilities: { args: { enable?: string[] } | undefined; ret: Empty };
  'query-version': { args: undefined; ret: QmpVersion };
  'query-status': { args: undefined; ret: { running: boolean; status: string } };
  'query-commands': { args: undefined; ret: { name: string }[] };
  'query-qmp-schema': { args: undefined; ret: QmpSchemaEntry[] };
  netdev_add: { args: QmpNetdevArguments; ret: Empty };
  netdev_del: { args: { id: string }; ret: Empty };
  set_link: { args: { name: string; up: boolean }; ret: Empty };
  'query-rx-filter': { args: { name?: string } | undefined; ret: RxFilterInfo[] };
  'announce-self': { args: { initial: number; max: number; rounds: number; step: number; interfaces?: string[]; id?: string }; ret: Empty };
  device_add: { args: { driver: string; id?: string } & Record<string, unknown>; ret: Empty };
  device_del: { args: { id: string }; ret: Empty };
  system_powerdown: { args: undefined; ret: Empty };
  quit: { args: undefined; ret: Empty };
}

/** One entry of query-qmp-schema (SchemaInfo); type names are QEMU's opaque numbers. */
export interface QmpSchemaEntry {
  name: string;
  'meta-type': 'builtin' | 'enum' | 'array' | 'object' | 'alternate' | 'command' | 'event';
  'arg-type'?: string;
  'ret-type'?: string;
  members?: { name: string; type?: string; default?: unknown; features?: string[] }[];
  values?: string[];
  tag?: string;
  variants?: { case: string; type: string }[];
  'element-type'?: string;
  features?: string[];
}

const ERROR_HINTS: Record<string, string> = {
  CommandNotFound: 'this QEMU has no such command (query-commands lists the ones it has)',
  DeviceNotFound: 'no device or netdev has that id',
  DeviceNotActive: 'the device exists but is not active',
  KVMMissingCap: 'KVM lacks a capability this needs',
};

/** An error reply from QEMU: `{"error": {"class": ..., "desc": ...}}`. code is QMP_<class>. */
export class QmpError extends LabError {
  readonly errorClass: string;
  readonly desc: string;
  readonly command: string;

  constructor(command: string, errorClass: string, desc: string) {
    const hint = ERROR_HINTS[errorClass];
    super({ code: `QMP_${errorClass}`, message: `${command}: ${errorClass}: ${desc}`, ...(hint ? { hint } : {}) });
    this.name = 'QmpError';
    this.errorClass = errorClass;
    this.desc = desc;
    this.command = command;
  }
}

export interface QmpConnectOptions {
  /** Deadline for connecting, the greeting and qmp_capabilities together (default 5000 ms). */
  timeoutMs?: number;
  /** Default deadline of each command (default 30000 ms); execute() can override it. */
  commandTimeoutMs?: number;
  /** Keep retrying while the socket does not exist or refuses, up to timeoutMs (QEMU starting). */
  waitForSocket?: boolean;
  /** Capabilities to enable with qmp_capabilities (e.g. ['oob']); default none. */
  capabilities?: string[];
}

export interface ExecuteOptions { timeoutMs?: number }

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

function closedError(command: string, why: string): LabError {
  return new LabError({ code: 'QMP_CLOSED', message: `${command}: ${why}`, hint: 'QEMU exited or closed its QMP socket; its stderr says why' });
}

function connectSocket(path: string, deadline: number, retry: boolean): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const sock = createConnection({ path });
      const onError = (err: NodeJS.ErrnoException) => {
        sock.destroy();
        const again = retry && (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') && Date.now() + 50 < deadline;
        if (again) { setTimeout(attempt, 50); return; }
        const why = err.code === 'ENOENT' ? 'no such socket'
          : err.code === 'ECONNREFUSED' ? 'nothing listens on it'
            : err.code === 'EACCES' ? 'permission denied' : err.message;
        reject(new LabError({
          code: 'QMP_CONNECT', message: `cannot connect to QMP socket ${path}: ${why} (${err.code ?? 'error'})`,
          hint: 'start QEMU with -qmp unix:PATH,server=on,wait=off and pass the same PATH',
        }));
      };
      sock.once('error', onError);
      sock.once('connect', () => { sock.off('error', onError); resolve(sock); });
    };
    attempt();
  });
}

export class QmpClient extends EventEmitter {
  readonly socketPath: string;
  greeting!: QmpGreeting;
  private sock!: Socket;
  private buffer = '';
  private seq = 0;
  private readonly pending = new Map<string, Pending>();
  /** Ids whose command timed out: their late answers are dropped. */
  private readonly abandoned = new Set<string>();
  private closedFlag = false;
  private closeReason = 'the QMP connection is closed';
  private greetingWaiter: { resolve: (g: QmpGreeting) => void; reject: (e: Error) => void } | undefined;
  private readonly commandTimeoutMs: number;
  private readonly closedPromise: Promise<void>;
  private markClosed!: () => void;

  private constructor(socketPath: string, commandTimeoutMs: number) {
    super();
    this.socketPath = socketPath;
    this.commandTimeoutMs = commandTimeoutMs;
    this.closedPromise = new Promise((resolve) => { this.markClosed = resolve; });
  }

  /** Connects, reads the greeting and negotiates capabilities (command mode). */
  static async connect(socketPath: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = options.timeoutMs ?? 5000;
    const deadline = Date.now() + timeoutMs;
    const client = new QmpClient(socketPath, options.commandTimeoutMs ?? 30_000);
    const sock = await connectSocket(socketPath, deadline, options.waitForSocket ?? false);
    client.attach(sock);
    try {
      if (!client.greeting) client.greeting = await new Promise<QmpGreeting>((resolve, reject) => {
        const left = Math.max(1, deadline - Date.now());
        const timer = setTimeout(() => reject(new LabError({
          code: 'QMP_TIMEOUT', message: `no QMP greeting on ${socketPath} within ${timeoutMs} ms`,
          hint: 'QEMU serves one QMP client per socket: is another client connected? Is the socket a QMP monitor?',
        })), left);
        client.greetingWaiter = {
          resolve: (g) => { clearTimeout(timer); resolve(g); },
          reject: (e) => { clearTimeout(timer); reject(e); },
        };
      });
      const enable = options.capabilities?.length ? { enable: options.capabilities } : undefined;
      await client.execute('qmp_capabilities', enable, { timeoutMs: Math.max(1, deadline - Date.now()) });
    } catch (err) {
      client.destroy();
      throw err;
    }
    return client;
  }

  get closed(): boolean { return this.closedFlag; }

  /** Resolves when the connection has closed, for whatever reason. */
  whenClosed(): Promise<void> { return this.closedPromise; }

  private attach(sock: Socket): void {
    this.sock = sock;
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => this.onData(chunk));
    sock.on('error', (err: NodeJS.ErrnoException) => { this.closeReason = `the QMP connection failed (${err.code ?? err.message})`; });
    sock.on('close', () => this.onClose());
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line) this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.fail(new LabError({ code: 'QMP_PROTOCOL', message: `QMP sent a line that is not JSON: ${line.slice(0, 200)}`, hint: 'is this socket a QMP monitor (-qmp), not an HMP one (-monitor)?' }));
      return;
    }
    if ('QMP' in msg) {
      this.greeting = msg as unknown as QmpGreeting;
      this.greetingWaiter?.resolve(this.greeting);
      this.greetingWaiter = undefined;
      return;
    }
    if (typeof msg.event === 'string') {
      this.emit('event', msg as unknown as QmpEvent);
      return;
    }
    if (!('return' in msg) && !('error' in msg)) return;
    const id = typeof msg.id === 'string' ? msg.id : undefined;
    if (id !== undefined && this.abandoned.delete(id)) return;
    // Replies without an id (QEMU could not parse the request) answer the oldest command.
    const key = id ?? this.pending.keys().next().value;
    if (key === undefined) return;
    const p = this.pending.get(key);
    if (!p) return;
    this.pending.delete(key);
    clearTimeout(p.timer);
    if ('error' in msg) {
      const e = (msg.error ?? {}) as { class?: string; desc?: string };
      p.reject(new QmpError(p.command, e.class ?? 'GenericError', e.desc ?? 'no description'));
    } else {
      p.resolve(msg.return);
    }
  }

  /** A fatal connection problem: reject everything and close. */
  private fail(err: LabError): void {
    this.closeReason = err.message;
    this.greetingWaiter?.reject(err);
    this.greetingWaiter = undefined;
    for (const [id, p] of this.pending) { clearTimeout(p.timer); this.pending.delete(id); p.reject(err); }
    this.sock.destroy();
  }

  private onClose(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.greetingWaiter?.reject(closedError('greeting', `the QMP socket ${this.socketPath} closed before the greeting`));
    this.greetingWaiter = undefined;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(closedError(p.command, `${this.closeReason} before QEMU answered`));
    }
    this.emit('close');
    this.markClosed();
  }

  /** Runs a command; resolves with its `return`, rejects with QmpError, or QMP_TIMEOUT /
   * QMP_CLOSED LabErrors. */
  execute<K extends keyof QmpCommands>(command: K, args?: QmpCommands[K]['args'], options?: ExecuteOptions): Promise<QmpCommands[K]['ret']>;
  execute<T = unknown>(command: string, args?: Record<string, unknown>, options?: ExecuteOptions): Promise<T>;
  execute(command: string, args?: Record<string, unknown>, options: ExecuteOptions = {}): Promise<unknown> {
    if (this.closedFlag || this.sock.destroyed) return Promise.reject(closedError(command, this.closeReason));
    const id = `xl-${++this.seq}`;
    const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.abandoned.add(id);
        reject(new LabError({ code: 'QMP_TIMEOUT', message: `${command}: QEMU did not answer within ${timeoutMs} ms`, hint: 'QEMU may be busy or stuck; the command may still complete later' }));
      }, timeoutMs);
      this.pending.set(id, { command, resolve, reject, timer });
      const message = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
      this.sock.write(`${jsonText(message)}\n`);
    });
  }

  /** Events from now on, until the connection closes (then the iteration ends). */
  events(filter?: (e: QmpEvent) => boolean): AsyncIterableIterator<QmpEvent> {
    const queue: QmpEvent[] = [];
    const waiters: ((r: IteratorResult<QmpEvent>) => void)[] = [];
    let done = this.closedFlag;
    const onEvent = (e: QmpEvent) => {
      if (filter && !filter(e)) return;
      const w = waiters.shift();
      if (w) w({ value: e, done: false }); else queue.push(e);
    };
    const finish = () => {
      done = true;
      this.off('event', onEvent);
      this.off('close', finish);
      for (const w of waiters.splice(0)) w({ value: undefined, done: true });
    };
    this.on('event', onEvent);
    this.on('close', finish);
    const it: AsyncIterableIterator<QmpEvent> = {
      next: () => {
        const e = queue.shift();
        if (e) return Promise.resolve({ value: e, done: false });
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => waiters.push(resolve));
      },
      return: () => { finish(); return Promise.resolve({ value: undefined, done: true }); },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  /** The next event named `name` (and matching `match`), or QMP_TIMEOUT / QMP_CLOSED. */
  waitForEvent(name: string, options: { timeoutMs?: number; match?: (e: QmpEvent) => boolean } = {}): Promise<QmpEvent> {
    const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
    return new Promise((resolve, reject) => {
      if (this.closedFlag) { reject(closedError(`waiting for ${name}`, this.closeReason)); return; }
      const cleanup = () => { clearTimeout(timer); this.off('event', onEvent); this.off('close', onClose); };
      const onEvent = (e: QmpEvent) => {
        if (e.event !== name || (options.match && !options.match(e))) return;
        cleanup();
        resolve(e);
      };
      const onClose = () => { cleanup(); reject(closedError(`waiting for ${name}`, `${this.closeReason} before the event came`)); };
      const timer = setTimeout(() => { cleanup(); reject(new LabError({ code: 'QMP_TIMEOUT', message: `no ${name} event within ${timeoutMs} ms` })); }, timeoutMs);
      this.on('event', onEvent);
      this.on('close', onClose);
    });
  }

  /** Closes the connection; pending commands reject with QMP_CLOSED. Waits for the close. */
  async close(): Promise<void> {
    if (this.closedFlag) return;
    this.closeReason = 'the client closed the QMP connection';
    this.sock.end();
    const timer = setTimeout(() => this.sock.destroy(), 1000);
    await this.closedPromise;
    clearTimeout(timer);
  }

  /** Closes at once without waiting. */
  destroy(): void {
    if (!this.closedFlag) this.closeReason = 'the client closed the QMP connection';
    this.sock?.destroy();
  }
}

/** Connects, runs one command, closes. */
export async function qmpExecute<T = unknown>(socketPath: string, command: string, args?: Record<string, unknown>, options: QmpConnectOptions & ExecuteOptions = {}): Promise<T> {
  const client = await QmpClient.connect(socketPath, options);
  try {
    return await client.execute<T>(command, args, options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {});
  } finally {
    await client.close();
  }
}

/**
 * Each net client's state as `info network` shows it (id -> "index=0,type=stream,listening").
 * QMP has no query for it; this asks HMP through human-monitor-command.
 * Use it to wait for a stream server to listen before deleting it: QEMU 10.0.2 crashes
 * (SIGSEGV) when a stream server netdev is deleted while its asynchronous listen is pending.
 */
export async function networkInfo(client: QmpClient): Promise<Record<string, string>> {
  const text = await client.execute<string>('human-monitor-command', { 'command-line': 'info network' });
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(?:\\ )?([^:\s]+): (.*)$/.exec(line);
    if (m && !(m[1]! in out)) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Waits until a stream netdev has left "initializing" (listening, connected or an error). */
export async function waitForStreamSetup(client: QmpClient, id: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = (await networkInfo(client))[id];
    if (info === undefined) throw new LabError({ code: 'QMP_NO_NETDEV', message: `no netdev '${id}' in info network` });
    if (!/\binitializing$/.test(info)) return info;
    if (Date.now() > deadline) throw new LabError({ code: 'QMP_TIMEOUT', message: `netdev '${id}' still initializing after ${timeoutMs} ms` });
    await new Promise((r) => setTimeout(r, 20));
  }
}
