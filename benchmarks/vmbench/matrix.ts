// Runs `xdplab vm bench`: rows (backend x test) x trials, in the bench report's schema through
// the same ReportWriter (samples streamed to samples.jsonl, the report rewritten after every
// row). Each trial gets a Lab of its own, closed when the trial ends, so that whatever a runner
// starts (VMs, namespaces, taps, switches) is gone before the next trial, even when it fails. A
// runner's ENOTOOL makes its row unavailable; any other error fails that trial only, and the
// matrix goes on.
import { randomBytes } from 'node:crypto';
import { LabError, describeError } from '../../native/errors.js';
import { Lab } from '../lab/lab.js';
import { resolveQemuBinary, type QemuCapabilities } from '../qemu/capabilities.js';
import { ensureGuestImage } from '../qemu/guest-image.js';
import { collectEnvironment } from '../report/environment.js';
import { REPORT_SCHEMA_VERSION, type Report, type Row, type Sample } from '../report/schema.js';
import { ReportWriter } from '../report/writer.js';
import { summarize } from '../runs/statistics.js';
import { runIperf3Trial } from './iperf3-trial.js';
import { validateVmBench, type VmBenchOptions, type VmBenchProgress } from './options.js';
import { planVmRows, type VmRowPlan } from './plan.js';
import { capabilitiesFor, hostFacts } from './prerequisites.js';
import { runnerFor } from './registry.js';
import { commandLinesOf } from './trial-error.js';
import type { VmTrialContext } from './vm-trial.js';

export { validateVmBench, type VmBenchOptions, type VmBenchProgress } from './options.js';

/** The QEMU summary that goes into environment.tools. */
export function qemuTools(caps: QemuCapabilities): Record<string, string> {
  return {
    qemu: `${caps.versionText} (${caps.binary.path})`,
    'qemu-netdevs': caps.netdevHelp.join(','),
    'qemu-af-xdp': caps.afXdp.present ? `yes (${(caps.afXdp.members ?? []).join(',')})` : `no: ${caps.afXdp.reason ?? 'absent'}`,
    'qemu-accel': caps.kvm.usable ? 'kvm' : `tcg (${caps.kvm.detail})`,
  };
}

function emptyRow(p: VmRowPlan): Row {
  return {
    id: p.id, test: p.test, tool: p.test === 'iperf3' ? 'iperf3' : 'xdplab', mode: p.test === 'iperf3' ? 'tcp' : 'native', backend: p.backend,
    status: p.unavailable ? 'unavailable' : 'incomplete', reason: p.unavailable ?? 'not run yet', commandLines: [], trials: [], stats: {},
  };
}

function finishRow(row: Row, stopped: boolean): void {
  if (row.status === 'unavailable') return;
  const ok = row.trials.filter((t) => t.status === 'ok');
  const names = new Set(ok.flatMap((t) => Object.keys(t.metrics)));
  row.stats = {};
  for (const m of names) {
    const values = ok.map((t) => t.metrics[m]!).filter((v) => Number.isFinite(v));
    if (values.length) row.stats[m] = summarize(values);
  }
  if (ok.length === 0) {
    row.status = stopped ? 'incomplete' : 'failed';
    row.reason = row.trials.find((t) => t.error)?.error ?? (stopped ? 'stopped before its first trial ended' : 'no trial completed');
  } else {
    row.status = ok.length < row.trials.length || stopped ? 'incomplete' : 'ok';
    row.reason = row.status === 'incomplete' ? `${ok.length} of ${row.trials.length} trials completed${stopped ? ' (stopped)' : ''}${row.trials.find((t) => t.error) ? `; ${row.trials.find((t) => t.error)!.error}` : ''}` : undefined;
  }
}

export interface VmBenchHandle { dir: string; runId: string; done: Promise<Report>; stop(): void }

