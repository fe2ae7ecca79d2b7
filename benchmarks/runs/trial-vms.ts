// The VMs of a running VM trial, as a run exposes them: listed (runVms), reachable over QMP with
// the console's refusals (runQmp), every command sent and every QMP event QEMU emits recorded as
// a marker, and the scenario's timeline steps run at their times.
//
// Time origin: a marker's tMs is on the samples' axis, milliseconds since the trial's measured
// window began (the VM trial runner says when: onWindow, the moment the forward iperf3 client or
// the packet window starts; the reverse iperf3 direction's samples follow on the same wall clock).
// Timeline steps run atMs after that origin. What happens before the window began (QMP events
// during boot) is kept back and stamped once the origin is known (negative tMs); a trial whose
// window never began stamps them from when its VMs were ready.
import { LabError, describeError } from '../contracts/errors.js';
import type { Marker } from '../contracts/report.js';
import type { TimelineAction, TimelineStep } from '../contracts/scenario.js';
import { parseNetdevArg, toQmpArguments } from '../qemu/netdev.js';
import { qmpRefusal } from '../qemu/qmp-refusal.js';
import type { QmpClient, QmpEvent } from '../qemu/qmp.js';
import type { GroupVm } from '../qemu/vm-group.js';

type Unstamped = Omit<Marker, 'row' | 'trial' | 'tMs'>;

/** announce-self's arguments are all mandatory: QEMU's own defaults (-announce-... options). */
const ANNOUNCE_DEFAULTS = { initial: 50, max: 550, rounds: 5, step: 100 };

/** A short text of a value for a marker's detail. */
function short(v: unknown, max = 200): string | undefined {
  if (v === undefined) return undefined;
  let t: string;
  try { t = typeof v === 'string' ? v : JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)); } catch { t = String(v); }
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** The id of a VM's NIC netdev (n0 in every topology): set_link and netdev_del name it. */
function netdevOf(v: GroupVm): { id: string; arguments: Record<string, unknown> } {
  const n = parseNetdevArg(v.spec.nic.netdev);
  return { id: n.id, arguments: toQmpArguments(n) };
}

/** What a step did: each QMP command it sent, with QEMU's answer or the error. */
export interface StepOutcome {
  vm: string;
  ok: boolean;
  commands: Array<{ command: string; arguments?: Record<string, unknown>; ok: boolean; result?: unknown; error?: string }>;
}

/** The marker name of an action that could not start (no such VM). */
function actionName(a: TimelineAction): string {
  return a.kind === 'qmp' ? a.command : a.kind === 'announce_self' ? 'announce-self' : a.kind === 'netdev_swap' ? 'netdev_del' : a.kind;
}

/** The NIC on netdev `id`: its QOM path (device_del) and its device_add arguments, from QEMU's command line. */
async function nicDevice(v: GroupVm, id: string): Promise<{ path: string; mac: string; device: Record<string, unknown> } | undefined> {
  const arg = v.vm.commandLine?.find((a) => a.split(',').includes(`netdev=${id}`));
  if (!arg) return undefined;
  const [driver, ...props] = arg.split(',');
  const device: Record<string, unknown> = { driver };
  for (const p of props) {
    const eq = p.indexOf('=');
    const key = eq < 0 ? p : p.slice(0, eq);
    const value = eq < 0 ? 'on' : p.slice(eq + 1);
    // QMP's device_add takes typed values: on/off as booleans, numbers as numbers.
    device[key] = value === 'on' ? true : value === 'off' ? false : /^\d+$/.test(value) && key !== 'mac' ? Number(value) : value;
  }
  const mac = typeof device.mac === 'string' ? device.mac : undefined;
  if (!mac) return undefined;
  let list: unknown;
  try { list = await v.qmp.execute('qom-list', { path: '/machine/peripheral-anon' }); } catch { return undefined; }
  if (!Array.isArray(list)) return undefined;
  for (const c of list) {
    if (!c || typeof c !== 'object' || typeof c.name !== 'string' || c.type !== `child<${driver}>`) continue;
    const path = `/machine/peripheral-anon/${c.name}`;
    const got: unknown = await v.qmp.execute('qom-get', { path, property: 'mac' }).catch(() => undefined);
    if (got === mac) return { path, mac, device };
  }
  return undefined;
}

