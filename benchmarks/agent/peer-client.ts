// The client side of the peer agent: starts `xdplab agent --stdio` on another host through the
// system's ssh (so the user's keys, ssh-agent, ~/.ssh/config, ProxyJump and known_hosts work as
// they always do), sends the hello, matches responses to requests by id and hands out events.
//
// The ssh command line: `--ssh 'ssh -F FILE ...'`, else $XDPLAB_SSH, else `ssh`; it is split into
// words the way a shell would for simple cases (whitespace separates, '...' and "..." quote,
// backslash escapes), with no expansion of variables, globs or ~. xdplab appends
// `-T -o BatchMode=yes -o ConnectTimeout=N HOST REMOTE agent --stdio`; options given in the
// command line come first, so they win (ssh keeps the first value of an option).
// The remote command: $XDPLAB_REMOTE_COMMAND, else `xdplab` (on the remote PATH); it is passed
// to the remote shell as is, so it may be `env VAR=x node /opt/xdplab/bin/xdplab.js`.
//
// A failed connection (no answer, auth refused, no xdplab there) is a LabError naming the host
// and ssh's own stderr; nothing is created on this host either way (ssh is the only process).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import {
  AGENT_PROTOCOL_VERSION, AgentCommands, AgentEvents, AgentFatalSchema, AgentHelloSchema, PEER_HOST_PATTERN, isAgentEvent, versionMismatch,
  type AgentCommandArgs, type AgentCommandName, type AgentCommandResult, type AgentEventName, type AgentEventPayload, type AgentHello,
} from '../contracts/agent.js';
import { EventMessageSchema, ResponseSchema } from '../contracts/envelope.js';
import { LabError } from '../contracts/errors.js';
import { argsError } from './args-error.js';
import { packageVersion } from '../report/environment.js';

export const SSH_ENV = 'XDPLAB_SSH';
export const REMOTE_COMMAND_ENV = 'XDPLAB_REMOTE_COMMAND';
export const DEFAULT_CONNECT_TIMEOUT_SECONDS = 10;

/** Words of a command line, as a shell splits simple ones (no expansion of any kind). */
export function splitCommandLine(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined; else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1]!)) word += text[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c; inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      word += text[++i]; inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) { words.push(word); word = ''; inWord = false; }
    } else {
      word += c; inWord = true;
    }
  }
  if (quote) throw new LabError({ code: 'EINVALIDOPTION', field: 'ssh', message: `ssh: unterminated ${quote} quote in '${text}'` });
  if (inWord) words.push(word);
  return words;
}


