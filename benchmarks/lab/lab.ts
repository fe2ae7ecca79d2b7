// A Lab owns what it creates on the machine (namespaces, veth pairs, bridges, processes, XDP
// programs, qdiscs, files) and removes it in reverse order on close, on error and on
// SIGINT/SIGTERM. It records what it owns in a state file so that `xdplab doctor --cleanup` can
// remove what a crashed run left. Every name carries the `xl-` prefix and the lab's id, so
// parallel labs never collide.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabError } from '../contracts/errors.js';
import { processStartTime } from './proc.js';
import { removeResources, type LabState, type Resource } from './resources.js';
import { labStateDir } from './state.js';

/** setpriv --pdeathsig: children get SIGTERM when the engine dies, even by SIGKILL. */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

const open = new Set<Lab>();
let handlersInstalled = false;

function installSignalHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  let received = 0;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // Prepended, so it runs while every other handler is still registered (some remove
    // themselves when called): then the count says whether anyone else handles the signal.
    process.prependListener(sig, () => {
      // When the program stops gracefully on its own (a run that finishes its report), the
      // first signal is its to handle; a second one, or none listening, removes all and exits.
      if (++received === 1 && process.listenerCount(sig) > 1) return;
      for (const lab of [...open]) lab.close();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
  process.on('exit', () => { for (const lab of [...open]) lab.close(); });
}

export function run(cmd: string, args: string[], what: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; code?: string };
    if (e.code === 'ENOENT') throw new LabError({ code: 'ENOTOOL', message: `${what}: '${cmd}' is not installed`, hint: 'run npm run setup' });
    throw new LabError({ code: 'ECOMMAND', message: `${what}: ${cmd} ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || String(err)}` });
  }
}

export class Lab {
  readonly id: string;
  private readonly resources: Resource[] = [];
  private readonly stateFile: string;
  private closed = false;
  private reportDir: string | undefined;

  constructor(readonly label = 'lab') {
    this.id = randomBytes(3).toString('hex');
    mkdirSync(labStateDir(), { recursive: true });
    this.stateFile = join(labStateDir(), `${this.id}.json`);
    installSignalHandlers();
    open.add(this);
    this.save();
  }

  /** A lab-scoped name: xl-<id>-<suffix>, at most 15 characters for interface names. */
  name(suffix: string): string {
    const n = `xl-${this.id}-${suffix}`;
    if (n.length > 15) throw new LabError({ code: 'ENAME', message: `name '${n}' is longer than an interface name may be (15)` });
    return n;
  }

  private save(): void {
    const state: LabState = { id: this.id, pid: process.pid, createdAt: new Date().toISOString(), resources: this.resources, ...(this.reportDir ? { reportDir: this.reportDir } : {}) };
    writeFileSync(this.stateFile, JSON.stringify(state, null, 1));
  }

  private own(r: Resource): void {
    this.resources.push(r);
    this.save();
  }

  /** Records the resource before creating it, so no sweep ever sees it unowned. */
  private create(r: Resource, make: () => void): void {
    this.own(r);
    try {
      make();
    } catch (err) {
      this.resources.splice(this.resources.indexOf(r), 1);
      this.save();
      throw err;
    }
  }

  addNetns(suffix: string): string {
    const name = this.name(suffix);
    this.create({ kind: 'netns', name }, () => run('ip', ['netns', 'add', name], `creating network namespace ${name}`));
    this.ip(name, ['link', 'set', 'lo', 'up']);
    return name;
  }

  /** Names the report directory of the run, for the sweep after a crash. */
  setReportDir(dir: string): void {
    this.reportDir = dir;
    this.save();
  }

  /**
   * Records, before anything attaches there, that xdplab or a tool it runs (a worker, testpmd's
   * PMD, the drop program) will attach an XDP program to this interface: a killed run's sweep
   * then detaches xdplab's programs from it, and only those.
   */
  recordXdp(netns: string | undefined, ifname: string): void {
    if (this.resources.some((r) => r.kind === 'xdp' && r.ifname === ifname && r.netns === netns)) return;
    this.own({ kind: 'xdp', ifname, ...(netns ? { netns } : {}) });
  }

  /** Removes a namespace this lab created (and with it its interfaces) before the lab closes. */
  removeNetns(name: string): void {
    const i = this.resources.findIndex((r) => r.kind === 'netns' && r.name === name);
    if (i < 0) throw new LabError({ code: 'ENOTOWNED', message: `namespace ${name} is not this lab's` });
    removeResources([this.resources[i]!]);
    this.resources.splice(i, 1);
    this.save();
  }

  /** Removes a link this lab created (a bridge, a veth pair) before the lab closes. */
  removeLink(netns: string | undefined, name: string): void {
    const i = this.resources.findIndex((r) => r.kind === 'link' && r.name === name && r.netns === netns);
    if (i < 0) throw new LabError({ code: 'ENOTOWNED', message: `link ${name} is not this lab's` });
    removeResources([this.resources[i]!]);
    this.resources.splice(i, 1);
    this.save();
  }

