// A stand-in RunManager for tests of the faces: each run streams the samples of a small report
// (sampleReport) as runProgress and sample events, then writes the report with ReportWriter
// and says complete. Runs started later are faster by `speedup` (for compare tests).
// A scenario with `vm` gets VM rows instead (vmReport: one iperf3 row per backend, one trial,
// samples at 2 Hz): runVms events as each row's VMs are "ready", markers from a timeline-like
// set_link off/on (and a refused netdev_del on the second row), and runQmp answers on the VM of
// the running row, recorded as a marker; set_link off brings the row's samples down to ~0.
import { EventEmitter } from 'node:events';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { ReportWriter } from '../../benchmarks/report/writer.js';
import type { Plan } from '../../benchmarks/contracts/plan.js';
import type { Report } from '../../benchmarks/contracts/report.js';
import type { RunEvents, RunManagerApi, RunSummary, StartedRun } from '../../benchmarks/runs/run-manager-api.js';
import type { Scenario, TimelineAction } from '../../benchmarks/contracts/scenario.js';
import { sampleReport, vmReport, VM_SAMPLE_MS } from './sample-report.js';
import type { Marker } from '../../benchmarks/contracts/report.js';

interface FakeVmState { row: string; trial: number; tMs: number; backend: string; linkUp: boolean }
interface FakeRun { id: string; writer?: ReportWriter; report: Report; timer?: NodeJS.Timeout; status: string; done: Promise<Report>; finish: (r: Report) => void; scenario: Partial<Scenario>; quick?: boolean; vm?: FakeVmState }

/** The QMP commands a fake run's VM accepts. */
export const FAKE_QMP_COMMANDS = ['announce-self', 'netdev_add', 'netdev_del', 'query-rx-filter', 'query-status', 'query-version', 'set_link'];

export class FakeRunManager implements RunManagerApi {
  readonly runs = new Map<string, FakeRun>();
  readonly started: { scenario: Record<string, unknown>; quick?: boolean }[] = [];
  private readonly emitter = new EventEmitter();
  private seq = 0;

  constructor(private readonly dir: string, private readonly opts: { intervalMs?: number; speedup?: number; vmTimeline?: boolean } = {}) {}

  async start(input: Record<string, unknown>, options: { quick?: boolean; command?: string[] } = {}): Promise<StartedRun> {
    const scenario = input;
    if (typeof scenario.trials === 'number' && scenario.trials > 50) throw new LabError({ code: 'EINVALIDOPTION', field: '--trials', message: '--trials: at most 50 here' });
    this.started.push({ scenario, ...(options.quick !== undefined ? { quick: options.quick } : {}) });
    const n = this.seq++;
    const id = `fake${n}-${Date.now().toString(36)}`;
    const factor = (1 + (this.opts.speedup ?? 0.2)) ** n;
    const vm = scenario.vm as { backends?: string[] } | undefined;
    if (vm?.backends?.length) return this.startVm(id, vm.backends, factor, scenario);
    const report = sampleReport(id, (r, t, k) => factor * 1e6 * (1 + r) * (1 + 0.01 * ((t + k) % 3)));
    const samples = report.samples;
    report.samples = [];
    report.status = 'incomplete';
    let finish!: (r: Report) => void;
    const done = new Promise<Report>((r) => { finish = r; });
    const run: FakeRun = { id, report, status: 'running', done, finish, scenario, ...(options.quick !== undefined ? { quick: options.quick } : {}) };
    run.writer = new ReportWriter(this.dir, report);
    this.runs.set(id, run);
    setImmediate(() => this.emit('runState', { runId: id, state: 'running', reportDir: run.writer!.dir }));
    const rows = [...new Set(samples.map((s) => s.row))];
    let i = 0;
    run.timer = setInterval(() => {
      const s = samples[i++];
      if (!s) { this.end(run, 'complete'); return; }
      run.writer!.sample(s);
      const rowIndex = rows.indexOf(s.row);
      this.emit('runProgress', { runId: id, row: s.row, rowIndex, rows: rows.length, trial: s.trial, trials: 3, phase: 'measure', fraction: Math.min(1, (s.tMs + 1000) / 4000) });
      this.emit('sample', { runId: id, sample: s });
    }, this.opts.intervalMs ?? 50);
    return { runId: id, dir: run.writer.dir, done, recovered: [] };
  }

