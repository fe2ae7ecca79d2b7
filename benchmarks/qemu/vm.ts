// A QEMU VM's life: start from a typed config, wait until the guest is ready (the readiness
// marker on the serial console AND the agent answering on its virtio-serial port), run guest
// commands through the agent, stop (clean poweroff, then kill). Nothing outlives the VM: the
// QEMU process, its sockets and its temp directory are removed on stop, on a failed start, on
// process exit, and on SIGINT/SIGTERM when a Lab is passed (the Lab tracks the process and the
// directory). QEMU runs under `setpriv --pdeathsig KILL` where available, so that even a
// SIGKILLed xdplab takes its VMs with it.
//
// QMP is not needed here: the caller may pass `control`, a factory that connects a VmControl
// (e.g. the QMP client) to the VM's QMP socket once the guest is ready; stop() uses it to quit
// QEMU when the agent cannot power the guest off.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { invalidOption, LabError } from '../contracts/errors.js';
import type { Lab } from '../lab/lab.js';
import { accelArgs, accelFor, type Accel, type AccelChoice } from './accel.js';
import { dataDirArgs, dataDirsFor, resolveQemuBinary } from './capabilities.js';
import { AGENT_PORT_NAME } from './guest/agent.js';
import { READY_MARKER } from './guest/init.js';
import { recordBoot } from './boot-times.js';

export type NicModel = 'virtio-net-pci' | 'e1000' | (string & {});

export interface NicConfig {
  /** A complete -netdev argument ("user,id=n0", "tap,id=t0,ifname=...,script=no"); needs id=. */
  netdev: string;
  /** Default virtio-net-pci. */
  model?: NicModel;
  /** Default: 52:54:00 and random bytes, the last one the NIC's index. */
  mac?: string;
  /** Address the guest gives its interface (CIDR); the N-th NIC is ethN in the guest. */
  ip?: string;
  /** Extra -device properties ("mq=on,vectors=6"). The option ROM is off (romfile=) unless set here. */
  deviceProps?: string;
}

/** What any VM control channel (the QMP client) offers the VM. */
export interface VmControl {
  execute(command: string, args?: Record<string, unknown>): Promise<unknown>;
  close(): void | Promise<void>;
}

export interface VmConfig {
  /** A name for messages, QEMU's -name and temp files. */
  name?: string;
  /** From ensureGuestImage(). */
  image: { kernelPath: string; initrdPath: string };
  /** Default: $XDPLAB_QEMU, else qemu-system-x86_64 on PATH. */
  qemu?: string;
  /** Default 'auto': KVM when usable with this binary (accelFor), else TCG. */
  accel?: Accel | 'auto';
  memoryMiB?: number;
  smp?: number;
  /**
   * Default 'seabios', QEMU's own default (nothing added to the command line). 'qboot' uses
   * qboot.rom found next to the binary or in /usr/share/qemu, a minimal firmware: with the
   * uncompressed PVH kernel it saved no measurable boot time here, so it is opt-in.
   */
  firmware?: 'seabios' | 'qboot';
  nics?: NicConfig[];
  /** Default route in the guest. */
  gateway?: string;
  /** More words for the kernel command line. */
  kernelArgs?: string[];
  /** More QEMU arguments, appended. */
  extraArgs?: string[];
  /** Start QEMU in this network namespace (ip netns exec), e.g. for tap backends in a lab's namespace. */
  netns?: string;
  /** The serial console log, kept with the run; default: in the VM's temp dir (removed at stop). */
  consoleLogPath?: string;
  /** Default 60 s under TCG, 30 s under KVM. */
  readyTimeoutMs?: number;
  /** Tracks the process and the temp dir so that the Lab removes them on close and on SIGINT. */
  lab?: Lab;
  /** Connects a control channel (QMP) to the VM's QMP socket once the guest is ready. */
  control?: (qmpSocketPath: string) => Promise<VmControl>;
  onProgress?: (message: string) => void;
}