  /**
   * A Linux bridge over `ports` (all in `netns`), up: the kernel forwards between them. Returns
   * its name and the commands that made it (for a report's command lines).
   */
  addBridge(netns: string | undefined, suffix: string, ports: string[]): { name: string; commands: string[] } {
    const name = this.name(suffix);
    const steps = [['link', 'add', name, 'type', 'bridge'], ...ports.map((p) => ['link', 'set', p, 'master', name]), ['link', 'set', name, 'up']];
    this.create({ kind: 'link', name, ...(netns ? { netns } : {}) }, () => run('ip', netns ? ['-n', netns, ...steps[0]!] : steps[0]!, `creating bridge ${name}`));
    for (const s of steps.slice(1)) this.ip(netns, s);
    return { name, commands: steps.map((s) => `ip ${netns ? `-n ${netns} ` : ''}${s.join(' ')}`) };
  }

  /** A netem root qdisc on an interface (`args`: delay 2ms limit 100000, ...). Returns the command. */
  addNetem(netns: string | undefined, ifname: string, args: string[]): string {
    const tc = [...(netns ? ['-n', netns] : []), 'qdisc', 'add', 'dev', ifname, 'root', 'netem', ...args];
    this.create({ kind: 'qdisc', ifname, qdisc: 'netem', ...(netns ? { netns } : {}) }, () => run('tc', tc, `adding netem on ${ifname}`));
    return `tc ${tc.join(' ')}`;
  }

  /** Removes a qdisc this lab added, before the lab closes. */
  removeQdisc(netns: string | undefined, ifname: string): void {
    const i = this.resources.findIndex((r) => r.kind === 'qdisc' && r.ifname === ifname && r.netns === netns);
    if (i < 0) throw new LabError({ code: 'ENOTOWNED', message: `no qdisc of this lab's on ${ifname}` });
    removeResources([this.resources[i]!]);
    this.resources.splice(i, 1);
    this.save();
  }

  /** ip in a namespace (or the current one). */
  ip(netns: string | undefined, args: string[]): string {
    return run('ip', netns ? ['-n', netns, ...args] : args, `ip ${args.join(' ')}`);
  }

  /** Runs a command inside a namespace and returns its stdout. */
  exec(netns: string | undefined, cmd: string, args: string[]): string {
    return netns ? run('ip', ['netns', 'exec', netns, cmd, ...args], `${cmd} in ${netns}`) : run(cmd, args, cmd);
  }

  /** A veth pair with one end in each namespace, both up. Returns the two interface names. */
  addVethPair(a: { netns?: string; suffix: string }, b: { netns?: string; suffix: string }): [string, string] {
    const an = this.name(a.suffix);
    const bn = this.name(b.suffix);
    const args = ['link', 'add', an, ...(a.netns ? ['netns', a.netns] : []), 'type', 'veth', 'peer', 'name', bn, ...(b.netns ? ['netns', b.netns] : [])];
    this.create({ kind: 'link', name: an, ...(a.netns ? { netns: a.netns } : {}) }, () => run('ip', args, `creating veth pair ${an}/${bn}`));
    this.ip(a.netns, ['link', 'set', an, 'up']);
    this.ip(b.netns, ['link', 'set', bn, 'up']);
    return [an, bn];
  }

  /** Sets rx/tx channel counts (veth allows up to its queue count, 2 by default here). */
  setChannels(netns: string | undefined, ifname: string, n: number): void {
    this.exec(netns, 'ethtool', ['-L', ifname, 'rx', String(n), 'tx', String(n)]);
  }

  /** Disables checksum and segmentation offloads, which AF_XDP cannot honour. */
  disableOffloads(netns: string | undefined, ifname: string): void {
    this.exec(netns, 'ethtool', ['-K', ifname, 'tx', 'off', 'rx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off']);
  }

  addAddress(netns: string | undefined, ifname: string, cidr: string): void {
    this.ip(netns, ['addr', 'add', cidr, 'dev', ifname]);
  }

  /**
   * Starts a process (in a namespace when given) that the lab kills on close. It gets SIGTERM
   * when this process dies, even by SIGKILL (setpriv --pdeathsig; it execs, so the pid stays).
   */
  spawn(netns: string | undefined, cmd: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    const [c0, a0] = netns ? ['ip', ['netns', 'exec', netns, cmd, ...args]] : [cmd, args];
    const [c, a] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'TERM', '--', c0, ...a0]] : [c0, a0];
    const child = spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    // A missing binary surfaces through the caller's exit handling, never as an unhandled error.
    child.on('error', () => { /* reported by 'close' with a null code */ });
    if (child.pid) {
      const startTime = processStartTime(child.pid);
      const r: Resource = { kind: 'process', pid: child.pid, command: [cmd, ...args].join(' ').slice(0, 200), ...(startTime ? { startTime } : {}) };
      this.own(r);
      child.once('exit', () => {
        const i = this.resources.indexOf(r);
        if (i >= 0 && !this.closed) { this.resources.splice(i, 1); this.save(); }
      });
    }
    return child;
  }

  trackFile(path: string): string {
    this.own({ kind: 'file', path });
    return path;
  }

  /** Removes everything in reverse order; never throws; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    open.delete(this);
    removeResources([...this.resources].reverse());
    rmSync(this.stateFile, { force: true });
  }
}