/** Validates, plans, and starts the run; `done` resolves with the final report. */
export async function startVmBench(o: VmBenchOptions, onProgress: (p: VmBenchProgress) => void = () => {}): Promise<VmBenchHandle> {
  const { backends, tests } = validateVmBench(o);
  const binary = resolveQemuBinary(o.qemu);
  const caps = await capabilitiesFor(binary.path);
  const host = o.host ?? hostFacts();
  const plans = planVmRows(backends, tests, caps, host);
  const environment = collectEnvironment();
  environment.tools = { ...environment.tools, ...qemuTools(caps) };
  const runId = randomBytes(3).toString('hex');
  const report: Report = {
    schemaVersion: REPORT_SCHEMA_VERSION, id: runId, createdAt: new Date().toISOString(), status: 'incomplete', command: o.command,
    scenario: {
      kind: 'vm-bench', backends, tests, durationMs: o.durationMs, trials: o.trials, nicModel: o.nicModel, qemu: binary.path, quick: !!o.quick,
      ...(o.faults?.length ? { faults: o.faults } : {}),
    },
    environment, rows: plans.map(emptyRow), samples: [],
  };
  const writer = new ReportWriter(o.reportsDir, report);
  const stop = { stop: false };
  const done = execute(writer, plans, o, binary.path, stop, onProgress);
  return { dir: writer.dir, runId, done, stop: () => { stop.stop = true; } };
}

async function execute(writer: ReportWriter, plans: VmRowPlan[], o: VmBenchOptions, qemuBinary: string, stop: { stop: boolean }, onProgress: (p: VmBenchProgress) => void): Promise<Report> {
  const report = writer.report;
  let failure: string | undefined;
  try {
    const image = plans.some((p) => !p.unavailable) ? await ensureGuestImage({}) : undefined;
    if (image) report.environment.tools['guest-kernel'] = image.manifest.kernelRelease;
    for (const [rowIndex, plan] of plans.entries()) {
      if (stop.stop) break;
      const row = report.rows[rowIndex]!;
      if (plan.unavailable) { writer.save(); continue; }
      const runner = runnerFor(plan.test);
      row.reason = undefined;
      for (let trial = 0; trial < o.trials && !stop.stop; trial++) {
        const progress = (message: string) => onProgress({
          rowIndex, rows: plans.length, row: plan.id, trial, trials: o.trials, message,
          fraction: Math.min(1, (rowIndex * o.trials + trial + 0.5) / (plans.length * o.trials)),
        });
        progress('starting');
        const lab = new Lab('vmbench');
        const ctx: VmTrialContext = {
          lab, qemuBinary, image: image!, backend: plan.backend, test: plan.test, rowId: plan.id, trial,
          durationMs: o.durationMs, warmupMs: 0, frameBytes: 64, mode: 'native', nicModel: o.nicModel,
          sample: (s: Sample) => writer.sample(s), progress, stopSignal: stop,
        };
        const startedAt = new Date().toISOString();
        const t0 = Date.now();
        try {
          const fault = o.faults?.find((f) => f.row === plan.id);
          const out = fault && plan.test === 'iperf3'
            ? await runIperf3Trial(ctx, { fault: fault.kind, ...(fault.afterMs !== undefined ? { faultAfterMs: fault.afterMs } : {}) })
            : await runner(ctx);
          row.trials.push({ index: trial, startedAt, durationMs: Date.now() - t0, status: 'ok', metrics: out.metrics });
          for (const c of out.commandLines) if (!row.commandLines.includes(c)) row.commandLines.push(c);
          if (out.attached) row.attached = out.attached;
        } catch (err) {
          const text = describeError(err);
          row.trials.push({ index: trial, startedAt, durationMs: Date.now() - t0, status: 'failed', error: text, metrics: {} });
          for (const c of commandLinesOf(err)) if (!row.commandLines.includes(c)) row.commandLines.push(c);
          if (err instanceof LabError && err.code === 'ENOTOOL') { row.status = 'unavailable'; row.reason = text; break; }
        } finally {
          lab.close();
        }
      }
      finishRow(row, stop.stop);
      writer.save();
    }
  } catch (err) {
    failure = describeError(err);
  }
  const stopped = stop.stop;
  for (const r of report.rows) if (r.status === 'incomplete' && r.reason === 'not run yet') r.reason = stopped ? 'not run: the run was stopped' : failure ? `not run: ${failure}` : r.reason;
  const status = failure ? 'failed' : stopped || report.rows.some((r) => r.status === 'incomplete' || r.status === 'failed') ? 'incomplete' : 'complete';
  writer.finish(status, failure ?? (stopped ? 'stopped before the end' : undefined));
  return report;
}
