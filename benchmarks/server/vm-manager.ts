// VMs for the faces: each a one-VM group (qemu/vm-group.ts) of a backend, wired by the same
// topology code as `xdplab vm bench`'s rows (its lone variant: no peer VM), in a Lab of its own;
// the serial console kept on disk until the manager closes, and the VM's QMP monitor: commands
// (minus those that reach outside the VM: see QMP_REFUSED), command names for completion, and
// every QMP event forwarded.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import { LabError } from '../contracts/errors.js';
import { Lab } from '../lab/lab.js';
import type { CommandResult } from '../api/lab-api.js';
import { checkDiscovered, discoverQemuBinaries } from '../qemu/binaries.js';
import { qemuCapabilities, resolveQemuBinary } from '../qemu/capabilities.js';
import { VM_BACKENDS, VM_BACKEND_NAMES, backendInfo, loneBackend } from '../qemu/backends.js';
import { VM_TESTS } from '../contracts/vocabulary.js';
import { planVmRows } from '../vmbench/plan.js';
import { capabilitiesFor, hostFacts } from '../vmbench/prerequisites.js';
import { ensureGuestImage } from '../qemu/guest-image.js';
import type { QmpClient, QmpEvent } from '../qemu/qmp.js';
import { consoleTail, VmGroup, type GroupVm } from '../qemu/vm-group.js';
import type { VmBackend, VmEvents, VmInfo, VmManagerApi, VmNic } from './vm-manager-api.js';

export { QMP_REFUSED, qmpRefusal } from '../qemu/qmp-refusal.js';
import { QMP_REFUSED, qmpRefusal } from '../qemu/qmp-refusal.js';

const MAX_RUNNING = 4;
const MAX_REMEMBERED = 20;

interface Entry {
  vmId: string;
  backend: VmBackend;
  nic: VmNic;
  state: VmEvents['vmState']['state'];
  bootMs?: number;
  error?: string;
  consoleLogPath: string;
  group?: VmGroup;
  commands?: string[];
  starting?: Promise<void>;
  stopping?: Promise<boolean>;
}

export interface VmManagerOptions {
  /** Default $XDPLAB_QEMU, else qemu-system-x86_64. */
  qemu?: string;
  /** For tests: override the guest image (default ensureGuestImage(), built on first use). */
  image?: () => Promise<{ kernelPath: string; initrdPath: string }>;
  /** Default 256 MiB. */
  memoryMiB?: number;
}

function notFound(vmId: string, known: string[]): LabError {
  return new LabError({ code: 'ENOVM', field: 'vmId', message: `vmId: no VM '${vmId}'${known.length ? `; VMs: ${known.join(', ')}` : ''}`, hint: 'listVms lists the VMs this lab started' });
}

export class VmManager implements VmManagerApi {
  private readonly entries = new Map<string, Entry>();
  private readonly emitter = new EventEmitter();
  private readonly dir: string;
  private closed = false;

  /** The QEMU the next VMs use (undefined: $XDPLAB_QEMU, else qemu-system-x86_64 on PATH). */
  private qemu: string | undefined;

  constructor(private readonly opts: VmManagerOptions = {}) {
    this.qemu = opts.qemu;
    this.dir = mkdtempSync(join(tmpdir().length < 60 ? tmpdir() : '/tmp', 'xdplab-vms-'));
    this.emitter.setMaxListeners(0);
  }

  on<E extends keyof VmEvents>(event: E, listener: (payload: VmEvents[E]) => void): () => void {
    this.emitter.on(event, listener as (p: unknown) => void);
    return () => { this.emitter.off(event, listener as (p: unknown) => void); };
  }

  private emit<E extends keyof VmEvents>(event: E, payload: VmEvents[E]): void {
    this.emitter.emit(event, payload);
  }

  private log(vmId: string, level: VmEvents['log']['level'], message: string): void {
    this.emit('log', { level, source: `vm ${vmId}`, message, time: new Date().toISOString() });
  }

  private setState(e: Entry, state: VmEvents['vmState']['state'], extra: { bootMs?: number; error?: string } = {}): void {
    e.state = state;
    if (extra.bootMs !== undefined) e.bootMs = extra.bootMs;
    if (extra.error !== undefined) e.error = extra.error;
    this.emit('vmState', { vmId: e.vmId, state, ...extra });
  }

  private entry(vmId: string): Entry {
    const e = this.entries.get(vmId);
    if (!e) throw notFound(vmId, [...this.entries.keys()]);
    return e;
  }