/** Resolves true when QEMU says the device at `path` is gone (DEVICE_DELETED), false after `ms`. */
function deviceDeleted(qmp: GroupVm['qmp'], path: string, ms: number): { done: Promise<boolean>; cancel(): void } {
  let finish: (ok: boolean) => void = () => {};
  const done = new Promise<boolean>((resolve) => { finish = resolve; });
  const onEvent = (e: { event: string; data?: unknown }) => {
    const d = e.data && typeof e.data === 'object' && 'path' in e.data ? e.data.path : undefined;
    if (e.event === 'DEVICE_DELETED' && d === path) end(true);
  };
  const timer = setTimeout(() => end(false), ms);
  const end = (ok: boolean) => { clearTimeout(timer); qmp.off('event', onEvent); finish(ok); };
  qmp.on('event', onEvent);
  return { done, cancel: () => end(false) };
}

/** Finds the guest interface with `mac` (a POSIX sh script through the guest agent). */
const FIND_IF = 'for d in /sys/class/net/*; do [ "$(cat "$d/address" 2>/dev/null)" = "$1" ] && { echo "${d##*/}"; exit 0; }; done; exit 1';

interface GuestNet { addresses: string[]; gateway?: string }

/** The guest's IPv4 addresses on the NIC with `mac`, and its default route through it. */
async function guestConfig(v: GroupVm, mac: string): Promise<GuestNet> {
  const r = await v.vm.exec('sh', ['-c', `n=$(${FIND_IF.replace(/"\$1"/g, '"$0"')}) || exit 1; ip -4 -o addr show dev "$n"; ip route show default dev "$n"`, mac], { timeoutMs: 5000 });
  if (r.exitCode !== 0) throw new LabError({ code: 'EGUEST', message: `the guest has no interface with MAC ${mac}` });
  const addresses = [...r.stdout.matchAll(/\binet (\d+\.\d+\.\d+\.\d+\/\d+)/g)].map((m) => m[1]!);
  const gateway = /default via (\d+\.\d+\.\d+\.\d+)/.exec(r.stdout)?.[1];
  return { addresses, ...(gateway ? { gateway } : {}) };
}

/** The new NIC in the guest: waits (up to 10 s) for it, brings it up with the old addresses and route. */
async function guestRestore(v: GroupVm, mac: string, net: GuestNet | undefined): Promise<{ ifname: string } & GuestNet> {
  const addresses = net?.addresses.length ? net.addresses : v.spec.nic.ip ? [v.spec.nic.ip] : [];
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await v.vm.exec('sh', ['-c', FIND_IF.replace(/"\$1"/g, '"$0"'), mac], { timeoutMs: 5000 });
    const ifname = r.stdout.trim();
    if (r.exitCode === 0 && /^[\w.-]+$/.test(ifname)) {
      const cmds = [`ip link set dev ${ifname} up`, ...addresses.map((a) => `ip addr add ${a} dev ${ifname}`), ...(net?.gateway ? [`ip route add default via ${net.gateway} dev ${ifname}`] : [])];
      const set = await v.vm.exec('sh', ['-c', cmds.join(' && ')], { timeoutMs: 5000 });
      if (set.exitCode !== 0) throw new LabError({ code: 'EGUEST', message: `guest: ${cmds.join('; ')}: ${set.stderr.trim() || `exit ${set.exitCode}`}` });
      return { ifname, addresses, ...(net?.gateway ? { gateway: net.gateway } : {}) };
    }
    if (Date.now() > deadline) throw new LabError({ code: 'EGUEST', message: `the guest shows no interface with MAC ${mac} 10 s after device_add` });
    await new Promise((res) => setTimeout(res, 200));
  }
}

export interface TrialVmsOptions {
  row: string;
  backend: string;
  trial: number;
  /** The scenario's timeline steps for this row (already filtered by `rows`). */
  timeline: TimelineStep[];
  marker(m: Marker): void;
  vmsChanged(vms: GroupVm[]): void;
}

export class TrialVms {
  vms: GroupVm[] = [];
  private origin: number | undefined;
  private readyAt: number | undefined;
  private pending: Array<{ at: number; m: Unstamped }> = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly watched = new Map<QmpClient, () => void>();
  private closed = false;

  constructor(readonly o: TrialVmsOptions) {}

  /** From the trial runner: a VM's QMP client as soon as it connects (events during boot too). */
  onQmp = (vm: string, qmp: QmpClient): void => {
    if (this.closed || this.watched.has(qmp)) return;
    const onEvent = (e: QmpEvent) => {
      const at = e.timestamp ? e.timestamp.seconds * 1000 + e.timestamp.microseconds / 1000 : Date.now();
      this.record(at, { kind: 'event', name: e.event, vm, source: 'qemu', ...(e.data ? { detail: short(e.data) } : {}) });
    };
    qmp.on('event', onEvent);
    this.watched.set(qmp, () => qmp.off('event', onEvent));
  };

