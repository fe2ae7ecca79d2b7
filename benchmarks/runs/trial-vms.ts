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
import type { TimelineStep } from '../contracts/scenario.js';
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

  /** One timeline step; a failure is a marker with ok:false and the trial goes on. */
  private async runStep(step: TimelineStep): Promise<void> {
    if (this.closed) return;
    const at = Date.now();
    const a = step.action;
    const name = a.kind === 'qmp' ? a.command : a.kind;
    let v: GroupVm | undefined;
    try {
      v = step.vm ? this.find(step.vm) : this.vms[0];
      if (!v) throw new LabError({ code: 'ENOVM', message: 'the trial has no VM now' });
      const vm = v.vm.name;
      switch (a.kind) {
        case 'set_link': {
          const args = { name: netdevOf(v).id, up: a.up };
          await v.qmp.execute('set_link', args);
          this.record(at, { kind: 'command', name, vm, source: 'timeline', ok: true, detail: short(args) });
          return;
        }
        case 'netdev_swap': {
          const n = netdevOf(v);
          await v.qmp.execute('netdev_del', { id: n.id });
          await v.qmp.execute('netdev_add', n.arguments);
          this.record(at, { kind: 'command', name, vm, source: 'timeline', ok: true, detail: short({ netdev_del: { id: n.id }, netdev_add: n.arguments }) });
          return;
        }
        case 'announce_self':
          await v.qmp.execute('announce-self', ANNOUNCE_DEFAULTS);
          this.record(at, { kind: 'command', name: 'announce-self', vm, source: 'timeline', ok: true, detail: short(ANNOUNCE_DEFAULTS) });
          return;
        case 'qmp':
          await this.command(vm, a.command, a.arguments, 'timeline').catch(() => { /* its marker says why */ });
          return;
      }
    } catch (err) {
      this.record(at, { kind: 'command', name: name === 'announce_self' ? 'announce-self' : name, ...(v ? { vm: v.vm.name } : {}), source: 'timeline', ok: false, detail: short(describeError(err)) });
    }
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