export interface PeerOptions {
  /** [USER@]HOST, as ssh takes it (a Host alias of the ssh config too). */
  host: string;
  /** The ssh command line (default: $XDPLAB_SSH, else `ssh`). */
  ssh?: string;
  /** The xdplab command on the peer (default: $XDPLAB_REMOTE_COMMAND, else `xdplab`). */
  remoteCommand?: string;
  /** ssh's ConnectTimeout; the hello must also come within this plus helloGraceMs. */
  connectTimeoutSeconds?: number;
  /** Time for login and the agent's start after the TCP connection (default 30 s). */
  helloGraceMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** The argv that starts the agent (exported for tests and for a report's command lines). */
export function sshArgv(o: PeerOptions): string[] {
  if (!PEER_HOST_PATTERN.test(o.host)) throw new LabError({ code: 'EINVALIDOPTION', field: 'peerHost', message: `peerHost: expected [USER@]HOST, got '${o.host}'` });
  const env = o.env ?? process.env;
  const ssh = splitCommandLine(o.ssh ?? env[SSH_ENV] ?? 'ssh');
  if (!ssh.length) throw new LabError({ code: 'EINVALIDOPTION', field: 'ssh', message: 'ssh: the ssh command line is empty' });
  const remote = (o.remoteCommand ?? env[REMOTE_COMMAND_ENV] ?? 'xdplab').trim() || 'xdplab';
  const timeout = o.connectTimeoutSeconds ?? DEFAULT_CONNECT_TIMEOUT_SECONDS;
  return [...ssh, '-T', '-o', 'BatchMode=yes', '-o', `ConnectTimeout=${timeout}`, o.host, `${remote} agent --stdio`];
}

export interface PeerExit { code: number | null; signal: string | null; stderr: string }

interface Pending { command: string; resolve: (v: unknown) => void; reject: (e: Error) => void; schema: { parse(v: unknown): unknown } }

/** A connected agent. Obtain one with connectPeer. */
export class PeerClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Map<string, Set<(payload: never) => void>>();
  private readonly closeListeners = new Set<(e: LabError) => void>();
  private ended: LabError | undefined;
  /** Resolves when ssh has exited (for any reason). */
  readonly exited: Promise<PeerExit>;

  constructor(readonly host: string, readonly argv: string[], readonly hello: AgentHello, private readonly child: ChildProcess, exited: Promise<PeerExit>, private readonly stderrText: () => string) {
    this.exited = exited;
    void exited.then((e) => {
      const err = new LabError({
        code: 'EPEERLOST',
        message: `the connection to the peer ${host} ended (ssh ${e.signal ? `killed by ${e.signal}` : `exit ${e.code}`})${e.stderr.trim() ? `: ${e.stderr.trim().slice(-500)}` : ''}`,
        hint: 'the agent there removed what it had made when its input closed',
      });
      this.ended = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      for (const l of this.closeListeners) l(err);
    });
  }

  /** Why the connection ended, once it has. */
  get lost(): LabError | undefined { return this.ended; }

  /** The pid of the local ssh process. */
  get pid(): number | undefined { return this.child.pid; }
  get commandLine(): string { return this.argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' '); }
  get stderr(): string { return this.stderrText(); }

  /** Dispatches one line from the agent. */
  handleLine(raw: unknown): void {
    const ev = EventMessageSchema.safeParse(raw);
    if (ev.success) {
      const name = ev.data.event;
      if (!isAgentEvent(name)) return;
      const payload = AgentEvents[name].safeParse(ev.data.payload);
      if (!payload.success) return;
      for (const l of this.listeners.get(name) ?? []) (l as (p: unknown) => void)(payload.data);
      return;
    }
    const res = ResponseSchema.safeParse(raw);
    if (!res.success) return;
    const p = this.pending.get(res.data.id);
    if (!p) return;
    this.pending.delete(res.data.id);
    if (res.data.ok) {
      try { p.resolve(p.schema.parse(res.data.result)); } catch (err) { p.reject(new LabError({ code: 'EPROTOCOL', message: `${p.command}: the peer ${this.host} answered with a result this xdplab cannot read: ${String(err).slice(0, 200)}` })); }
    } else {
      const e = res.data.error;
      p.reject(new LabError({ code: e.code, message: `peer ${this.host}: ${e.message}`, ...(e.field ? { field: e.field } : {}), ...(e.hint ? { hint: e.hint } : {}) }));
    }
  }

  /** One request; arguments are checked here first (the agent checks them again). */
  call<C extends AgentCommandName>(command: C, args: AgentCommandArgs<C>): Promise<AgentCommandResult<C>> {
    if (this.ended) return Promise.reject(this.ended);
    const spec = AgentCommands[command];
    const checked = spec.args.safeParse(args);
    if (!checked.success) return Promise.reject(argsError(command, checked.error.issues, args));
    const id = this.nextId++;
    return new Promise<AgentCommandResult<C>>((resolve, reject) => {
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, schema: spec.result });
      this.child.stdin!.write(JSON.stringify({ type: 'request', id, command, args }) + '\n');
    });
  }

  on<E extends AgentEventName>(event: E, listener: (payload: AgentEventPayload<E>) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) { set = new Set(); this.listeners.set(event, set); }
    set.add(listener as (payload: never) => void);
    return () => { set.delete(listener as (payload: never) => void); };
  }

  /** Called once if the connection ends (dropped, or closed): the cause, for a row's failure. */
  onClose(listener: (cause: LabError) => void): () => void {
    this.closeListeners.add(listener);
    return () => { this.closeListeners.delete(listener); };
  }

  /** Ends the session: closes the agent's stdin (it removes what it made) and waits for ssh. */
  async close(timeoutMs = 10_000): Promise<PeerExit> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.stdin!.end();
      const t = setTimeout(() => this.child.kill('SIGTERM'), timeoutMs);
      const e = await this.exited;
      clearTimeout(t);
      return e;
    }
    return this.exited;
  }
}