export interface ExecOptions {
  /** Default 30 s. The guest kills the command's whole session when it runs longer. */
  timeoutMs?: number;
  /** Given to the command on stdin (small inputs: the agent reads requests byte by byte). */
  stdin?: string;
  env?: Record<string, string>;
}

export interface ExecResult { exitCode: number; stdout: string; stderr: string }

export interface StopResult {
  /** True when QEMU exited with status 0 (guest poweroff, QMP quit) without needing a signal. */
  clean: boolean;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

export const MEMORY_MIB = { min: 256, max: 512, default: 256 } as const;
export const SMP = { min: 1, max: 64, default: 1 } as const;
const DEFAULT_EXEC_TIMEOUT_MS = 30_000;
const CONSOLE_TAIL_LINES = 30;

/**
 * Boot-time savings measured under TCG (each a lab guest can do without): no crypto self-tests
 * (cryptomgr.notests; the SP800-108 KDF's self-test runs regardless, 0.5-1 s, hence its
 * blacklist), no read-only remapping and W+X check of the kernel image (rodata=off, ~0.5 s).
 */
export const FAST_BOOT_ARGS = ['cryptomgr.notests', 'initcall_blacklist=crypto_kdf108_init', 'rodata=off'] as const;
/**
 * Under TCG only: no speculative-execution mitigations (emulated retpolines and barriers cost on
 * every indirect call). Under KVM the guest keeps its defaults, so that in-guest costs resemble
 * an ordinary guest's in the benchmarks.
 */
export const TCG_BOOT_ARGS = ['mitigations=off'] as const;

/** The kernel command line: serial console, quiet, reboot (so QEMU exits) on panic, addresses. */
export function kernelCommandLine(nics: NicConfig[], gateway?: string, extra: string[] = []): string {
  const ips = nics.map((n, i) => (n.ip ? `eth${i}:${n.ip}` : undefined)).filter(Boolean);
  return [
    'console=ttyS0', 'quiet', 'panic=-1', 'oops=panic', ...FAST_BOOT_ARGS,
    ...(ips.length ? [`xdplab.ip=${ips.join(',')}`] : []),
    ...(gateway ? [`xdplab.gw=${gateway}`] : []),
    ...extra,
  ].join(' ');
}

/** Single-quoted for sh. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** QEMU option values double their commas. */
const qemuEscape = (s: string) => s.replace(/,/g, ',,');

function which(cmd: string): string | undefined {
  const dirs = cmd.includes('/') ? [''] : (process.env.PATH ?? '/usr/bin:/bin').split(':');
  for (const d of dirs) {
    const p = d ? join(d, cmd) : cmd;
    try { accessSync(p, constants.X_OK); if (statSync(p).isFile()) return p; } catch { /* next */ }
  }
  return undefined;
}

function tail(text: string, lines = CONSOLE_TAIL_LINES): string {
  // eslint-disable-next-line no-control-regex
  const all = text.replace(/\r/g, '').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').split('\n');
  while (all.length && all[all.length - 1] === '') all.pop();
  return all.slice(-lines).join('\n');
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- the agent channel -------------------------------------------------------------------------

interface AgentReply { id: number; nic?: string; uptime?: string; pong?: boolean; kernel?: string; exitCode?: number; timedOut?: boolean; stdout?: string; stderr?: string; error?: string }

class AgentChannel {
  private socket: Socket | undefined;
  private connecting = false;
  private buf = '';
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: AgentReply) => void; reject: (e: Error) => void }>();
  private closed = false;
  private closeReason: (() => Promise<Error>) | undefined;
  pong: AgentReply | undefined;

  constructor(private readonly path: string) {}

  get connected(): boolean { return !!this.socket; }