  /** From the trial runner: its VMs when ready, [] when they are stopped. */
  onVms = (vms: GroupVm[]): void => {
    if (this.closed) return;
    if (!vms.length) { this.close(); return; }
    this.vms = [...vms];
    this.readyAt ??= Date.now();
    for (const v of vms) this.onQmp(v.vm.name, v.qmp);
    this.o.vmsChanged(this.vms);
  };

  /** From the trial runner: the measured window began (tMs 0); the timeline starts from here. */
  onWindow = (atMs: number): void => {
    if (this.closed || this.origin !== undefined) return;
    this.origin = atMs;
    this.flush(atMs);
    for (const step of this.o.timeline) {
      const t = setTimeout(() => { void this.runStep(step); }, Math.max(0, atMs + step.atMs - Date.now()));
      this.timers.push(t);
    }
  };

  /** The VM named `name`: its full name, or its role (the last part: a, b). */
  find(name: string): GroupVm {
    const v = this.vms.find((x) => x.vm.name === name) ?? this.vms.find((x) => x.vm.name.endsWith(`-${name}`));
    if (v) return v;
    const names = this.vms.map((x) => x.vm.name);
    throw new LabError({ code: 'ENOVM', field: 'vm', message: `vm: no VM '${name}' in ${this.o.row} trial ${this.o.trial}; its VMs: ${names.join(', ') || 'none (not started yet, or stopped)'}`, hint: 'runVms lists the VMs of the running trial' });
  }

  /** A QMP command from the QMP panel (source console) or the timeline; refused ones and failures are markers too. */
  async command(vmName: string, command: string, args: Record<string, unknown> | undefined, source: 'console' | 'timeline'): Promise<unknown> {
    const v = this.find(vmName);
    const refused = qmpRefusal(command, args);
    const at = Date.now();
    if (refused) {
      this.record(at, { kind: 'command', name: command, vm: v.vm.name, source, ok: false, detail: short(refused) });
      throw new LabError({ code: 'EREFUSED', field: 'command', message: `command: ${refused}`, hint: 'run it with xdplab qmp --socket PATH from a shell if you mean it' });
    }
    try {
      const r = await v.qmp.execute(command, args);
      this.record(at, { kind: 'command', name: command, vm: v.vm.name, source, ok: true, ...(args ? { detail: short(args) } : {}) });
      return r;
    } catch (err) {
      this.record(at, { kind: 'command', name: command, vm: v.vm.name, source, ok: false, detail: short(describeError(err)) });
      throw err;
    }
  }

  /** query-commands' names, sorted (the console's refused ones left out). */
  async commands(vmName: string): Promise<string[]> {
    const v = this.find(vmName);
    const list = await v.qmp.execute('query-commands');
    return list.map((c) => c.name).filter((n) => !qmpRefusal(n, undefined)).sort();
  }

  /** One timeline step at its time; a failure is a marker with ok:false and the trial goes on. */
  private async runStep(step: TimelineStep): Promise<void> {
    if (this.closed) return;
    let v: GroupVm | undefined;
    try {
      v = step.vm ? this.find(step.vm) : this.vms[0];
      if (!v) throw new LabError({ code: 'ENOVM', message: 'the trial has no VM now' });
    } catch (err) {
      this.record(Date.now(), { kind: 'command', name: actionName(step.action), ...(v ? { vm: v.vm.name } : {}), source: 'timeline', ok: false, detail: short(describeError(err)) });
      return;
    }
    await this.act(v, step.action, 'timeline');
  }

  /**
   * A timeline action on one VM now, from the QMP panel (runStep) with source 'console': the
   * same code path as a timeline step, the same markers. ENOVM when `vmName` is not one of the
   * trial's VMs; a QMP failure is not thrown but is a marker with ok:false and in the outcome.
   */
  async step(vmName: string, action: TimelineAction, source: 'console' | 'timeline' = 'console'): Promise<StepOutcome> {
    if (this.closed) throw new LabError({ code: 'ENOVM', field: 'vm', message: `vm: ${this.o.row} trial ${this.o.trial} has ended; its VMs are gone`, hint: 'runVms lists the VMs of the running trial' });
    return this.act(this.find(vmName), action, source);
  }

