// Runs scenarios in the background: every planned row (of any row kind, rows/registry.ts) over
// its trials, row by row or A B A B; streams samples to samples.jsonl and rewrites the report
// after every trial, so a run that fails or is stopped halfway still leaves every measured
// sample and a report that says what happened.
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabError, describeError, parseOrThrow } from '../contracts/errors.js';
import { REPORT_SCHEMA_VERSION, ReportSchema, type Environment, type PeerHost, type Report, type Row, type Sample } from '../contracts/report.js';
import { QUICK, resolveScenario, type Scenario, type TimelineAction } from '../contracts/scenario.js';
import { RemotePeer } from '../agent/remote-peer.js';
import { HelperClient } from '../helper/client.js';
import { Lab } from '../lab/lab.js';
import { otherCpu, processTree, procTimes, waitForQuiet } from '../lab/quiet-machine.js';
import { recoverDeadRuns } from '../report/recovery.js';
import { checkExisting, type ForwardTopology, type PacketTopology } from '../lab/topology.js';
import { collectEnvironment } from '../report/environment.js';
import { summarize } from '../report/statistics.js';
import { ReportWriter } from '../report/writer.js';
import { NEEDS_ROOT, helperTopology } from '../rows/helper-session.js';
import { planRows } from '../rows/registry.js';
import type { PlannedRow, TrialContext } from '../rows/row-kind.js';
import { commandLinesOf } from '../vmbench/trial-error.js';
import type { CommandResult } from '../api/lab-api.js';
import type { Plan } from '../contracts/plan.js';
import { backendInfo } from '../qemu/backends.js';
import { measuredBoot, type MeasuredBoot } from '../qemu/boot-times.js';
import { resolveQemuBinary } from '../qemu/capabilities.js';
import type { RunEvents, RunManagerApi, RunSummary, StartedRun } from './run-manager-api.js';
import { RunTopologies } from './run-topologies.js';
import { trialSteps } from './trial-order.js';
import { TrialVms, type StepOutcome } from './trial-vms.js';

/** JSON has no NaN or Infinity: a metric a tool did not report is left out, not written as null. */
function finiteOnly(metrics: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).filter(([, v]) => Number.isFinite(v)));
}

/**
 * --peer-host: the agent there, its interface (--peer) checked, its environment for the report.
 * Nothing is created on this host before this succeeds.
 */
async function connectPeerHost(s: Scenario, here: Environment): Promise<{ remote: RemotePeer; report: PeerHost }> {
  const remote = await RemotePeer.connect({ host: s.peerHost!, ...(s.ssh ? { ssh: s.ssh } : {}) });
  try {
    const where = { ifname: s.peer!, ...(s.peerNetns ? { netns: s.peerNetns } : {}) };
    const info = await remote.linkInfo(where).catch((err: unknown) => {
      throw new LabError({ code: 'ENODEV', field: '--peer', message: `--peer: no interface '${s.peer}'${s.peerNetns ? ` in namespace '${s.peerNetns}'` : ''} on ${s.peerHost}`, hint: `ip link show there lists them (${describeError(err).slice(0, 200)})` });
    });
    const environment = await remote.environment();
    return {
      remote,
      report: {
        host: s.peerHost!, environment, interface: { name: info.ifname, ...(s.peerNetns ? { netns: s.peerNetns } : {}), mac: info.mac, mtu: info.mtu },
        sessions: remote.sessions,
        ran: `there: the peer's generator (rxonly, io, macswap), txonly's XDP drop sink and the iperf3 server, through xdplab agent --stdio over ssh; here: the engine under test and the iperf3 client`,
        latency: latencyAcross(here.clock, environment.clock),
      },
    };
  } catch (err) {
    await remote.close();
    throw err;
  }
}

/** How latency is measured across the hosts: round trips, and why not one-way (the clocks). */
function latencyAcross(here: Environment['clock'], there: Environment['clock']): string {
  const clocks = `clocks: here ${here?.detail ?? 'unknown'}; there ${there?.detail ?? 'unknown'}`;
  return here?.ptp && there?.ptp
    ? `round-trip (ICMP echo, the peer's kernel reflects, --latency): both hosts say PTP, but xdplab's stamps use CLOCK_MONOTONIC, which PTP does not set, so one-way latency is not measured across hosts yet (${clocks})`
    : `round-trip (ICMP echo, the peer's kernel reflects, --latency); one-way latency needs both clocks PTP-synchronised (${clocks})`;
}

export function defaultReportsDir(): string {
  return process.env.XDPLAB_REPORTS_DIR ?? join(process.cwd(), 'reports');
}

