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
        // The same backend with the same options, under the same id: the NIC's netdev as QEMU got it.
        const n = netdevOf(v);
        if (await send('netdev_del', { id: n.id })) await send('netdev_add', n.arguments);
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