  /** One attempt; false when QEMU has not created the socket yet. */
  tryConnect(): void {
    if (this.socket || this.connecting || this.closed || !existsSync(this.path)) return;
    this.connecting = true;
    const s = createConnection(this.path);
    s.once('connect', () => { this.connecting = false; this.socket = s; });
    s.on('error', () => { /* reported through close */ });
    s.on('close', () => {
      this.connecting = false;
      if (this.socket === s) {
        this.socket = undefined;
        // Requests in flight fail with the reason, once it is known (QEMU's exit status comes
        // a moment after its sockets close).
        const inFlight = [...this.pending];
        this.pending.clear();
        const reason = this.closeReason?.() ?? Promise.resolve(new LabError({ code: 'EAGENT', message: 'the connection to the guest agent closed (QEMU exited?)' }));
        void reason.then((err) => { for (const [, p] of inFlight) p.reject(err); });
      }
    });
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i).trim();
        this.buf = this.buf.slice(i + 1);
        if (!line.startsWith('{')) continue;
        let r: AgentReply;
        try { r = JSON.parse(line) as AgentReply; } catch { continue; }
        if (r.pong) this.pong ??= r;
        const p = this.pending.get(r.id);
        if (p) { this.pending.delete(r.id); p.resolve(r); }
      }
    });
  }

  /** Sends a ping (the reply sets `pong`); the guest drops it when the agent is not up yet. */
  ping(): void {
    if (!this.socket) return;
    const id = this.nextId++;
    this.socket.write(`ping ${id}\n`);
  }

  request(line: (id: number) => string, timeoutMs: number, what: string): Promise<AgentReply> {
    if (this.closed || !this.socket) return Promise.reject(new LabError({ code: 'EAGENT', message: `${what}: not connected to the guest agent` }));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new LabError({ code: 'EAGENT', message: `${what}: the guest agent did not answer within ${Math.round(timeoutMs / 1000)} s` }));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (r) => { clearTimeout(timer); resolve(r); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.socket!.write(line(id));
    });
  }

  /** Sends without waiting for an answer (poweroff never answers). */
  send(line: (id: number) => string): boolean {
    if (!this.socket) return false;
    this.socket.write(line(this.nextId++));
    return true;
  }

  setCloseReason(f: () => Promise<Error>): void { this.closeReason = f; }

  private failAll(err: Error): void {
    for (const [id, p] of [...this.pending]) { this.pending.delete(id); p.reject(err); }
  }

  close(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.failAll(err ?? new LabError({ code: 'EAGENT', message: 'the VM was stopped' }));
    this.socket?.destroy();
    this.socket = undefined;
  }
}

// ---- cleanup on exit ---------------------------------------------------------------------------

const live = new Set<Vm>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => { for (const vm of [...live]) vm.killNow(); });
}

// ---- the VM ------------------------------------------------------------------------------------

interface Prepared {
  name: string;
  binary: string;
  accel: AccelChoice;
  args: string[];
  wrapper: string[];
  dir: string;
  qmpSocketPath: string;
  agentSocketPath: string;
  consoleLogPath: string;
  readyTimeoutMs: number;
}

export class Vm {
  /** Milliseconds from spawning QEMU to ready (marker seen and agent answering). */
  bootMs = 0;
  /** When each half of readiness came, in ms from spawn. */
  readonly readiness: { markerMs?: number; agentMs?: number } = {};
  /** Guest interfaces that had no carrier 3 s after /init brought them up (a backend without a peer, a link set down). */
  linksWithoutCarrier: string[] = [];
  /** The guest's kernel release, as the agent reported it. */
  guestKernel = '';
  control: VmControl | undefined;

  private readonly child: ChildProcess;
  private readonly agent: AgentChannel;
  private stderr = '';
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exited: Promise<void>;
  private spawnError: Error | undefined;
  private cleaned = false;
  private stopping = false;
  private ready = false;
  private readonly spawnedAt: number;
  /** The console's text when the VM's files were removed (its log may have been among them). */
  private lastConsole: string | undefined;