const parseReport = (text: string): Report => parseOrThrow(ReportSchema, JSON.parse(text));

/** A guest's boot to ready under TCG here (2.6 s median of 5, README), when none was measured. */
const TCG_BOOT_MS = 2600;
/** Setting up and tearing down a trial (topology checks, workers, tools), measured roughly. */
const TRIAL_OVERHEAD_MS = 1500;
const isGuestPair = (backend: string): boolean => backendInfo(backend).pair === 'guest<->guest';

function emptyRow(p: PlannedRow, s: Scenario, viaHelper: boolean): Row {
  const refused = viaHelper && p.viaHelper ? `${NEEDS_ROOT} (${p.viaHelper})` : undefined;
  const unavailable = p.unavailable ?? refused;
  return {
    id: p.id, test: p.test, tool: p.tool, mode: p.mode, ...(p.copy !== undefined ? { copy: p.copy } : {}), ...(p.frameBytes ? { frameBytes: p.frameBytes } : {}),
    ...(p.needs === 'packet' ? { queues: s.queues } : {}), ...(p.backend ? { backend: p.backend } : {}), ...(p.liveSource ? { liveSource: p.liveSource } : {}),
    ...(p.frameMix ? { frameMix: p.frameMix } : {}), ...(p.load ? { load: p.load } : {}),
    status: unavailable ? 'unavailable' : 'incomplete', reason: unavailable ?? 'not run yet', commandLines: [], trials: [], stats: {},
  };
}

/** A row's statistics and status from its trials. */
function finishRow(row: Row, stopped: boolean): void {
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
    const firstError = row.trials.find((t) => t.error)?.error;
    row.reason = row.status === 'incomplete' ? `${ok.length} of ${row.trials.length} trials completed${stopped ? ' (stopped)' : ''}${firstError ? `; ${firstError}` : ''}` : undefined;
  }
}