  private startVm(id: string, backends: string[], factor: number, scenario: Record<string, unknown>): StartedRun {
    const report = vmReport(id, backends, (b, k) => factor * (b === 'tap' ? 9e9 : 3e9) * (1 + 0.01 * (k % 3)));
    const samples = report.samples;
    report.samples = [];
    report.markers = [];
    report.status = 'incomplete';
    let finish!: (r: Report) => void;
    const done = new Promise<Report>((r) => { finish = r; });
    const run: FakeRun = { id, report, status: 'running', done, finish, scenario, quick: true };
    run.writer = new ReportWriter(this.dir, report);
    this.runs.set(id, run);
    setImmediate(() => this.emit('runState', { runId: id, state: 'running', reportDir: run.writer!.dir }));
    const rows = report.rows.map((r) => r.id);
    const timeline: Record<number, { up: boolean }> = { 1000: { up: false }, 2000: { up: true } };
    let i = 0;
    run.timer = setInterval(() => {
      const s = samples[i++];
      if (!s) { if (run.vm) this.emit('runVms', { runId: id, row: run.vm.row, trial: 0, vms: [] }); run.vm = undefined; this.end(run, 'complete'); return; }
      const backend = report.rows.find((r) => r.id === s.row)!.backend!;
      if (run.vm?.row !== s.row) {
        if (run.vm) this.emit('runVms', { runId: id, row: run.vm.row, trial: 0, vms: [] });
        run.vm = { row: s.row, trial: s.trial, tMs: 0, backend, linkUp: true };
        this.emit('runVms', { runId: id, row: s.row, trial: s.trial, vms: [{ name: 'vm0', backend }] });
      }
      run.vm.tMs = s.tMs;
      const step = timeline[s.tMs];
      if (step && this.opts.vmTimeline !== false) {
        run.vm.linkUp = step.up;
        this.mark(run, { row: s.row, trial: s.trial, tMs: s.tMs, kind: 'command', name: 'set_link', vm: 'vm0', source: 'timeline', ok: true, detail: JSON.stringify({ name: 'n0', up: step.up }) });
      }
      if (s.tMs === 2500 && rows.indexOf(s.row) === 1 && this.opts.vmTimeline !== false) {
        this.mark(run, { row: s.row, trial: s.trial, tMs: s.tMs, kind: 'command', name: 'netdev_del', vm: 'vm0', source: 'timeline', ok: false, detail: "Device 'n1' not found" });
      }
      const sample = run.vm.linkUp ? s : { ...s, metrics: { ...s.metrics, bitsPerSecond: 1e5 } };
      run.writer!.sample(sample);
      this.emit('runProgress', { runId: id, row: s.row, rowIndex: rows.indexOf(s.row), rows: rows.length, trial: 0, trials: 1, phase: 'measure', fraction: Math.min(1, (s.tMs + VM_SAMPLE_MS) / 8000) });
      this.emit('sample', { runId: id, sample });
    }, this.opts.intervalMs ?? 50);
    return { runId: id, dir: run.writer.dir, done, recovered: [] };
  }

  private mark(run: FakeRun, m: Marker): void {
    run.report.markers.push(m);
    this.emit('marker', { runId: run.id, marker: m });
  }

