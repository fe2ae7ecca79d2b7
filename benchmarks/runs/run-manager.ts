// Runs bench scenarios in the background, one row after another, each over its trials; streams
// samples to samples.jsonl and rewrites the report after every row, so a run that fails or is
// stopped halfway still leaves every measured sample and a report that says what happened.
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabError, describeError } from '../../native/errors.js';
import { Lab } from '../lab/lab.js';
import { collectEnvironment } from '../report/environment.js';
import { REPORT_SCHEMA_VERSION, type Report, type Row, type Sample } from '../report/schema.js';
import { ReportWriter } from '../report/writer.js';
import { QUICK, planRows, type RowPlan } from './plan.js';
import { runTrial, type TrialContext } from './row-runners.js';
import type { RunEvents, RunManagerApi, RunSummary } from './run-manager-api.js';
import { resolveScenario, type Scenario } from './scenario.js';
import { recoverDeadRuns } from './recovery.js';
import { summarize } from './statistics.js';
import { RunTopologies } from './run-topologies.js';
import { HelperClient } from '../helper/client.js';
import { helperTopology, unavailableThroughHelper } from '../helper/bench.js';
import { checkExisting, type ForwardTopology, type PacketTopology } from './topology.js';

/** JSON has no NaN or Infinity: a metric a tool did not report is left out, not written as null. */
function finiteOnly(metrics: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).filter(([, v]) => Number.isFinite(v)));
}

export function defaultReportsDir(): string {
  return process.env.XDPLAB_REPORTS_DIR ?? join(process.cwd(), 'reports');
}

interface Active { stop: { stop: boolean }; done: Promise<Report> }

export class RunManager implements RunManagerApi {
  private readonly events = new EventEmitter();
  private readonly active = new Map<string, Active>();

  /** helper: xdplab helper's socket for runs that give none ($XDPLAB_HELPER: the app's faces). */
  constructor(readonly reportsDir = defaultReportsDir(), readonly helper: string | undefined = process.env.XDPLAB_HELPER || undefined) {
    this.events.setMaxListeners(100);
  }

  on<E extends keyof RunEvents>(event: E, listener: (payload: RunEvents[E]) => void): () => void {
    this.events.on(event, listener);
    return () => { this.events.off(event, listener); };
  }

  private emit<E extends keyof RunEvents>(event: E, payload: RunEvents[E]): void {
    this.events.emit(event, payload);
  }

  /**
   * Starts a run in the background. First sweeps what runs that died left (their resources,
   * their unfinished reports): `recovered` says what it did. options.helper: the socket of an
   * xdplab helper that does the privileged steps (no root needed).
   */
  start(partial: Partial<Scenario>, options: { quick?: boolean; command?: string[]; helper?: string } = {}): { runId: string; dir: string; done: Promise<Report>; recovered: string[] } {
    const scenario = resolveScenario({ ...(options.quick ? QUICK : {}), ...partial });
    const helper = options.helper ?? this.helper;
    if (helper && scenario.ifname) {
      throw new LabError({ code: 'EINVALIDOPTION', field: '--ifname', message: '--ifname: with --helper the bench runs on the topology the helper creates', hint: 'drop --ifname/--peer, or run as root without --helper' });
    }
    if (scenario.ifname) checkExisting(scenario);
    if (!helper && process.getuid?.() !== 0) {
      throw new LabError({ code: 'EPERM', message: 'xdplab bench needs root (namespaces, XDP programs, AF_XDP sockets)', hint: 'run it with sudo, or through xdplab helper (--helper SOCKET)' });
    }
    const recovered = recoverDeadRuns();
    for (const line of recovered) this.emit('log', { level: 'info', source: 'bench', message: `a run that died left: ${line}`, time: new Date().toISOString() });
    const runId = randomBytes(3).toString('hex');
    const plans = planRows(scenario);
    const report: Report = {
      schemaVersion: REPORT_SCHEMA_VERSION, id: runId, createdAt: new Date().toISOString(), status: 'incomplete',
      command: options.command ?? ['xdplab', 'bench'], scenario: { ...scenario, quick: !!options.quick }, environment: collectEnvironment(),
      rows: plans.map((p) => this.emptyRow(p, scenario)), samples: [],
    };
    const writer = new ReportWriter(this.reportsDir, report);
    const stop = { stop: false };
    const done = this.execute(writer, scenario, plans, stop, helper);
    this.active.set(runId, { stop, done });
    done.finally(() => this.active.delete(runId)).catch(() => { /* reported in the report */ });
    this.emit('runState', { runId, state: 'running', reportDir: writer.dir });
    return { runId, dir: writer.dir, done, recovered };
  }