  private constructor(private readonly p: Prepared, private readonly config: VmConfig) {
    const { lab, netns } = config;
    // Recorded first, so that a Lab removes the directory whatever happens next.
    if (lab) lab.trackFile(p.dir);
    // A Lab starts its processes with a parent-death signal of its own: no second wrapper then.
    const [cmd, ...rest] = [...(lab ? [] : p.wrapper), p.binary, ...p.args];
    const stdio: ['ignore', 'ignore', 'pipe'] = ['ignore', 'ignore', 'pipe'];
    this.spawnedAt = performance.now();
    if (lab) this.child = lab.spawn(netns, cmd!, rest, { stdio });
    else if (netns) this.child = spawn('ip', ['netns', 'exec', netns, cmd!, ...rest], { stdio });
    else this.child = spawn(cmd!, rest, { stdio });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve();
        // QEMU went away on its own after start (a poweroff inside the guest, a crash): its
        // sockets and temp dir go now, not at stop(). During start(), start() cleans up itself.
        if (this.ready && !this.stopping) setImmediate(() => this.cleanup());
      });
      this.child.once('error', (err) => { this.spawnError = err; this.exitInfo ??= { code: null, signal: null }; resolve(); });
    });
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => { this.stderr = (this.stderr + d).slice(-65536); });
    this.agent = new AgentChannel(p.agentSocketPath);
    this.agent.setCloseReason(async () => {
      if (!(await this.waitExit(3000))) return new LabError({ code: 'EAGENT', message: `${p.name}: the connection to the guest agent closed while QEMU still runs` });
      return this.exitedError('while a guest command ran');
    });
    live.add(this);
    installExitHook();
  }

  /** Starts QEMU and waits until the guest is ready; throws (leaving nothing behind) otherwise. */
  static async start(config: VmConfig): Promise<Vm> {
    const p = await prepare(config);
    const progress = config.onProgress ?? (() => {});
    progress(`starting ${p.name}: ${p.binary} (${p.accel.accel})`);
    // A log left from an earlier run must not show its readiness marker to this one.
    rmSync(p.consoleLogPath, { force: true });
    let vm: Vm;
    try {
      vm = new Vm(p, config);
    } catch (err) {
      rmSync(p.dir, { recursive: true, force: true });
      throw err;
    }
    try {
      await vm.waitReady();
      if (config.control) vm.control = await config.control(p.qmpSocketPath);
      vm.ready = true;
      if (!vm.running) throw vm.exitedError('right after the guest was ready');
    } catch (err) {
      await vm.kill();
      vm.cleanup();
      throw err;
    }
    progress(`${p.name} ready in ${vm.bootMs} ms`);
    // The guest reached userspace: its boot time feeds the plans' estimates (qemu/boot-times.ts).
    recordBoot(p.binary, p.accel.accel, vm.bootMs);
    return vm;
  }

  get name(): string { return this.p.name; }
  get accel(): AccelChoice { return this.p.accel; }
  get pid(): number | undefined { return this.child.pid; }
  get qmpSocketPath(): string { return this.p.qmpSocketPath; }
  get agentSocketPath(): string { return this.p.agentSocketPath; }
  get consoleLogPath(): string { return this.p.consoleLogPath; }
  get tempDir(): string { return this.p.dir; }
  /** The QEMU command line (binary first), as typed by hand, for reports. */
  get commandLine(): string[] { return [this.p.binary, ...this.p.args]; }
  /** What runs QEMU: ip netns exec and setpriv, when used. */
  get wrapper(): string[] { return [...(this.config.netns ? ['ip', 'netns', 'exec', this.config.netns] : []), ...this.p.wrapper]; }
  get running(): boolean { return !this.exitInfo; }

  consoleText(): string {
    if (this.lastConsole !== undefined) return this.lastConsole;
    try { return readFileSync(this.p.consoleLogPath, 'utf8'); } catch { return ''; }
  }

  consoleTail(lines = CONSOLE_TAIL_LINES): string {
    return tail(this.consoleText(), lines);
  }

  private exitedError(when: string): LabError {
    const how = this.spawnError
      ? `could not start ${this.p.binary}: ${this.spawnError.message}`
      : `QEMU exited ${when} (${this.exitInfo?.signal ? `signal ${this.exitInfo.signal}` : `exit code ${this.exitInfo?.code}`})`;
    const err = this.stderr.trim();
    const con = this.consoleTail();
    return new LabError({
      code: 'EQEMUEXIT',
      message: `${this.p.name}: ${how}${err ? `; its stderr:\n${err}` : '; it printed nothing on stderr'}${con ? `\nlast console lines:\n${con}` : ''}`,
      hint: `QEMU's command line: ${[...this.wrapper, this.p.binary, ...this.p.args].join(' ')}`,
    });
  }

  private async waitReady(): Promise<void> {
    const t0 = this.spawnedAt;
    const deadline = t0 + this.p.readyTimeoutMs;
    let lastPing = 0;
    for (;;) {
      if (this.exitInfo) throw this.exitedError('before the guest was ready');
      const now = performance.now();
      if (this.readiness.markerMs === undefined) {
        const line = this.consoleText().split('\n').find((l) => l.includes(READY_MARKER));
        if (line) {
          this.readiness.markerMs = Math.round(now - t0);
          this.linksWithoutCarrier = (/nocarrier=(\S*)/.exec(line)?.[1] ?? '').split(',').filter(Boolean);
        }
      }
      if (this.agent.pong && this.readiness.agentMs === undefined) {
        this.readiness.agentMs = Math.round(now - t0);
        this.guestKernel = this.agent.pong.kernel ?? '';
      }
      if (this.readiness.markerMs !== undefined && this.readiness.agentMs !== undefined) {
        this.bootMs = Math.round(now - t0);
        return;
      }
      if (now > deadline) {
        const seen = `readiness marker ${this.readiness.markerMs !== undefined ? 'seen' : 'not seen'}, agent ${this.readiness.agentMs !== undefined ? 'answered' : 'never answered'}`;
        const con = this.consoleTail();
        throw new LabError({
          code: 'ETIMEDOUT',
          message: `${this.p.name}: the guest was not ready within ${(this.p.readyTimeoutMs / 1000).toFixed(1)} s (${seen}); QEMU was killed. ${con ? `Last console lines:\n${con}` : 'The console is empty (did the kernel start? is console=ttyS0 there?)'}`,
          hint: `the console log is ${this.config.consoleLogPath ?? 'removed with the VM; pass consoleLogPath to keep it'}`,
        });
      }
      this.agent.tryConnect();
      if (this.agent.connected && now - lastPing >= 200) { this.agent.ping(); lastPing = now; }
      await sleep(25);
    }
  }

  /** Runs `cmd args` in the guest through the agent; rejects on timeout or when QEMU exits. */
  /**
   * The guest's /proc/net/dev line of `ifname` and its /proc/uptime line, read by the agent
   * without forking (cheap enough for live samples while the guest's vCPU is saturated).
   */
  async readNic(ifname: string, timeoutMs = 20_000): Promise<{ nic: string; uptime: string }> {
    if (!this.running || this.stopping) throw new LabError({ code: 'ESTOPPED', message: `${this.p.name}: cannot read ${ifname}'s counters: the VM is not running` });
    if (!/^[A-Za-z0-9._-]{1,15}$/.test(ifname)) throw invalidOption('ifname', `'${ifname}' is not an interface name (1-15 of A-Z a-z 0-9 . _ -)`);
    const what = `${this.p.name}: the counters of ${ifname}`;
    const r = await this.agent.request((id) => `nic ${id} ${ifname}\n`, timeoutMs, what);
    if (r.error) throw new LabError({ code: 'EAGENT', message: `${what}: the agent answered: ${r.error}` });
    return { nic: r.nic ?? '', uptime: r.uptime ?? '' };
  }

  async exec(cmd: string, args: string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
    if (!this.running || this.stopping) throw new LabError({ code: 'ESTOPPED', message: `${this.p.name}: cannot run '${cmd}': the VM is not running` });
    const timeoutMs = opts.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    if (!(timeoutMs > 0)) throw invalidOption('timeoutMs', `expected a positive number of milliseconds, got ${timeoutMs}`);
    const what = `${this.p.name}: ${[cmd, ...args].join(' ')}`;
    const env = Object.entries(opts.env ?? {}).map(([k, v]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw invalidOption('env', `'${k}' is not a variable name`);
      return `export ${k}=${shellQuote(v)}\n`;
    }).join('');
    const script = Buffer.from(`${env}exec ${[cmd, ...args].map(shellQuote).join(' ')}\n`).toString('base64');
    const stdin = opts.stdin ? ` ${Buffer.from(opts.stdin).toString('base64')}` : '';
    const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
    // The guest enforces the timeout; the host waits longer, for a guest that has stopped answering.
    const r = await this.agent.request((id) => `exec ${id} ${seconds} ${script}${stdin}\n`, timeoutMs + 15_000, what);
    if (r.error) throw new LabError({ code: 'EAGENT', message: `${what}: the agent answered: ${r.error}` });
    const stdout = Buffer.from(r.stdout ?? '', 'base64').toString('utf8');
    const stderr = Buffer.from(r.stderr ?? '', 'base64').toString('utf8');
    if (r.timedOut) {
      throw new LabError({
        code: 'ETIMEDOUT',
        message: `${what}: did not finish within ${seconds} s in the guest and was killed${stderr.trim() ? `; stderr: ${tail(stderr, 5)}` : ''}${stdout.trim() ? `; stdout: ${tail(stdout, 5)}` : ''}`,
        field: 'timeoutMs',
      });
    }
    return { exitCode: r.exitCode ?? -1, stdout, stderr };
  }

  /** Like exec, but a non-zero exit code is an error (with the command's stderr). */
  async run(cmd: string, args: string[] = [], opts: ExecOptions = {}): Promise<string> {
    const r = await this.exec(cmd, args, opts);
    if (r.exitCode !== 0) throw new LabError({ code: 'EGUESTCOMMAND', message: `${this.p.name}: ${[cmd, ...args].join(' ')} exited with ${r.exitCode}: ${tail(r.stderr || r.stdout, 5)}` });
    return r.stdout;
  }

  /**
   * Clean poweroff: the agent's `poweroff -f`; QMP `quit` through `control` when the agent is not
   * connected or half of timeoutMs went by. (Not system_powerdown: the guest runs no ACPI
   * daemon to act on the power button.) Then SIGTERM, and SIGKILL 2 s later. Always removes the
   * VM's files.
   */
  async stop(opts: { timeoutMs?: number } = {}): Promise<StopResult> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    this.stopping = true;
    let signalled = false;
    try {
      if (this.running) {
        const asked = this.agent.send((id) => `exec ${id} 5 ${Buffer.from('exec poweroff -f\n').toString('base64')}\n`);
        // QEMU answers `quit` and exits; a closed socket mid-command is the expected outcome.
        const quit = () => { this.control?.execute('quit').catch(() => {}); };
        if (!asked) quit();
        let exited = await this.waitExit(asked && this.control ? timeoutMs / 2 : timeoutMs);
        if (!exited && asked && this.control) { quit(); exited = await this.waitExit(timeoutMs / 2); }
        if (!exited) {
          signalled = true;
          this.signal('SIGTERM');
          if (!(await this.waitExit(2000))) { this.signal('SIGKILL'); await this.waitExit(5000); }
        }
      }
    } finally {
      this.cleanup();
    }
    return { clean: !signalled && !this.exitInfo?.signal && this.exitInfo?.code === 0, exitCode: this.exitInfo?.code ?? null, signal: this.exitInfo?.signal ?? null };
  }

  private signal(sig: NodeJS.Signals): void {
    if (this.running && this.child.pid) { try { process.kill(this.child.pid, sig); } catch { /* gone */ } }
  }

  private async waitExit(ms: number): Promise<boolean> {
    if (!this.running) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((r) => { timer = setTimeout(() => r(false), ms); });
    const done = await Promise.race([this.exited.then(() => true as const), timeout]);
    clearTimeout(timer);
    return done;
  }

  private async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.waitExit(5000);
  }

  /** Synchronous last resort (process exit): kill QEMU, remove the files. */
  killNow(): void {
    this.signal('SIGKILL');
    this.cleanup();
  }

  private cleanup(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    live.delete(this);
    const why = this.exitInfo && !this.stopping ? this.exitedError('while the VM ran') : undefined;
    this.lastConsole = this.consoleText();
    this.agent.close(why);
    try { Promise.resolve(this.control?.close()).catch(() => {}); } catch { /* already closed */ }
    rmSync(this.p.dir, { recursive: true, force: true });
  }
}

