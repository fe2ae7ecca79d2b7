// The parent's side of the engine host (engine-host.ts): forwards requests to the child, pairs
// the replies with their callers, fans the events out, and turns the child's death into answers
// instead of calls that hang. Pure forwarding: it needs zod and Node only (no Electron, nothing
// under native/, no koffi), so the desktop shell's main process uses it with utilityProcess and
// tests use it with child_process.fork (forkEngineHost).
//
// When the child exits unexpectedly, every pending call fails with EENGINEEXITED, a 'log' event
// (level error) says so, and the child is started again, once: after a second unexpected exit
// it stays down and every call fails with EENGINEDOWN. A child that exits with code 0 on its
// own was stopped on purpose (SIGTERM or SIGINT from outside, such as Ctrl-C in the terminal,
// which the app quits on too): it is reported the same way but not started again.
import { fork } from 'node:child_process';
import { errorResponse, MAX_MESSAGE_BYTES, messageBytes, requestCommand, requestId, type EventMessage, type LabErrorJson, type Response } from '../contracts/envelope.js';
import { distPath } from '../paths.js';
import { FromHostSchema, type HostReady, type ToHost } from './engine-channel.js';

/** The compiled engine host, what the child runs. */
export const ENGINE_HOST_PATH = distPath('benchmarks', 'server', 'engine-host.js');

export interface ChildExit { code: number | null; signal: string | null }

/** "code 1", "signal SIGKILL" */
export function exitText({ code, signal }: ChildExit): string {
  return signal ? `signal ${signal}` : `code ${code}`;
}

/** One child process, whatever started it. */
export interface EngineChild {
  /** Throws when the frame cannot be sent (not cloneable, channel closed). */
  send(frame: ToHost): void;
  onMessage(listener: (data: unknown) => void): void;
  /** The exit code, or the signal that ended it (null where the platform does not say). */
  onExit(listener: (exit: ChildExit) => void): void;
  kill(signal: 'SIGTERM' | 'SIGKILL'): void;
}

export interface EngineClientOptions {
  start: () => EngineChild;
  /** A call without an answer after this long fails with ETIMEDOUT (a hung or stopped child). */
  timeoutMs?: number;
  /** Unexpected exits after which the child is started again (default 1). */
  restarts?: number;
  /** How long close() waits after SIGTERM (the engine stopping runs and VMs) before SIGKILL. */
  closeGraceMs?: number;
  warn?: (message: string) => void;
  onReady?: (ready: HostReady) => void;
}

interface Pending { id: number; command: string; timer: NodeJS.Timeout; resolve: (r: Response) => void }

export class EngineClient {
  private child: EngineChild | undefined;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(message: EventMessage) => void>();
  private restartsLeft: number;
  /** Why the engine is down for good. */
  private down: string | undefined;
  private closing: Promise<void> | undefined;
  private childGone: (() => void) | undefined;
  private readonly timeoutMs: number;
  private readonly warn: (message: string) => void;

  constructor(private readonly opts: EngineClientOptions) {
    this.restartsLeft = opts.restarts ?? 1;
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.warn = opts.warn ?? ((m) => process.stderr.write(`xdplab: ${m}\n`));
  }

  start(): void {
    let child: EngineChild;
    try { child = this.opts.start(); } catch (err) {
      this.down = `the lab engine process could not be started: ${err instanceof Error ? err.message : String(err)}`;
      this.log(this.down);
      return;
    }
    this.child = child;
    child.onMessage((data) => { if (this.child === child) this.received(data); });
    child.onExit((exit) => { if (this.child === child) this.exited(exit); });
  }