  private emptyRow(p: RowPlan, s: Scenario): Row {
    return {
      id: p.id, test: p.test, tool: p.tool, mode: p.mode, copy: p.copy, ...(p.frameBytes ? { frameBytes: p.frameBytes } : {}),
      queues: s.queues, status: 'incomplete', reason: 'not run yet', commandLines: [], trials: [], stats: {},
    };
  }

  private async execute(writer: ReportWriter, s: Scenario, plans: RowPlan[], stop: { stop: boolean }, helperPath?: string): Promise<Report> {
    const report = writer.report;
    const runId = report.id;
    let lab: Lab | undefined;
    let helper: HelperClient | undefined;
    let failure: string | undefined;
    try {
      lab = new Lab('bench');
      lab.setReportDir(writer.dir);
      if (helperPath) helper = (await HelperClient.connect(helperPath)).client;
      const log = (message: string, level: 'info' | 'warn' = 'warn') => this.emit('log', { level, source: 'bench', message, time: new Date().toISOString() });
      const topologies = new RunTopologies(lab, s, (why) => log(why));
      let fromHelper: { packet: PacketTopology; macs: { dut: string; peer: string } } | undefined;
      for (const [rowIndex, plan] of plans.entries()) {
        if (stop.stop) break;
        const row = report.rows[rowIndex]!;
        row.reason = undefined;
        const refused = helper && unavailableThroughHelper(plan);
        if (refused) { row.status = 'unavailable'; row.reason = refused; writer.save(); continue; }
        let packet: PacketTopology | undefined;
        let forward: ForwardTopology | undefined;
        let macs: { dut: string; peer: string } | undefined;
        try {
          if (plan.kind.startsWith('iperf3')) {
            forward = topologies.forwardTopology();
          } else {
            if (helper) {
              fromHelper ??= await helperTopology(helper, s.queues);
              ({ packet, macs } = fromHelper);
            } else {
              packet = topologies.packetTopology();
              macs = topologies.macs;
            }
            const interfaces = [packet.dut, packet.peer].map((e) => ({ name: e.ifname, ...(e.netns ? { netns: e.netns } : {}), driver: 'veth' }));
            if (JSON.stringify(interfaces) !== JSON.stringify(report.environment.interfaces)) {
              report.environment.interfaces = interfaces;
              writer.save();
            }
          }
        } catch (err) {
          // Interfaces the user named are gone: this row fails, and so will the ones after it.
          row.status = 'failed';
          row.reason = describeError(err);
          writer.save();
          continue;
        }
        for (let trial = 0; trial < s.trials && !stop.stop; trial++) {
          const progress = (phase: 'setup' | 'warmup' | 'measure' | 'teardown') => this.emit('runProgress', {
            runId, row: plan.id, rowIndex, rows: plans.length, trial, trials: s.trials, phase,
            fraction: Math.min(1, (rowIndex * s.trials + trial + (phase === 'measure' ? 0.5 : phase === 'teardown' ? 0.9 : 0.1)) / (plans.length * s.trials)),
          });
          const ctx: TrialContext = {
            lab, scenario: s, row: plan, trial, stopSignal: stop, phase: progress, ...(helper ? { helper } : {}),
            ...(packet ? { packet } : {}), ...(forward ? { forward } : {}), ...(macs ? { macs } : {}),
            sample: (x: Sample) => { writer.sample(x); this.emit('sample', { runId, sample: x }); },
          };
          const startedAt = new Date().toISOString();
          const t0 = Date.now();
          try {
            progress('setup');
            const out = await runTrial(ctx);
            row.trials.push({ index: trial, startedAt, durationMs: Date.now() - t0, status: 'ok', metrics: finiteOnly(out.metrics) });
            for (const c of out.commandLines) if (!row.commandLines.includes(c)) row.commandLines.push(c);
            if (out.attached) row.attached = out.attached;
          } catch (err) {
            // When a fault took part of the lab away, say that first: it is the cause.
            const damage = topologies.damage();
            const text = damage ? `${damage} (the trial then failed: ${describeError(err)})` : describeError(err);
            row.trials.push({ index: trial, startedAt, durationMs: Date.now() - t0, status: 'failed', error: text, metrics: {} });
            if (err instanceof LabError && err.code === 'ENOTOOL') { row.status = 'unavailable'; row.reason = text; break; }
            log(`${plan.id} trial ${trial}: ${text}`);
          }
        }
        this.finishRow(row, stop.stop);
        writer.save();
      }
    } catch (err) {
      failure = describeError(err);
    } finally {
      lab?.close();
      helper?.close(); // the helper removes the session's topology and programs
    }
    const stopped = stop.stop;
    for (const r of report.rows) if (r.status === 'incomplete' && r.reason === 'not run yet') r.reason = stopped ? 'not run: the run was stopped' : failure ? `not run: ${failure}` : r.reason;
    const status = failure ? 'failed' : stopped || report.rows.some((r) => r.status === 'incomplete' || r.status === 'failed') ? 'incomplete' : 'complete';
    writer.finish(status, failure ?? (stopped ? 'stopped before the end' : undefined));
    this.emit('runState', { runId, state: failure ? 'failed' : stopped ? 'stopped' : status, reportDir: writer.dir, ...(failure ? { error: failure } : {}) });
    return report;
  }

