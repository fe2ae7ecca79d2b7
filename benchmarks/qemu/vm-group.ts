// One lifecycle for QEMU VMs, shared by `xdplab vm bench` rows, the VM packet rig and the VMs page:
// a backend's topology (backend-topology.ts) or a list of VM specs, built in a Lab. start() boots
// them in parallel, except that a VM whose backend connects to another waits until that one listens
// (socket connect= and a stream client fail at start otherwise); each gets a QMP client, connected
// before the guest is ready so that its event stream misses nothing. stop() powers them off (then
// kills them) and closes the group's own lab: nothing outlives stop() or a failed start.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LabError } from '../contracts/errors.js';
import type { Lab } from '../lab/lab.js';
import { buildTopology, type Listener, type Topology, type TopologyEnv, type VmSpec } from './backend-topology.js';
import type { VmBackendName } from './backends.js';
import { QmpClient } from './qmp.js';
import { shellQuote, startVm, type StopResult, type Vm } from './vm.js';

export interface GroupVm { spec: VmSpec; vm: Vm; qmp: QmpClient }

export interface VmGroupOptions {
  /** Holds everything around the VMs, and their processes and temp dirs. */
  lab: Lab;
  /** stop() closes the lab (the group's own); otherwise the lab's owner does. */
  ownsLab?: boolean;
  image: { kernelPath: string; initrdPath: string };
  /** Default: $XDPLAB_QEMU, else qemu-system-x86_64 on PATH. */
  qemu?: string;
  memoryMiB?: number;
  /** A console log that outlives the VM (the VMs page keeps it); default: removed with the VM. */
  consoleLogPath?: (spec: VmSpec) => string;
  /** Each VM's QMP client as soon as it connects, before the guest is ready. */
  onQmp?: (spec: VmSpec, qmp: QmpClient) => void;
  progress?: (message: string) => void;
}

export type BackendGroupOptions = VmGroupOptions & Omit<TopologyEnv, 'lab' | 'dir'>;

export class VmGroup {
  /** The VMs that started, in spec order. */
  vms: GroupVm[] = [];
  private starting: Promise<GroupVm[]> | undefined;
  private stopping: Promise<StopResult[]> | undefined;

  constructor(readonly specs: VmSpec[], private readonly o: VmGroupOptions) {}

  /** Builds the backend's topology in the lab, with a scratch dir (tracked by it) for sockets. */
  static async forBackend(backend: VmBackendName, o: BackendGroupOptions): Promise<{ group: VmGroup; topology: Topology }> {
    try {
      const dir = o.lab.trackFile(mkdtempSync(join(tmpdir().length < 60 ? tmpdir() : '/tmp', `${o.namePrefix}-`)));
      const topology = await buildTopology(backend, { ...o, dir });
      return { group: new VmGroup(topology.vms, o), topology };
    } catch (err) {
      if (o.ownsLab) o.lab.close();
      throw err;
    }
  }

  /** Boots every VM; when one fails, stops the rest (and the group's lab) and rethrows. */
  start(): Promise<GroupVm[]> {
    if (this.stopping) return Promise.reject(new LabError({ code: 'ESTOPPED', message: 'the VM group was stopped' }));
    this.starting ??= this.boot();
    return this.starting;
  }

  /** Powers every VM off (then kills it), after a start in progress settles; idempotent. */
  stop(timeoutMs = 10_000): Promise<StopResult[]> {
    this.stopping ??= (async () => {
      await this.starting?.catch(() => undefined);
      return this.teardown(timeoutMs);
    })();
    return this.stopping;
  }

  private async boot(): Promise<GroupVm[]> {
    const starts: Promise<GroupVm>[] = [];
    for (const spec of this.specs) {
      const start = this.startOne(spec, [...starts]);
      start.catch(() => { /* observed by allSettled below */ });
      starts.push(start);
    }
    const settled = await Promise.allSettled(starts);
    this.vms = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure) {
      await this.teardown(5000);
      throw failure.reason;
    }
    return this.vms;
  }

  private async startOne(spec: VmSpec, before: Promise<unknown>[]): Promise<GroupVm> {
    const o = this.o;
    if (spec.after) await waitListening(spec.after, before, 60_000);
    const got: { qmp?: QmpClient } = {};
    const vm = await startVm({
      name: spec.name, image: o.image, lab: o.lab, nics: [spec.nic, ...(spec.extraNics ?? [])], extraArgs: [...(spec.extraArgs ?? []), ...spec.extraNetdevs.flatMap((n) => ['-netdev', n])],
      qemu: o.qemu, memoryMiB: o.memoryMiB, consoleLogPath: o.consoleLogPath?.(spec), onProgress: o.progress,
      gateway: spec.gateway, netns: spec.netns, kernelArgs: spec.kernelArgs,
      control: async (path) => {
        const qmp = await QmpClient.connect(path, { waitForSocket: true, timeoutMs: 10_000, commandTimeoutMs: 30_000 });
        got.qmp = qmp;
        o.onQmp?.(spec, qmp);
        return qmp;
      },
    });
    if (got.qmp) return { spec, vm, qmp: got.qmp };
    await vm.stop({ timeoutMs: 2000 });
    throw new LabError({ code: 'EQMP', message: `${spec.name}: no QMP client connected` });
  }

  private async teardown(timeoutMs: number): Promise<StopResult[]> {
    try {
      const results = await Promise.all(this.vms.map((v) => v.vm.stop({ timeoutMs }).catch(() => undefined)));
      return results.flatMap((r) => (r ? [r] : []));
    } finally {
      if (this.o.ownsLab) this.o.lab.close();
    }
  }
}

/** A TCP port in LISTEN state in this network namespace (/proc/net/tcp and tcp6). */
export function tcpListening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try { text = readFileSync(f, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[1]?.endsWith(`:${hex}`) && cols[3] === '0A') return true;
    }
  }
  return false;
}

async function waitListening(l: Listener, previous: Promise<unknown>[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let failed: unknown;
  // A VM that failed to start will never listen: stop waiting for it.
  for (const p of previous) p.catch((e: unknown) => { failed ??= e; });
  while (!(l.kind === 'tcp' ? tcpListening(l.port) : existsSync(l.path))) {
    if (failed !== undefined) throw failed;
    if (Date.now() > deadline) {
      throw new LabError({ code: 'ETIMEDOUT', message: `nothing listened on ${l.kind === 'tcp' ? `127.0.0.1:${l.port}` : l.path} within ${timeoutMs / 1000} s (the VM that should has not set up its netdev)` });
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The exact command line of a VM, wrapper included, as one shell line. */
export function commandLineOf(vm: Vm): string {
  return [...vm.wrapper, ...vm.commandLine].map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : shellQuote(a))).join(' ');
}

/** The last `tailBytes` of a console log (kept small by the guest), without CRs and terminal escapes. */
export function consoleTail(path: string, tailBytes: number): string {
  let buf: Buffer;
  try { buf = readFileSync(path); } catch { return ''; }
  // eslint-disable-next-line no-control-regex
  return buf.subarray(Math.max(0, buf.length - tailBytes)).toString('utf8').replace(/\r/g, '').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
}
