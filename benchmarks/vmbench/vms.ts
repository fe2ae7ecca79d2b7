// Starts the VMs of a topology and stops them. VMs boot in parallel (a TCG boot is seconds), except
// that a VM whose backend connects to another waits until that one's socket listens: QEMU's
// socket connect= fails at start when nobody listens, and a stream client would too. Each VM gets
// a QMP client (for set_link, query-rx-filter, quit).
import { existsSync, readFileSync } from 'node:fs';
import { LabError } from '../contracts/errors.js';
import type { Lab } from '../lab/lab.js';
import { QmpClient } from '../qemu/qmp.js';
import { shellQuote, startVm, type Vm } from '../qemu/vm.js';
import type { Listener, Topology } from './topology.js';

export interface StartedVm { vm: Vm; qmp: QmpClient }

export interface StartOptions {
  lab: Lab;
  qemuBinary: string;
  image: { kernelPath: string; initrdPath: string };
  progress?: (message: string) => void;
  readyTimeoutMs?: number;
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

function listening(l: Listener): boolean {
  return l.kind === 'tcp' ? tcpListening(l.port) : existsSync(l.path);
}

async function waitListening(l: Listener, previous: Promise<unknown>[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let failed: unknown;
  // A VM that failed to start will never listen: stop waiting for it.
  for (const p of previous) p.catch((e: unknown) => { failed ??= e; });
  while (!listening(l)) {
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

/** Starts every VM of the topology; on any failure stops the ones that started and rethrows. */
export async function startTopologyVms(t: Topology, o: StartOptions): Promise<StartedVm[]> {
  const clients = new Map<string, QmpClient>();
  const starts: Promise<Vm>[] = [];
  for (const spec of t.vms) {
    const before = [...starts];
    const start = (async () => {
      if (spec.after) await waitListening(spec.after, before, 60_000);
      return startVm({
        name: spec.name, image: o.image, qemu: o.qemuBinary, lab: o.lab,
        nics: [spec.nic],
        ...(spec.gateway ? { gateway: spec.gateway } : {}),
        ...(spec.netns ? { netns: spec.netns } : {}),
        extraArgs: spec.extraNetdevs.flatMap((n) => ['-netdev', n]),
        ...(o.readyTimeoutMs ? { readyTimeoutMs: o.readyTimeoutMs } : {}),
        control: async (path) => {
          const c = await QmpClient.connect(path, { waitForSocket: true, timeoutMs: 10_000, commandTimeoutMs: 10_000 });
          clients.set(spec.name, c);
          return c;
        },
        ...(o.progress ? { onProgress: o.progress } : {}),
      });
    })();
    start.catch(() => { /* observed by allSettled below */ });
    starts.push(start);
  }
  const settled = await Promise.allSettled(starts);
  const vms = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) {
    await Promise.all(vms.map((v) => v.stop().catch(() => undefined)));
    throw failure.reason;
  }
  return vms.map((vm) => ({ vm, qmp: clients.get(vm.name)! }));
}

export async function stopVms(vms: StartedVm[]): Promise<void> {
  await Promise.all(vms.map((v) => v.vm.stop().catch(() => undefined)));
}