  private finishRow(row: Row, stopped: boolean): void {
    if (row.status === 'unavailable') return;
    const ok = row.trials.filter((t) => t.status === 'ok');
    const names = new Set(ok.flatMap((t) => Object.keys(t.metrics)));
    // A metric with no finite value in any trial (iperf3 without CPU figures) has no statistics.
    row.stats = Object.fromEntries([...names].flatMap((m) => {
      const values = ok.map((t) => t.metrics[m]!).filter((v) => Number.isFinite(v));
      return values.length ? [[m, summarize(values)]] : [];
    }));
    if (ok.length === 0) {
      row.status = stopped ? 'incomplete' : 'failed';
      row.reason = row.trials.find((t) => t.error)?.error ?? (stopped ? 'stopped before its first trial ended' : 'no trial completed');
    } else {
      row.status = ok.length < row.trials.length || stopped ? 'incomplete' : 'ok';
      if (row.status === 'incomplete') row.reason = `${ok.length} of ${row.trials.length} trials completed${stopped ? ' (stopped)' : ''}`;
    }
  }

  async stop(runId: string): Promise<boolean> {
    const a = this.active.get(runId);
    if (!a) return false;
    a.stop.stop = true;
    await a.done.catch(() => undefined);
    return true;
  }

  directory(runId: string): string {
    if (!/^[A-Za-z0-9._-]+$/.test(runId)) throw new LabError({ code: 'EINVALIDOPTION', field: 'runId', message: `runId: '${runId}' is not a run id` });
    const name = existsSync(this.reportsDir) ? readdirSync(this.reportsDir).find((d) => d.endsWith(`-${runId}`)) : undefined;
    if (!name) throw new LabError({ code: 'ENOENT', field: 'runId', message: `runId: no run '${runId}' in ${this.reportsDir}` });
    return join(this.reportsDir, name);
  }

  report(runId: string): Report {
    return JSON.parse(readFileSync(join(this.directory(runId), 'report.json'), 'utf8')) as Report;
  }

  list(): RunSummary[] {
    if (!existsSync(this.reportsDir)) return [];
    const out: RunSummary[] = [];
    for (const name of readdirSync(this.reportsDir)) {
      const file = join(this.reportsDir, name, 'report.json');
      if (!existsSync(file)) continue;
      try {
        const r = JSON.parse(readFileSync(file, 'utf8')) as Report;
        out.push({ runId: r.id, createdAt: r.createdAt, status: r.status, command: r.command, rows: r.rows.length, dir: join(this.reportsDir, name) });
      } catch { /* a report being written: skip */ }
    }
    return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }
}