  /** Carries out one action; every QMP command it sends is a marker (netdev_swap: netdev_del, then netdev_add). */
  private async act(v: GroupVm, a: TimelineAction, source: 'console' | 'timeline'): Promise<StepOutcome> {
    const vm = v.vm.name;
    const commands: StepOutcome['commands'] = [];
    // The console's refusals apply to a command the user wrote (qmp), not to xdplab's own
    // arguments (netdev_swap re-adds the NIC's netdev as xdplab built it: script=no, sock-fds).
    const send = async (command: string, args: Record<string, unknown> | undefined, user = false): Promise<boolean> => {
      const at = Date.now();
      try {
        const refused = user ? qmpRefusal(command, args) : undefined;
        if (refused) throw new LabError({ code: 'EREFUSED', field: 'command', message: `command: ${refused}` });
        const result = await v.qmp.execute(command, args);
        this.record(at, { kind: 'command', name: command, vm, source, ok: true, ...(args ? { detail: short(args) } : {}) });
        commands.push({ command, ...(args ? { arguments: args } : {}), ok: true, result });
        return true;
      } catch (err) {
        const detail = describeError(err);
        this.record(at, { kind: 'command', name: command, vm, source, ok: false, detail: short(detail) });
        commands.push({ command, ...(args ? { arguments: args } : {}), ok: false, error: detail });
        return false;
      }
    };
    switch (a.kind) {
      case 'set_link':
        await send('set_link', { name: netdevOf(v).id, up: a.up });
        break;
      case 'netdev_swap': {
        // The same backend with the same options, under the same id: the NIC's netdev as QEMU got
        // it. QEMU keeps a netdev its NIC holds (netdev_del only takes the NIC's link down; the
        // add then fails: tap EBUSY, user's hostfwd port taken), so the NIC is unplugged first
        // and plugged again on the new netdev, and the guest gives it back its address.
        const n = netdevOf(v);
        const nic = await nicDevice(v, n.id);
        if (!nic) {
          if (await send('netdev_del', { id: n.id })) await send('netdev_add', n.arguments);
          break;
        }
        const guest = await guestConfig(v, nic.mac).catch(() => undefined);
        const gone = deviceDeleted(v.qmp, nic.path, 15_000);
        if (!(await send('device_del', { id: nic.path }))) { gone.cancel(); break; }
        if (!(await gone.done)) {
          this.record(Date.now(), { kind: 'command', name: 'device_del', vm, source, ok: false, detail: `no DEVICE_DELETED for ${nic.path} within 15 s (does the guest take PCI hot-unplug?)` });
          commands.push({ command: 'device_del', arguments: { id: nic.path }, ok: false, error: `no DEVICE_DELETED for ${nic.path} within 15 s` });
          break;
        }
        if (!(await send('netdev_del', { id: n.id }))) break;
        if (!(await send('netdev_add', n.arguments))) break;
        if (!(await send('device_add', nic.device))) break;
        const at = Date.now();
        try {
          const how = await guestRestore(v, nic.mac, guest);
          this.record(at, { kind: 'command', name: 'guest-ip', vm, source, ok: true, detail: short(how) });
          commands.push({ command: 'guest-ip', arguments: { mac: nic.mac }, ok: true, result: how });
        } catch (err) {
          this.record(at, { kind: 'command', name: 'guest-ip', vm, source, ok: false, detail: short(describeError(err)) });
          commands.push({ command: 'guest-ip', arguments: { mac: nic.mac }, ok: false, error: describeError(err) });
        }
        break;
      }
      case 'announce_self':
        await send('announce-self', ANNOUNCE_DEFAULTS);
        break;
      case 'qmp':
        await send(a.command, a.arguments, true);
        break;
    }
    return { vm, ok: commands.every((c) => c.ok), commands };
  }

  private record(at: number, m: Unstamped): void {
    if (this.origin === undefined && !this.closed) { this.pending.push({ at, m }); return; }
    this.emit(at, m, this.origin ?? this.readyAt ?? at);
  }

  private emit(at: number, m: Unstamped, origin: number): void {
    this.o.marker({ row: this.o.row, trial: this.o.trial, tMs: Math.round(at - origin), ...m });
  }

  private flush(origin: number): void {
    const p = this.pending.sort((x, y) => x.at - y.at);
    this.pending = [];
    for (const { at, m } of p) this.emit(at, m, origin);
  }

  private detach(): void {
    for (const off of this.watched.values()) off();
    this.watched.clear();
  }

  /** The trial ended: no more steps, events or commands; says the VMs are gone. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers.splice(0)) clearTimeout(t);
    this.detach();
    this.flush(this.origin ?? this.readyAt ?? Date.now());
    const had = this.vms.length > 0;
    this.vms = [];
    if (had) this.o.vmsChanged([]);
  }
}