  /** Every event of the engine, and the client's own 'log' events about the child. */
  onEvent(listener: (message: EventMessage) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  /** One request as it came (the child validates it): always an answer, never a rejection. */
  call(raw: unknown): Promise<Response> {
    const id = requestId(raw);
    const command = requestCommand(raw);
    if (messageBytes(raw) > MAX_MESSAGE_BYTES) return Promise.resolve(errorResponse(-1, { code: 'ETOOBIG', message: `message over the limit of ${MAX_MESSAGE_BYTES} bytes` }));
    if (this.closing) return Promise.resolve(errorResponse(id, { code: 'ECLOSING', message: 'xdplab is quitting' }));
    const child = this.child;
    if (!child) {
      return Promise.resolve(errorResponse(id, { code: 'EENGINEDOWN', message: `${command} cannot run: ${this.down ?? 'the lab engine is not started'}`, hint: 'quit and start xdplab again; its terminal output says why the engine stopped' }));
    }
    const seq = this.seq++;
    return new Promise<Response>((resolve) => {
      const timer = setTimeout(() => this.settle(seq, errorResponse(id, {
        code: 'ETIMEDOUT',
        message: `${command}: the lab engine gave no answer in ${Math.round(this.timeoutMs / 1000)} s`,
        hint: 'the engine process may be stuck; quit and start xdplab again if this repeats',
      })), this.timeoutMs);
      this.pending.set(seq, { id, command, timer, resolve });
      try { child.send({ kind: 'call', seq, request: raw }); } catch (err) {
        this.settle(seq, errorResponse(id, { code: 'EBADREQUEST', message: `${command} could not be sent to the lab engine: ${err instanceof Error ? err.message : String(err)}` }));
      }
    });
  }

  /** Stops the child (SIGTERM: it stops its runs and VMs), SIGKILL after the grace time. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.failAll(() => ({ code: 'ECLOSING', message: 'xdplab is quitting' }));
    const child = this.child;
    const grace = this.opts.closeGraceMs ?? 30_000;
    this.closing = new Promise<void>((resolve) => {
      if (!child) { resolve(); return; }
      const killer = setTimeout(() => {
        this.warn(`the lab engine did not stop within ${grace / 1000} s; killing it`);
        child.kill('SIGKILL');
      }, grace);
      this.childGone = () => { clearTimeout(killer); resolve(); };
      child.kill('SIGTERM');
    });
    return this.closing;
  }

  private received(data: unknown): void {
    const frame = FromHostSchema.safeParse(data);
    if (!frame.success) { this.warn('ignored a malformed frame from the lab engine'); return; }
    const f = frame.data;
    if (f.kind === 'reply') this.settle(f.seq, f.response);
    else if (f.kind === 'event') this.fanOut(f.message);
    else this.opts.onReady?.(f);
  }

  private settle(seq: number, response: Response): void {
    const p = this.pending.get(seq);
    if (!p) return; // timed out already
    this.pending.delete(seq);
    clearTimeout(p.timer);
    p.resolve(response);
  }

  private failAll(error: (p: Pending) => LabErrorJson): void {
    for (const [seq, p] of [...this.pending]) this.settle(seq, errorResponse(p.id, error(p)));
  }

  private exited(exit: ChildExit): void {
    this.child = undefined;
    if (this.closing) { this.childGone?.(); return; }
    const stoppedOnPurpose = exit.code === 0 && !exit.signal;
    const what = stoppedOnPurpose ? 'the lab engine process was stopped from outside (code 0)' : `the lab engine process exited unexpectedly (${exitText(exit)})`;
    const restart = this.restartsLeft > 0 && !stoppedOnPurpose;
    this.failAll((p) => ({
      code: 'EENGINEEXITED',
      message: `${p.command}: ${what} before answering`,
      hint: restart ? 'it has been started again (runs and VMs it had are gone): try again' : 'it is not started again: quit and start xdplab again',
    }));
    if (restart) {
      this.restartsLeft--;
      this.log(`${what}; starting it again (runs and VMs it had are gone)`);
      this.start();
    } else {
      this.down = what;
      this.log(`${what}; not starting it again: quit and start xdplab again`);
    }
  }

  private log(message: string): void {
    this.warn(message);
    this.fanOut({ type: 'event', event: 'log', payload: { level: 'error', source: 'engine', message, time: new Date().toISOString() } });
  }

  private fanOut(message: EventMessage): void {
    for (const l of [...this.listeners]) {
      try { l(message); } catch (err) { this.warn(`an event listener failed: ${err instanceof Error ? err.message : String(err)}`); }
    }
  }
}

/** The engine host as a plain Node child (tests, tools): structured clone like Electron's. */
export function forkEngineHost(options: { modulePath?: string; env?: NodeJS.ProcessEnv; warn?: (m: string) => void } = {}): EngineChild & { pid: number | undefined } {
  const child = fork(options.modulePath ?? ENGINE_HOST_PATH, [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
    env: options.env ?? process.env,
  });
  const warn = options.warn ?? ((m: string) => process.stderr.write(`xdplab: ${m}\n`));
  child.on('error', (err) => warn(`the lab engine process: ${err.message}`));
  return {
    pid: child.pid,
    send(frame) {
      if (!child.connected) throw new Error('the channel to the lab engine is closed');
      child.send(frame, (err) => { if (err) warn(`a frame to the lab engine was lost: ${err.message}`); });
    },
    onMessage: (listener) => { child.on('message', (data: unknown) => listener(data)); },
    onExit: (listener) => { child.on('exit', (code, signal) => listener({ code, signal })); },
    kill: (signal) => { child.kill(signal); },
  };
}