  private running(vmId: string): { e: Entry; vm: GroupVm } {
    const e = this.entry(vmId);
    const vm = e.group?.vms[0];
    if (e.state !== 'running' || !vm || vm.qmp.closed) {
      throw new LabError({ code: 'EVMSTATE', field: 'vmId', message: `vmId: VM '${vmId}' is ${e.state}, not running${e.error ? `: ${e.error}` : ''}`, hint: e.state === 'starting' ? 'wait for its vmState event (running)' : 'start a VM with startVm' });
    }
    return { e, vm };
  }

  list(): VmInfo[] {
    return [...this.entries.values()].map((e) => ({ vmId: e.vmId, state: e.state, backend: e.backend, ...(e.bootMs !== undefined ? { bootMs: e.bootMs } : {}) }));
  }

  async start(options: { backend: VmBackend; nic: VmNic }): Promise<{ vmId: string }> {
    if (this.closed) throw new LabError({ code: 'ECLOSED', message: 'the VM manager is shutting down' });
    const live = [...this.entries.values()].filter((e) => e.state === 'starting' || e.state === 'running').length;
    if (live >= MAX_RUNNING) throw new LabError({ code: 'EBUSY', message: `${live} VMs are already running; the lab runs at most ${MAX_RUNNING} at once`, hint: 'stop one with stopVm' });
    const netdev = backendInfo(loneBackend(options.backend)).netdev;
    if ((netdev === 'tap' || netdev === 'af-xdp') && process.getuid?.() !== 0) {
      throw new LabError({ code: 'EPERM', field: 'backend', message: `backend: ${options.backend} creates network interfaces and needs root (or CAP_NET_ADMIN)`, hint: 'use backend user, stream, dgram, socket or hubport, or run xdplab as root' });
    }
    const vmId = `vm-${randomBytes(3).toString('hex')}`;
    const e: Entry = { vmId, backend: options.backend, nic: options.nic, state: 'starting', consoleLogPath: join(this.dir, `${vmId}.console.log`) };
    this.entries.set(vmId, e);
    this.forgetOld();
    this.setState(e, 'starting');
    e.starting = this.boot(e).catch((err: unknown) => {
      if (e.stopping) return; // stop() reports the end
      const message = err instanceof LabError && err.hint ? `${err.message} (${err.hint})` : (err as Error).message;
      this.setState(e, 'failed', { error: message });
      this.log(vmId, 'error', `failed to start: ${message}`);
    });
    return { vmId };
  }

  private forgetOld(): void {
    const done = [...this.entries.values()].filter((e) => e.state === 'stopped' || e.state === 'failed');
    for (const e of done.slice(0, Math.max(0, this.entries.size - MAX_REMEMBERED))) {
      this.entries.delete(e.vmId);
      rmSync(e.consoleLogPath, { force: true });
    }
  }

  private async boot(e: Entry): Promise<void> {
    const qemu = this.qemu;
    const caps = await qemuCapabilities(qemu ? { qemu, kvm: false } : { kvm: false });
    const backend = loneBackend(e.backend);
    const avail = caps.drivers[backendInfo(backend).netdev];
    if (!avail.available) {
      throw new LabError({ code: 'EUNSUPPORTED', field: 'backend', message: `backend: ${caps.binary.realPath} (QEMU ${caps.version}) cannot use ${e.backend}: ${avail.reason ?? 'not built in'}`, hint: 'choose another backend, or another QEMU (one built with it) on this page' });
    }
    this.log(e.vmId, 'info', 'preparing the guest image (built once, then cached)');
    const image = await (this.opts.image ?? (() => ensureGuestImage({ onProgress: (m) => this.log(e.vmId, 'info', m) })))();
    if (this.closed || e.stopping) throw new LabError({ code: 'ESTOPPED', message: 'stopped before it booted' });
    const { group } = await VmGroup.forBackend(backend, {
      lab: new Lab(`vm ${e.vmId}`), ownsLab: true, lone: true, image, nicModel: e.nic, namePrefix: `xdplab-${e.vmId}`, serverPort: 5201,
      qemu, memoryMiB: this.opts.memoryMiB, consoleLogPath: () => e.consoleLogPath,
      onQmp: (_spec, qmp) => this.watchQmp(e, qmp),
      progress: (m) => this.log(e.vmId, 'info', m),
    });
    e.group = group;
    const [vm] = await group.start();
    if (e.stopping || this.closed || !vm) return; // stop() waits for us and powers it off
    this.setState(e, 'running', { bootMs: vm.vm.bootMs });
  }