/** qboot.rom for this binary: its build tree, its install prefix, then the system's. */
export function findQboot(binary: string): string | undefined {
  let real = binary;
  try { real = realpathSync(binary); } catch { /* keep */ }
  const d = dirname(real);
  return [join(d, 'pc-bios', 'qboot.rom'), join(d, '..', 'share', 'qemu', 'qboot.rom'), '/usr/share/qemu/qboot.rom'].find((p) => existsSync(p));
}

/** Validates the config, chooses the accelerator, builds the command line (no side effects but a temp dir). */
async function prepare(config: VmConfig): Promise<Prepared> {
  const name = config.name ?? `vm-${randomBytes(2).toString('hex')}`;
  if (!/^[A-Za-z0-9_.-]{1,40}$/.test(name)) throw invalidOption('name', `'${name}' must be 1-40 letters, digits, '.', '_' or '-'`);
  const asked = config.qemu ?? process.env.XDPLAB_QEMU ?? 'qemu-system-x86_64';
  const binary = which(asked);
  if (!binary) throw new LabError({ code: 'ENOTOOL', field: 'qemu', message: `QEMU binary '${asked}' not found or not executable`, hint: 'npm run setup installs qemu-system-x86 from bookworm-backports; or set XDPLAB_QEMU / --qemu PATH' });
  const memoryMiB = config.memoryMiB ?? MEMORY_MIB.default;
  if (!Number.isInteger(memoryMiB) || memoryMiB < MEMORY_MIB.min || memoryMiB > MEMORY_MIB.max) throw invalidOption('memoryMiB', `expected an integer from ${MEMORY_MIB.min} to ${MEMORY_MIB.max} (MiB), got ${memoryMiB}`);
  const smp = config.smp ?? SMP.default;
  if (!Number.isInteger(smp) || smp < SMP.min || smp > SMP.max) throw invalidOption('smp', `expected an integer from ${SMP.min} to ${SMP.max}, got ${smp}`);
  for (const f of ['kernelPath', 'initrdPath'] as const) {
    if (!existsSync(config.image[f])) throw invalidOption(`image.${f}`, `${config.image[f]} does not exist`, 'build the image with ensureGuestImage() (xdplab vm image)');
  }
  const nics = config.nics ?? [];
  const macBase = `52:54:00:${randomBytes(2).toString('hex').replace(/(..)(..)/, '$1:$2')}`;
  const nicArgs: string[] = [];
  nics.forEach((n, i) => {
    const field = `nics[${i}]`;
    const id = /(?:^|,)id=([^,]+)/.exec(n.netdev)?.[1];
    if (!id) throw invalidOption(`${field}.netdev`, `'${n.netdev}' has no id= (QEMU's -netdev needs one to attach the NIC)`);
    const mac = n.mac ?? `${macBase}:${i.toString(16).padStart(2, '0')}`;
    if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(mac)) throw invalidOption(`${field}.mac`, `'${mac}' is not a MAC address like 52:54:00:12:34:56`);
    if (parseInt(mac.slice(0, 2), 16) & 1) throw invalidOption(`${field}.mac`, `'${mac}' is a multicast address; the first octet must be even`);
    if (n.ip !== undefined && !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(n.ip)) throw invalidOption(`${field}.ip`, `'${n.ip}' is not an IPv4 address with a prefix length, like 192.0.2.15/24`);
    const model = n.model ?? 'virtio-net-pci';
    if (!/^[a-z0-9-]+$/i.test(model)) throw invalidOption(`${field}.model`, `'${model}' is not a QEMU device name`);
    const props = n.deviceProps ?? '';
    const rom = /(^|,)romfile=/.test(props) ? '' : ',romfile=';
    nicArgs.push('-netdev', n.netdev, '-device', `${model},netdev=${id},mac=${mac}${rom}${props ? `,${props}` : ''}`);
  });
  if (config.gateway !== undefined && !/^\d{1,3}(\.\d{1,3}){3}$/.test(config.gateway)) throw invalidOption('gateway', `'${config.gateway}' is not an IPv4 address`);
  for (const w of config.kernelArgs ?? []) if (/\s/.test(w) || !w) throw invalidOption('kernelArgs', `'${w}' must be one non-empty word without spaces`);

  const accel: AccelChoice = config.accel === 'kvm' || config.accel === 'tcg'
    ? { accel: config.accel, reason: 'asked for' }
    : await accelFor(binary);
  const firmware = config.firmware ?? 'seabios';
  if (!['qboot', 'seabios'].includes(firmware)) throw invalidOption('firmware', `expected seabios or qboot, got '${firmware}'`);
  const qboot = firmware === 'qboot' ? findQboot(binary) : undefined;
  if (firmware === 'qboot' && !qboot) throw invalidOption('firmware', `no qboot.rom found for ${binary} (looked next to it and in /usr/share/qemu)`, 'use firmware seabios');
  const readyTimeoutMs = config.readyTimeoutMs ?? (accel.accel === 'kvm' ? 30_000 : 60_000);
  if (!(readyTimeoutMs > 0)) throw invalidOption('readyTimeoutMs', `expected a positive number, got ${readyTimeoutMs}`);

  // Unix socket paths must fit in 108 bytes: fall back to /tmp when TMPDIR is deep.
  const base = tmpdir().length < 60 ? tmpdir() : '/tmp';
  const dir = mkdtempSync(join(base, `xdplab-${name}-`));
  const qmpSocketPath = join(dir, 'qmp.sock');
  const agentSocketPath = join(dir, 'agent.sock');
  const consoleLogPath = config.consoleLogPath ?? join(dir, 'console.log');

  const args = [
    ...accelArgs(accel.accel),
    '-name', name,
    '-m', String(memoryMiB),
    '-smp', String(smp),
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    ...(qboot ? ['-bios', qboot] : []),
    '-kernel', config.image.kernelPath,
    '-initrd', config.image.initrdPath,
    '-append', kernelCommandLine(nics, config.gateway, [...(accel.accel === 'tcg' ? TCG_BOOT_ARGS : []), ...(config.kernelArgs ?? [])]),
    '-qmp', `unix:${qemuEscape(qmpSocketPath)},server=on,wait=off`,
    '-chardev', `file,id=xlcon,path=${qemuEscape(consoleLogPath)}`,
    '-serial', 'chardev:xlcon',
    '-device', 'virtio-serial-pci,id=xlvser',
    '-chardev', `socket,id=xlagent,path=${qemuEscape(agentSocketPath)},server=on,wait=off`,
    '-device', `virtserialport,bus=xlvser.0,chardev=xlagent,name=${AGENT_PORT_NAME}`,
    ...nicArgs,
    // A QEMU outside the system directories needs its own firmware and option ROMs.
    ...dataDirArgs(dataDirsFor(resolveQemuBinary(binary))),
    ...(config.extraArgs ?? []),
  ];
  const wrapper = which('setpriv') ? ['setpriv', '--pdeathsig', 'KILL'] : [];
  return { name, binary, accel, args, wrapper, dir, qmpSocketPath, agentSocketPath, consoleLogPath, readyTimeoutMs };
}

/** Starts a VM and waits until it is ready (Vm.start). */
export function startVm(config: VmConfig): Promise<Vm> {
  return Vm.start(config);
}