/**
 * Starts the agent on `host` through ssh and greets it. Rejects with a LabError naming the host
 * and what ssh said when the host does not answer within the connect timeout, refuses the login,
 * has no xdplab, or runs another version.
 */
export function connectPeer(o: PeerOptions): Promise<PeerClient> {
  const argv = sshArgv(o);
  const timeoutMs = (o.connectTimeoutSeconds ?? DEFAULT_CONNECT_TIMEOUT_SECONDS) * 1000 + (o.helloGraceMs ?? 30_000);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: o.env ?? process.env });
  let stderr = '';
  const stray: string[] = [];
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-8000); });
  child.stdin!.on('error', () => { /* the exit says why */ });
  const exited = new Promise<PeerExit>((resolve) => {
    child.once('error', (err) => { stderr += `${argv[0]}: ${err.message}`; });
    child.once('close', (code, signal) => resolve({ code, signal, stderr }));
  });
  const ours = { type: 'hello' as const, role: 'client' as const, protocol: AGENT_PROTOCOL_VERSION, xdplab: packageVersion() };
  child.stdin!.write(JSON.stringify(ours) + '\n');

  return new Promise<PeerClient>((resolve, reject) => {
    let client: PeerClient | undefined;
    let settled = false;
    const fail = (err: LabError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      reject(err);
    };
    const sshSaid = () => (stderr.trim() || stray.join(' | ').trim() || 'nothing').slice(-1000);
    const timer = setTimeout(() => fail(new LabError({
      code: 'ESSH',
      message: `peer ${o.host}: no answer from xdplab agent within ${timeoutMs / 1000} s; ssh said: ${sshSaid()}`,
      hint: `check that '${argv.join(' ')}' works by hand`,
    })), timeoutMs);
    void exited.then((e) => {
      if (client) return;
      const refused = /Permission denied|Host key verification failed|Could not resolve|Connection refused|timed out|No route|Network is unreachable/i.exec(e.stderr)?.[0];
      fail(new LabError({
        code: 'ESSH',
        message: `peer ${o.host}: ssh ${e.signal ? `was killed by ${e.signal}` : `exited ${e.code}`} before the agent answered${refused ? ` (${refused})` : ''}; ssh said: ${sshSaid()}`,
        hint: e.code === 127 || /not found/.test(e.stderr)
          ? `is xdplab installed on ${o.host}? Set ${REMOTE_COMMAND_ENV} to its command there (e.g. 'node /opt/xdplab/bin/xdplab.js')`
          : `check that '${argv.join(' ')}' works by hand (keys, known_hosts, BatchMode allows no password prompt)`,
      }));
    });
    createInterface({ input: child.stdout!, crlfDelay: Infinity }).on('line', (line) => {
      let raw: unknown;
      try { raw = JSON.parse(line); } catch { if (!client) stray.push(line.slice(0, 200)); return; }
      if (client) { client.handleLine(raw); return; }
      const fatal = AgentFatalSchema.safeParse(raw);
      if (fatal.success) {
        const e = fatal.data.error;
        fail(new LabError({ code: e.code, message: `peer ${o.host}: ${e.message}`, ...(e.hint ? { hint: e.hint } : {}) }));
        return;
      }
      const h = AgentHelloSchema.safeParse(raw);
      if (!h.success || h.data.role !== 'agent') { stray.push(line.slice(0, 200)); return; }
      const mismatch = versionMismatch(ours, h.data, `peer ${o.host}`);
      if (mismatch) { fail(new LabError(mismatch)); return; }
      settled = true;
      clearTimeout(timer);
      client = new PeerClient(o.host, argv, h.data, child, exited, () => stderr);
      resolve(client);
    });
  });
}