  private watchQmp(e: Entry, qmp: QmpClient): void {
    qmp.on('event', (ev: QmpEvent) => {
      this.emit('qmpEvent', { vmId: e.vmId, event: ev.event, data: ev.data ?? {}, timestamp: ev.timestamp.seconds * 1000 + Math.round(ev.timestamp.microseconds / 1000) });
    });
    qmp.once('close', () => { void this.onQmpClosed(e); });
  }

  /** QEMU went away by itself (quit over QMP, the guest powered off, a crash). */
  private async onQmpClosed(e: Entry): Promise<void> {
    if (e.stopping || e.state !== 'running') return;
    this.setState(e, 'stopping');
    const [r] = await (e.group?.stop(2000) ?? Promise.resolve([]));
    const clean = !r || r.exitCode === 0;
    this.setState(e, clean ? 'stopped' : 'failed', clean ? {} : { error: `QEMU exited (${r.signal ? `signal ${r.signal}` : `exit code ${r.exitCode}`})` });
  }

  stop(vmId: string): Promise<boolean> {
    const e = this.entry(vmId);
    if (e.stopping) return e.stopping;
    if (e.state !== 'starting' && e.state !== 'running') return Promise.resolve(false);
    e.stopping = (async () => {
      this.setState(e, 'stopping');
      await e.starting;
      await e.group?.stop(5000);
      this.setState(e, 'stopped');
      return true;
    })();
    return e.stopping;
  }

  console(vmId: string, tailBytes: number): string {
    return consoleTail(this.entry(vmId).consoleLogPath, tailBytes);
  }

  async qmpExecute(vmId: string, command: string, args?: Record<string, unknown>): Promise<unknown> {
    const { vm } = this.running(vmId);
    const refused = qmpRefusal(command, args);
    if (refused) throw new LabError({ code: 'EREFUSED', field: 'command', message: `command: ${refused}`, hint: 'run it with xdplab qmp --socket PATH from a shell if you mean it' });
    return vm.qmp.execute(command, args);
  }

  /**
   * Every backend for the Runs page: the tests it can run with the selected QEMU on this machine,
   * or why not (with what to install): the same planning VM rows get. bootMs: the median boot
   * of the VMs this manager started, once it has started one.
   */
  async vmBackends(): Promise<CommandResult<'vmBackends'>> {
    const binary = resolveQemuBinary(this.qemu);
    const caps = await capabilitiesFor(binary.path);
    const plans = planVmRows(VM_BACKEND_NAMES, VM_TESTS, caps, hostFacts());
    const boots = [...this.entries.values()].flatMap((e) => (e.bootMs !== undefined ? [e.bootMs] : [])).sort((a, b) => a - b);
    return {
      qemu: binary.path,
      ...(boots.length ? { bootMs: boots[Math.floor(boots.length / 2)]! } : {}),
      backends: VM_BACKENDS.map((b) => {
        const rows = plans.filter((p) => p.backend === b.name);
        const tests = rows.filter((p) => !p.unavailable).map((p) => p.test);
        const reason = rows.find((p) => p.test === 'iperf3')?.unavailable;
        return { name: b.name, summary: b.summary, pair: b.pair, tests, available: tests.length > 0, ...(reason ? { reason } : {}) };
      }),
    };
  }

  async qemuBinaries(): Promise<CommandResult<'qemuBinaries'>> {
    let current: string | undefined;
    try { current = resolveQemuBinary(this.qemu).realPath; } catch { /* none: nothing selected */ }
    return Promise.all(discoverQemuBinaries().map(async (path) => {
      try {
        const caps = await qemuCapabilities({ qemu: path, kvm: false });
        return { path, selected: path === current, version: caps.version, afXdp: caps.afXdp.present };
      } catch (err) {
        return { path, selected: path === current, error: (err as Error).message };
      }
    }));
  }

  async selectQemu(path: string): Promise<{ path: string }> {
    const real = checkDiscovered(path);
    await qemuCapabilities({ qemu: real, kvm: false }); // a binary that cannot answer is refused here
    this.qemu = real;
    return { path: real };
  }

  async qmpCommands(vmId: string): Promise<string[]> {
    const { e, vm } = this.running(vmId);
    e.commands ??= (await vm.qmp.execute('query-commands')).map((c) => c.name).filter((n) => !QMP_REFUSED[n]).sort();
    return e.commands;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.entries.values()].map((e) => (e.state === 'starting' || e.state === 'running' || e.stopping ? this.stop(e.vmId) : Promise.resolve(false))));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