  async plan(input: Record<string, unknown>): Promise<Plan> {
    if (typeof input.trials === 'number' && input.trials > 50) throw new LabError({ code: 'EINVALIDOPTION', field: '--trials', message: '--trials: at most 50 here' });
    const vm = input.vm as { backends?: string[]; tests?: string[] } | undefined;
    if (vm?.backends?.length) {
      const tests = vm.tests ?? ['iperf3'];
      const rows = vm.backends.flatMap((b) => tests.map((t) => ({ id: `${b}/${t}`, kind: 'vm', test: t, tool: t === 'iperf3' ? 'iperf3' : 'xdplab', mode: t === 'iperf3' ? 'tcp' : 'native', backend: b,
        ...(t !== 'iperf3' && b === 'user' ? { unavailable: `${t} needs a backend with a host end; user has none` } : {}) })));
      const boots = rows.filter((r) => !r.unavailable).length;
      return { rows, trials: 1, vmBoots: boots, bootMs: 2600, bootMeasured: false, estimatedMs: boots * (2600 + 4000) };
    }
    return { rows: [{ id: 'txonly-native-64B', kind: 'engine', test: 'txonly', tool: 'xdplab', mode: 'native' }], trials: 1, vmBoots: 0, bootMs: 2600, bootMeasured: false, estimatedMs: 4000 };
  }

  runVms(runId: string): { row?: string; trial?: number; vms: { name: string; backend: string }[] } {
    const v = this.runs.get(runId)?.vm;
    return v ? { row: v.row, trial: v.trial, vms: [{ name: 'vm0', backend: v.backend }] } : { vms: [] };
  }

  private vmOf(runId: string, vm: string): { run: FakeRun; v: FakeVmState } {
    const run = this.runs.get(runId);
    if (!run?.vm || vm !== 'vm0') throw new LabError({ code: 'ENOVM', field: 'vm', message: `vm: run '${runId}' has no VM '${vm}' now` });
    return { run, v: run.vm };
  }

  async runQmp(runId: string, vm: string, command?: string, args?: Record<string, unknown>): Promise<unknown> {
    const { run, v } = this.vmOf(runId, vm);
    const base = { row: v.row, trial: v.trial, tMs: v.tMs, kind: 'command' as const, name: command ?? '', vm, source: 'console' as const, ...(args ? { detail: JSON.stringify(args) } : {}) };
    if (!command || !FAKE_QMP_COMMANDS.includes(command)) {
      this.mark(run, { ...base, ok: false, detail: `The command ${command} has not been found` });
      throw new LabError({ code: 'EQMP', message: `QMP: The command ${command} has not been found` });
    }
    if (command === 'set_link') v.linkUp = args?.up !== false;
    this.mark(run, { ...base, ok: true });
    return command === 'query-rx-filter' ? [{ name: 'n0', 'main-mac': '52:54:00:12:34:56' }] : {};
  }

  /** A timeline action now, as the real TrialVms does it: one console marker per command (netdev_swap: device_del, netdev_del, netdev_add, device_add, guest-ip). */
  async runStep(runId: string, vm: string, action: TimelineAction): Promise<{ vm: string; ok: boolean; commands: { command: string; arguments?: Record<string, unknown>; ok: boolean; result?: unknown }[] }> {
    const { run, v } = this.vmOf(runId, vm);
    const sends: { command: string; arguments?: Record<string, unknown> }[] =
      action.kind === 'set_link' ? [{ command: 'set_link', arguments: { name: 'n0', up: action.up } }]
        : action.kind === 'netdev_swap' ? [
          { command: 'device_del', arguments: { id: '/machine/peripheral-anon/device[1]' } }, { command: 'netdev_del', arguments: { id: 'n0' } },
          { command: 'netdev_add', arguments: { type: 'tap', id: 'n0', ifname: 'xl-fake00-tap', script: 'no', downscript: 'no' } },
          { command: 'device_add', arguments: { driver: 'virtio-net-pci', netdev: 'n0', mac: '52:54:00:12:34:56' } }, { command: 'guest-ip', arguments: { mac: '52:54:00:12:34:56' } }]
          : action.kind === 'announce_self' ? [{ command: 'announce-self' }]
            : [{ command: action.command, ...(action.arguments ? { arguments: action.arguments } : {}) }];
    for (const c of sends) {
      if (c.command === 'set_link') v.linkUp = c.arguments?.up !== false;
      this.mark(run, { row: v.row, trial: v.trial, tMs: v.tMs, kind: 'command', name: c.command, vm, source: 'console', ok: true, ...(c.arguments ? { detail: JSON.stringify(c.arguments) } : {}) });
    }
    return { vm, ok: true, commands: sends.map((c) => ({ ...c, ok: true, result: {} })) };
  }