interface Active { stop: { stop: boolean }; done: Promise<Report>; vms?: TrialVms }

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
   * Validates, plans and starts a run in the background. First sweeps what runs that died left
   * (their resources, their unfinished reports): `recovered` says what it did. options.helper:
   * the socket of an xdplab helper that does the privileged steps (no root needed).
   */
  async start(partial: Record<string, unknown>, options: { quick?: boolean; command?: string[]; helper?: string } = {}): Promise<StartedRun> {
    const scenario = resolveScenario({ ...(options.quick ? QUICK : {}), ...partial });
    const helper = options.helper ?? this.helper;
    if (helper && scenario.ifname) {
      throw new LabError({ code: 'EINVALIDOPTION', field: '--ifname', message: '--ifname: with --helper the bench runs on the topology the helper creates', hint: 'drop --ifname/--peer, or run as root without --helper' });
    }
    if (scenario.ifname) checkExisting(scenario);
    if (!helper && process.getuid?.() !== 0) {
      throw new LabError({ code: 'EPERM', message: 'xdplab bench needs root (namespaces, XDP programs, AF_XDP sockets)', hint: 'run it with sudo, or through xdplab helper (--helper SOCKET)' });
    }
    const tools: Record<string, string> = {};
    const plans = await planRows(scenario, { tools });
    const environment = collectEnvironment();
    environment.tools = { ...environment.tools, ...tools };
    // The peer host first: one that does not answer is an error before anything exists here.
    const peer = scenario.peerHost ? await connectPeerHost(scenario, environment) : undefined;
    const recovered = recoverDeadRuns();
    for (const line of recovered) this.emit('log', { level: 'info', source: 'bench', message: `a run that died left: ${line}`, time: new Date().toISOString() });
    const runId = randomBytes(3).toString('hex');
    const report: Report = {
      schemaVersion: REPORT_SCHEMA_VERSION, id: runId, createdAt: new Date().toISOString(), status: 'incomplete',
      command: options.command ?? ['xdplab', 'bench'], scenario: { ...scenario, quick: !!options.quick }, environment,
      ...(peer ? { peerHost: peer.report } : {}),
      rows: plans.map((p) => emptyRow(p, scenario, !!helper)), samples: [], markers: [],
    };
    let writer: ReportWriter;
    try {
      writer = new ReportWriter(this.reportsDir, report);
    } catch (err) {
      await peer?.remote.close();
      throw err;
    }
    const stop = { stop: false };
    const active: Active = { stop, done: Promise.resolve(report) };
    this.active.set(runId, active);
    const done = this.execute(writer, scenario, plans, stop, helper, active, peer?.remote);
    active.done = done;
    done.finally(() => this.active.delete(runId)).catch(() => { /* reported in the report */ });
    this.emit('runState', { runId, state: 'running', reportDir: writer.dir });
    return { runId, dir: writer.dir, done, recovered };
  }

  private async execute(writer: ReportWriter, s: Scenario, plans: PlannedRow[], stop: { stop: boolean }, helperPath: string | undefined, active: Active, remote?: RemotePeer): Promise<Report> {
    const report = writer.report;
    const runId = report.id;
    let lab: Lab | undefined;
    let helper: HelperClient | undefined;
    let failure: string | undefined;
    const shared = new Map<string, Promise<unknown>>();
    const log = (message: string, level: 'info' | 'warn' = 'warn') => this.emit('log', { level, source: 'bench', message, time: new Date().toISOString() });
    try {
      lab = new Lab('bench');
      lab.setReportDir(writer.dir);
      if (helperPath) helper = (await HelperClient.connect(helperPath)).client;
      const topologies = new RunTopologies(lab, s, (why) => log(why), report.peerHost?.interface.mac);
      let fromHelper: { packet: PacketTopology; macs: { dut: string; peer: string } } | undefined;
      const runnable = plans.map((plan, index) => ({ plan, row: report.rows[index]!, index })).filter((r) => r.row.status !== 'unavailable');
      for (const r of runnable) r.row.reason = undefined;
      /** Rows whose remaining trials are skipped (their topology is gone, their tool missing). */
      const finished = new Set<number>();
      const steps = trialSteps(runnable, s.trials, s.interleave);
      for (const [step, { row: { plan, row, index }, trial }] of steps.entries()) {
        if (stop.stop) break;
        if (finished.has(index)) continue;
        let packet: PacketTopology | undefined;
        let forward: ForwardTopology | undefined;
        let macs: { dut: string; peer: string } | undefined;
        try {
          if (plan.needs === 'forward') forward = topologies.forwardTopology();
          else if (plan.needs === 'packet') {
            if (helper) {
              fromHelper ??= await helperTopology(helper, s.queues);
              ({ packet, macs } = fromHelper);
            } else {
              packet = topologies.packetTopology();
              macs = topologies.macs;
            }
            const interfaces = (remote ? [packet.dut] : [packet.dut, packet.peer]).map((e) => ({ name: e.ifname, ...(e.netns ? { netns: e.netns } : {}), driver: 'veth' }));
            if (JSON.stringify(interfaces) !== JSON.stringify(report.environment.interfaces)) {
              report.environment.interfaces = interfaces;
              writer.save();
            }
          }
        } catch (err) {
          // Interfaces the user named are gone: this row fails, and so will the ones after it.
          row.trials.push({ index: trial, startedAt: new Date().toISOString(), durationMs: 0, status: 'failed', error: describeError(err), metrics: {} });
          finished.add(index);
          finishRow(row, false);
          writer.save();
          continue;
        }
        const progress = (phase: 'setup' | 'warmup' | 'measure' | 'teardown', message?: string) => this.emit('runProgress', {
          runId, row: plan.id, rowIndex: index, rows: plans.length, trial, trials: s.trials, phase, ...(message ? { message } : {}),
          fraction: Math.min(1, (step + (phase === 'measure' ? 0.5 : phase === 'teardown' ? 0.9 : 0.1)) / steps.length),
        });
        const trialLab = plan.needs === 'trial-lab' ? new Lab('vmbench') : undefined;
        // A VM row's trial: its VMs for runVms/runQmp, its QMP events and timeline as markers.
        const trialVms = plan.backend ? new TrialVms({
          row: plan.id, backend: plan.backend, trial,
          timeline: s.timeline.filter((t) => !t.rows || t.rows.includes(plan.id)),
          marker: (m) => { writer.marker(m); this.emit('marker', { runId, marker: m }); },
          vmsChanged: (vms) => this.emit('runVms', { runId, row: plan.id, trial, vms: vms.map((v) => ({ name: v.vm.name, backend: plan.backend! })) }),
        }) : undefined;
        active.vms = trialVms;
        const ctx: TrialContext = {
          lab: trialLab ?? lab, scenario: s, row: plan, trial, stopSignal: stop, phase: progress, ...(helper ? { helper } : {}), ...(remote ? { remote } : {}),
          ...(packet ? { packet } : {}), ...(forward ? { forward } : {}), ...(macs ? { macs } : {}),
          sample: (x: Sample) => { writer.sample(x); this.emit('sample', { runId, sample: x }); },
          once: <T>(key: string, make: () => Promise<T>): Promise<T> => {
            const known = shared.get(key);
            if (known) return known as Promise<T>;
            const made = make();
            shared.set(key, made);
            return made;
          },
          noteTool: (name, value) => { report.environment.tools[name] = value; },
          ...(trialVms ? { vms: { onQmp: trialVms.onQmp, onVms: trialVms.onVms, onWindow: trialVms.onWindow } } : {}),
        };
        const startedAt = new Date().toISOString();
        const t0 = Date.now();
        try {
          progress('setup');
          // A session lost in an earlier trial: a new one (or this trial fails with ssh's words).
          if (remote?.lost) {
            log(`${plan.id} trial ${trial}: ${remote.lost.message}; connecting to ${remote.host} again`, 'info');
            await remote.reconnect();
          }
          const out = await this.disciplined(s, () => plan.run(ctx), (why) => log(`${plan.id} trial ${trial}: ${why}`, 'info'));
          // The peer host's side went away during the trial: its figures are not a measurement.
          if (remote?.lost) throw remote.lost;
          row.trials.push({ index: trial, startedAt, durationMs: Date.now() - t0, status: 'ok', metrics: finiteOnly(out.metrics), ...(out.search ? { search: out.search } : {}), ...(out.latency ? { latency: out.latency } : {}), ...(out.stream ? { stream: out.stream } : {}) });
          for (const c of out.commandLines) if (!row.commandLines.includes(c)) row.commandLines.push(c);
          if (out.attached) row.attached = out.attached;
        } catch (err) {
          // When a fault took part of the lab away, say that first: it is the cause.
          const damage = plan.needs === 'trial-lab' ? null : topologies.damage();
          const text = damage ? `${damage} (the trial then failed: ${describeError(err)})` : describeError(err);
          row.trials.push({ index: trial, startedAt, durationMs: Date.now() - t0, status: 'failed', error: text, metrics: {} });
          for (const c of commandLinesOf(err)) if (!row.commandLines.includes(c)) row.commandLines.push(c);
          if (err instanceof LabError && err.code === 'ENOTOOL') { row.status = 'unavailable'; row.reason = text; finished.add(index); }
          else log(`${plan.id} trial ${trial}: ${text}`);
        } finally {
          trialVms?.close();
          if (active.vms === trialVms) active.vms = undefined;
          trialLab?.close();
        }
        if (trial === s.trials - 1) finishRow(row, false);
        writer.save();
      }
    } catch (err) {
      failure = describeError(err);
    } finally {
      lab?.close();
      helper?.close(); // the helper removes the session's topology and programs
      await remote?.close(); // the agent there removes what it made when its input closes
    }
    const stopped = stop.stop;
    for (const r of report.rows) {
      if (r.status !== 'incomplete') continue;
      if (r.trials.length) finishRow(r, stopped);
      else r.reason = stopped ? 'not run: the run was stopped' : failure ? `not run: ${failure}` : 'not run yet';
    }
    const status = failure ? 'failed' : stopped || report.rows.some((r) => r.status === 'incomplete' || r.status === 'failed') ? 'incomplete' : 'complete';
    writer.finish(status, failure ?? (stopped ? 'stopped before the end' : undefined));
    this.emit('runState', { runId, state: failure ? 'failed' : stopped ? 'stopped' : status, reportDir: writer.dir, ...(failure ? { error: failure } : {}) });
    return report;
  }

  /**
   * The quiet-machine discipline, for scenarios that ask for it: before the trial, wait for other
   * processes to go quiet; after it, if they used more than allowed during the trial (the run's
   * own process tree excluded), the trial was disturbed and runs again (twice at most).
   */
  private async disciplined<T>(s: Scenario, trial: () => Promise<T>, note: (why: string) => void): Promise<T> {
    const q = s.quiet;
    if (!q) return trial();
    for (let attempt = 0; ; attempt++) {
      const waited = await waitForQuiet(q.maxOtherCpus, processTree(procTimes(), process.pid), q.waitMs);
      if (waited.last.cpus > q.maxOtherCpus) note(`the machine did not go quiet in ${Math.round(waited.waitedMs / 1000)} s (others used ${waited.last.cpus.toFixed(2)} CPUs)`);
      const before = procTimes();
      const out = await trial();
      const after = procTimes();
      const others = otherCpu(before, after, processTree(after, process.pid));
      if (others.cpus <= q.maxOtherCpus || attempt >= 2) return out;
      note(`disturbed (${others.top.map((u) => `${u.comm} ${u.cpus.toFixed(2)}`).join(', ')}): run again`);
    }
  }

  async plan(partial: Record<string, unknown>, options: { quick?: boolean; bootMs?: number; stateDir?: string } = {}): Promise<Plan> {
    const s = resolveScenario({ ...(options.quick ? QUICK : {}), ...partial });
    const rows = await planRows(s);
    const runnable = rows.filter((r) => !r.unavailable);
    const vmsPerTrial = (r: PlannedRow) => (r.backend ? (r.test === 'iperf3' && isGuestPair(r.backend) ? 2 : 1) : 0);
    const vmBoots = runnable.reduce((n, r) => n + vmsPerTrial(r) * s.trials, 0);
    // The boot time: the caller's measurement, else this QEMU's boots cached in the state dir
    // (every VM that reaches userspace records one), else the assumption.
    let measured: MeasuredBoot | undefined;
    if (options.bootMs === undefined && s.vm) {
      try { measured = measuredBoot(resolveQemuBinary(s.vm.qemu).realPath, options.stateDir); } catch { /* no QEMU: its rows say so */ }
    }
    const bootMs = options.bootMs ?? measured?.bootMs ?? TCG_BOOT_MS;
    const bootBasis = options.bootMs !== undefined ? 'measured: the VMs started in this session'
      : measured ? `measured: median of the last ${measured.boots} boot${measured.boots === 1 ? '' : 's'} of ${measured.path} (${measured.accel}) here`
        : `assumed: ${TCG_BOOT_MS / 1000} s (TCG on this class of machine); no VM of this QEMU has booted here yet`;
    // Per trial: setup and teardown, the warm-up and the window (VM iperf3: both directions), the boot.
    const trialMs = (r: PlannedRow) => TRIAL_OVERHEAD_MS + s.warmupMs + s.durationMs * (r.backend && r.test === 'iperf3' ? 2 : 1) + (r.backend ? bootMs : 0);
    return {
      rows: rows.map((r) => ({ id: r.id, kind: r.kind, test: r.test, tool: r.tool, mode: r.mode, ...(r.backend ? { backend: r.backend } : {}), ...(r.unavailable ? { unavailable: r.unavailable } : {}) })),
      trials: s.trials, vmBoots, bootMs, bootMeasured: options.bootMs !== undefined || measured !== undefined, bootBasis,
      estimatedMs: runnable.reduce((n, r) => n + trialMs(r) * s.trials, 0),
    };
  }

  runVms(runId: string): CommandResult<'runVms'> {
    const t = this.active.get(runId)?.vms;
    if (!t || !t.vms.length) return { vms: [] };
    return { row: t.o.row, trial: t.o.trial, vms: t.vms.map((v) => ({ name: v.vm.name, backend: t.o.backend })) };
  }

  /** The current trial's VMs of a run; ENOVM (listing what there is) when `vm` is not one. */
  private trialVms(runId: string, vm: string): TrialVms {
    const t = this.active.get(runId)?.vms;
    if (!t || !t.vms.length) {
      throw new LabError({ code: 'ENOVM', field: 'vm', message: `vm: run '${runId}' has no VM '${vm}' now: ${this.active.has(runId) ? 'its current trial has no VMs (a host row, or between VM rows)' : 'it is not running'}`, hint: 'runVms lists the VMs of the running trial' });
    }
    return t;
  }

  async runQmp(runId: string, vm: string, command: string, args?: Record<string, unknown>): Promise<unknown> {
    return this.trialVms(runId, vm).command(vm, command, args, 'console');
  }

  /** A timeline action on a VM of the running trial now (the QMP panel's buttons), as a timeline step does it; source 'console'. */
  async runStep(runId: string, vm: string, action: TimelineAction): Promise<StepOutcome> {
    return this.trialVms(runId, vm).step(vm, action, 'console');
  }

  async runQmpCommands(runId: string, vm: string): Promise<string[]> {
    return this.trialVms(runId, vm).commands(vm);
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
    return parseReport(readFileSync(join(this.directory(runId), 'report.json'), 'utf8'));
  }

  list(): RunSummary[] {
    if (!existsSync(this.reportsDir)) return [];
    const out: RunSummary[] = [];
    for (const name of readdirSync(this.reportsDir)) {
      const file = join(this.reportsDir, name, 'report.json');
      if (!existsSync(file)) continue;
      try {
        const r = parseReport(readFileSync(file, 'utf8'));
        out.push({ runId: r.id, createdAt: r.createdAt, status: r.status, command: r.command, rows: r.rows.length, dir: join(this.reportsDir, name) });
      } catch { /* a report being written: skip */ }
    }
    return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }
}
