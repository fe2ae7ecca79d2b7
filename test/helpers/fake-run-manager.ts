// A stand-in RunManager for tests of the faces: each run streams the samples of a small report
// (sampleReport) as runProgress and sample events, then writes the report with ReportWriter
// and says complete. Runs started later are faster by `speedup` (for compare tests).
import { EventEmitter } from 'node:events';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { ReportWriter } from '../../benchmarks/report/writer.js';
import type { Plan } from '../../benchmarks/contracts/plan.js';
import type { Report } from '../../benchmarks/contracts/report.js';
import type { RunEvents, RunManagerApi, RunSummary, StartedRun } from '../../benchmarks/runs/run-manager-api.js';
import type { Scenario } from '../../benchmarks/contracts/scenario.js';
import { sampleReport } from './sample-report.js';

interface FakeRun { id: string; writer?: ReportWriter; report: Report; timer?: NodeJS.Timeout; status: string; done: Promise<Report>; finish: (r: Report) => void; scenario: Partial<Scenario>; quick?: boolean }

export class FakeRunManager implements RunManagerApi {
  readonly runs = new Map<string, FakeRun>();
  readonly started: { scenario: Record<string, unknown>; quick?: boolean }[] = [];
  private readonly emitter = new EventEmitter();
  private seq = 0;

  constructor(private readonly dir: string, private readonly opts: { intervalMs?: number; speedup?: number } = {}) {}

  async start(input: Record<string, unknown>, options: { quick?: boolean; command?: string[] } = {}): Promise<StartedRun> {
    const scenario = input;
    if (typeof scenario.trials === 'number' && scenario.trials > 50) throw new LabError({ code: 'EINVALIDOPTION', field: '--trials', message: '--trials: at most 50 here' });
    this.started.push({ scenario, ...(options.quick !== undefined ? { quick: options.quick } : {}) });
    const n = this.seq++;
    const id = `fake${n}-${Date.now().toString(36)}`;
    const factor = (1 + (this.opts.speedup ?? 0.2)) ** n;
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

  async plan(input: Record<string, unknown>): Promise<Plan> {
    if (typeof input.trials === 'number' && input.trials > 50) throw new LabError({ code: 'EINVALIDOPTION', field: '--trials', message: '--trials: at most 50 here' });
    return { rows: [{ id: 'txonly-native-64B', kind: 'engine', test: 'txonly', tool: 'xdplab', mode: 'native' }], trials: 1, vmBoots: 0, bootMs: 2600, bootMeasured: false, estimatedMs: 4000 };
  }

  runVms(_runId: string): { vms: [] } {
    return { vms: [] };
  }

  async runQmp(runId: string, vm: string): Promise<unknown> {
    throw new LabError({ code: 'ENOVM', field: 'vm', message: `vm: run '${runId}' has no VM '${vm}' (a fake run has no VMs)` });
  }

  async runQmpCommands(runId: string, vm: string): Promise<string[]> {
    return this.runQmp(runId, vm).then(() => []);
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

/** A VM manager with no VMs, for tests that do not start QEMU. */
export function noVms(): import('../../benchmarks/server/vm-manager-api.js').VmManagerApi {
  const none = (vmId: string) => new LabError({ code: 'ENOVM', field: 'vmId', message: `vmId: no VM '${vmId}'` });
  return {
    start: async () => { throw new LabError({ code: 'EUNSUPPORTED', message: 'no VMs in this test' }); },
    stop: async (id) => { throw none(id); },
    list: () => [],
    console: (id) => { throw none(id); },
    qmpExecute: async (id) => { throw none(id); },
    qmpCommands: async (id) => { throw none(id); },
    qemuBinaries: async () => [],
    vmBackends: async () => ({ qemu: 'qemu-system-x86_64', backends: [] }),
    selectQemu: async (path) => { throw new LabError({ code: 'EINVALIDOPTION', field: 'path', message: `path: '${path}' is not a QEMU xdplab found; allowed: (none found)` }); },
    on: () => () => {},
    close: async () => {},
  };
}