  async runQmpCommands(runId: string, vm: string): Promise<string[]> {
    this.vmOf(runId, vm);
    return FAKE_QMP_COMMANDS;
  }

  private end(run: FakeRun, how: 'complete' | 'stopped'): void {
    clearInterval(run.timer);
    run.status = how;
    run.writer!.finish(how === 'complete' ? 'complete' : 'incomplete', how === 'stopped' ? 'stopped by the user' : undefined);
    this.emit('runState', { runId: run.id, state: how, reportDir: run.writer!.dir });
    run.finish(run.report);
  }

  async stop(runId: string): Promise<boolean> {
    const run = this.runs.get(runId);
    if (!run || run.status !== 'running') return false;
    this.end(run, 'stopped');
    return true;
  }

  list(): RunSummary[] {
    return [...this.runs.values()].reverse().map((r) => ({ runId: r.id, createdAt: r.report.createdAt, status: r.status, command: r.report.command, rows: r.report.rows.length, dir: r.writer!.dir }));
  }

  private get(runId: string): FakeRun {
    const r = this.runs.get(runId);
    if (!r) throw new LabError({ code: 'ENORUN', field: 'runId', message: `runId: no run '${runId}'` });
    return r;
  }

  report(runId: string): Report { return this.get(runId).report; }
  directory(runId: string): string { return this.get(runId).writer!.dir; }

  on<E extends keyof RunEvents>(event: E, listener: (payload: RunEvents[E]) => void): () => void {
    this.emitter.on(event, listener as (p: unknown) => void);
    return () => { this.emitter.off(event, listener as (p: unknown) => void); };
  }

  emit<E extends keyof RunEvents>(event: E, payload: RunEvents[E]): void {
    this.emitter.emit(event, payload);
  }

  close(): void {
    for (const r of this.runs.values()) if (r.status === 'running') this.end(r, 'stopped');
  }
}

/** vmBackends as a machine with user and tap but not af-xdp would answer. */
export const FAKE_VM_BACKENDS = {
  qemu: 'qemu-system-x86_64 (fake)',
  bootMs: undefined,
  backends: [
    { name: 'user', summary: 'SLIRP user networking', pair: 'host<->guest' as const, tests: ['iperf3' as const], available: true },
    { name: 'tap', summary: 'a tap device on a host bridge', pair: 'host<->guest' as const, tests: ['iperf3' as const, 'txonly' as const, 'rxonly' as const], available: true },
    { name: 'af-xdp', summary: "QEMU's AF_XDP netdev on a veth", pair: 'host<->guest' as const, tests: ['iperf3' as const, 'txonly' as const], available: false, reason: "this QEMU has no af-xdp netdev: install a QEMU built with libxdp (apt install qemu-system-x86 from bookworm-backports)" },
  ],
};

/** A VM manager with no VMs, for tests that do not start QEMU (vmBackends: none, or `backends`). */
export function noVms(backends?: typeof FAKE_VM_BACKENDS): import('../../benchmarks/server/vm-manager-api.js').VmManagerApi {
  const none = (vmId: string) => new LabError({ code: 'ENOVM', field: 'vmId', message: `vmId: no VM '${vmId}'` });
  return {
    start: async () => { throw new LabError({ code: 'EUNSUPPORTED', message: 'no VMs in this test' }); },
    stop: async (id) => { throw none(id); },
    list: () => [],
    console: (id) => { throw none(id); },
    qmpExecute: async (id) => { throw none(id); },
    qmpCommands: async (id) => { throw none(id); },
    qemuBinaries: async () => [],
    vmBackends: async () => (backends ? { qemu: backends.qemu, backends: backends.backends.map((b) => ({ ...b, tests: [...b.tests] })) } : { qemu: 'qemu-system-x86_64', backends: [] }),
    selectQemu: async (path) => { throw new LabError({ code: 'EINVALIDOPTION', field: 'path', message: `path: '${path}' is not a QEMU xdplab found; allowed: (none found)` }); },
    on: () => () => {},
    close: async () => {},
  };
}
