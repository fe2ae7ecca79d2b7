// The lab engine behind LabApi: one handler per command, each calling the engine (doctor's
// checks, `ip` for interfaces, the RunManager for runs and reports, the VM manager for VMs and
// QMP), and one event stream that merges the run and VM events after validating each against
// its schema. Both transports (the web server's WebSocket and Electron's IPC) put dispatch.ts
// in front of this; neither talks to the engine any other way.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import type { z } from 'zod';
import { LabError } from '../contracts/errors.js';
import { Commands, Events, type CommandName, type CommandResult, type EventMessage, type EventName, type EventPayload } from '../api/lab-api.js';
import { compareReports } from '../report/compare.js';
import { reportCsv, SEARCH_TRIALS_FILE, searchTrialsCsv } from '../report/csv.js';
import { reportHtml } from '../report/html.js';
import type { RunManagerApi } from '../runs/run-manager-api.js';
import type { Scenario } from '../contracts/scenario.js';
import type { VmManagerApi } from './vm-manager-api.js';

const execFileAsync = promisify(execFile);

/** Arguments after validation (defaults applied), and the arguments as they came. */
export type ParsedArgs<C extends CommandName> = z.output<(typeof Commands)[C]['args']>;
export type Handler<C extends CommandName> = (args: ParsedArgs<C>, raw: unknown) => Promise<CommandResult<C>>;
export type Handlers = { [C in CommandName]: Handler<C> };

export type DoctorResult = CommandResult<'doctor'>['checks'];
export type InterfaceInfo = CommandResult<'listInterfaces'>[number];

export interface LabServiceOptions {
  runs: RunManagerApi;
  vms: VmManagerApi;
  /** Default: doctor's own checks (benchmarks/doctor/doctor.ts runChecks). */
  doctor?: () => Promise<DoctorResult>;
  /** Default: `ip -j -d link` in the root namespace and in every named one (read-only). */
  listInterfaces?: () => Promise<InterfaceInfo[]>;
  /** Where dropped events and other server-side trouble are reported (default stderr). */
  warn?: (message: string) => void;
}

// ---- interfaces ------------------------------------------------------------------------------

interface IpLink {
  ifname?: string;
  flags?: string[];
  operstate?: string;
  link_type?: string;
  linkinfo?: { info_kind?: string };
  xdp?: { mode?: number; prog?: { id?: number; name?: string }; attached?: { mode?: number; prog?: { id?: number; name?: string } }[] };
}

/** XDP_ATTACHED_* as `ip` prints them. */
const XDP_MODES: Record<number, string> = { 1: 'native', 2: 'skb', 3: 'hw', 4: 'multi' };

/** "native: xsk_def_prog (id 2798)", "native: a (id 1), skb: b (id 2)", or "none". */
export function xdpText(link: IpLink): string {
  const x = link.xdp;
  if (!x) return 'none';
  const attached = x.attached?.length ? x.attached : x.prog ? [{ mode: x.mode, prog: x.prog }] : [];
  if (!attached.length) return x.mode ? XDP_MODES[x.mode] ?? `mode ${x.mode}` : 'none';
  return attached.map((a) => `${XDP_MODES[a.mode ?? 0] ?? `mode ${a.mode}`}: ${a.prog?.name ?? 'program'}${a.prog?.id !== undefined ? ` (id ${a.prog.id})` : ''}`).join(', ');
}

function sysfsDriver(name: string): string | undefined {
  try { return basename(readlinkSync(`/sys/class/net/${name}/device/driver`)); } catch { return undefined; }
}

/** One `ip -j -d link` listing turned into LabApi's interface rows. */
export function parseIpLinks(json: string, netns?: string): InterfaceInfo[] {
  const text = json.trim();
  if (!text) return [];
  const links = JSON.parse(text) as IpLink[];
  return links.filter((l) => typeof l.ifname === 'string').map((l) => ({
    name: l.ifname!,
    ...(netns ? { netns } : {}),
    driver: l.linkinfo?.info_kind ?? (netns ? undefined : sysfsDriver(l.ifname!)) ?? (l.link_type === 'loopback' ? 'loopback' : l.link_type ?? 'unknown'),
    up: (l.flags ?? []).includes('UP'),
    xdp: xdpText(l),
  }));
}

async function ip(args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync('ip', args, { timeout: 5000, maxBuffer: 16 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { code?: string; stderr?: string; message: string };
    if (e.code === 'ENOENT') throw new LabError({ code: 'ENOTOOL', message: "listInterfaces: 'ip' (iproute2) is not installed", hint: 'run npm run setup' });
    throw new LabError({ code: 'ECOMMAND', message: `listInterfaces: ip ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}` });
  }
}

export async function scanInterfaces(): Promise<InterfaceInfo[]> {
  const root = parseIpLinks(await ip(['-j', '-d', 'link', 'show']));
  const nsText = (await ip(['-j', 'netns', 'list'])).trim();
  const namespaces = nsText ? (JSON.parse(nsText) as { name: string }[]).map((n) => n.name) : [];
  const inNs = await Promise.all(namespaces.map(async (ns) => {
    // A namespace can disappear between the two calls (a lab closing): skip it.
    try { return parseIpLinks(await ip(['-n', ns, '-j', '-d', 'link', 'show']), ns); } catch { return []; }
  }));
  return [...root, ...inNs.flat()];
}

// ---- reports ---------------------------------------------------------------------------------

const EXPORTS = {
  html: { file: 'report.html', mediaType: 'text/html; charset=utf-8' },
  csv: { file: 'report.csv', mediaType: 'text/csv; charset=utf-8' },
  json: { file: 'report.json', mediaType: 'application/json' },
  'search-trials-csv': { file: SEARCH_TRIALS_FILE, mediaType: 'text/csv; charset=utf-8' },
} as const;

// ---- the service -----------------------------------------------------------------------------

type Listener = (message: EventMessage) => void;

export class LabService {
  readonly handlers: Handlers;
  private readonly listeners = new Set<Listener>();
  private readonly unsubscribe: (() => void)[] = [];
  private readonly warn: (message: string) => void;

  constructor(private readonly opts: LabServiceOptions) {
    this.warn = opts.warn ?? ((m) => process.stderr.write(`xdplab: ${m}\n`));
    const { runs, vms } = opts;
    this.handlers = {
      doctor: async () => ({ checks: await (opts.doctor ?? defaultDoctor)() }),
      listInterfaces: async () => (opts.listInterfaces ?? scanInterfaces)(),
      startRun: async (args, raw) => {
        // Only the fields the caller gave: the schema fills in every default, and the run
        // engine must see which fields were left out for `quick` to choose its own.
        const given = rawKeys(raw, 'scenario');
        const scenario = Object.fromEntries(Object.entries(args.scenario).filter(([k]) => given.has(k)));
        const started = await runs.start(scenario, args.quick === undefined ? {} : { quick: args.quick });
        // The run reports its end through runState events; a rejection here is not a crash.
        started.done.catch(() => {});
        return { runId: started.runId };
      },
      planRun: async (args, raw) => {
        const given = rawKeys(raw, 'scenario');
        const scenario = Object.fromEntries(Object.entries(args.scenario).filter(([k]) => given.has(k)));
        // The boot time comes from the QEMU's boots cached in the state dir (VMs of the VMs page and of earlier runs).
        return runs.plan(scenario, args.quick === undefined ? {} : { quick: args.quick });
      },
      stopRun: async ({ runId }) => ({ stopped: await runs.stop(runId) }),
      listRuns: async () => runs.list().map(({ runId, createdAt, status, command, rows }) => ({ runId, createdAt, status, command, rows })),
      getReport: async ({ runId }) => runs.report(runId),
      compareReports: async ({ a, b }) => {
        const c = compareReports(runs.report(a), runs.report(b));
        return {
          rows: c.rows.map((r) => ({ key: r.key, metric: r.metric, a: r.a, b: r.b, relative: r.difference.relative, ci95: r.difference.ci95, beyondNoise: r.difference.beyondNoise })),
          onlyInA: c.onlyInA,
          onlyInB: c.onlyInB,
        };
      },
      exportReport: async ({ runId, format }) => {
        const { file, mediaType } = EXPORTS[format];
        const path = join(runs.directory(runId), file);
        let content: string;
        if (existsSync(path)) content = readFileSync(path, 'utf8');
        else {
          // Not written yet (a run that just started): build it from the report as it stands.
          const report = runs.report(runId);
          content = format === 'html' ? reportHtml(report) : format === 'csv' ? reportCsv(report) : format === 'search-trials-csv' ? searchTrialsCsv(report) : JSON.stringify(report, null, 1);
        }
        return { fileName: format === 'search-trials-csv' ? `xdplab-${runId}-search-trials.csv` : `xdplab-${runId}.${format}`, mediaType, content };
      },
      listVms: async () => vms.list(),
      startVm: async ({ backend, nic }) => vms.start({ backend, nic }),
      stopVm: async ({ vmId }) => ({ stopped: await vms.stop(vmId) }),
      vmConsole: async ({ vmId, tailBytes }) => ({ text: vms.console(vmId, tailBytes) }),
      qmpExecute: async ({ vmId, command, arguments: a }) => vms.qmpExecute(vmId, command, a),
      qmpCommands: async ({ vmId }) => vms.qmpCommands(vmId),
      runVms: async ({ runId }) => runs.runVms(runId),
      runQmp: async ({ runId, vm, command, arguments: a }) => runs.runQmp(runId, vm, command, a),
      runStep: async ({ runId, vm, action }) => runs.runStep(runId, vm, action),
      runQmpCommands: async ({ runId, vm }) => runs.runQmpCommands(runId, vm),
      vmBackends: async () => vms.vmBackends(),
      qemuBinaries: async () => vms.qemuBinaries(),
      selectQemu: async ({ path }) => vms.selectQemu(path),
    };
    for (const event of ['runProgress', 'sample', 'runState', 'log', 'marker', 'runVms'] as const) {
      this.unsubscribe.push(runs.on(event, (p) => this.emit(event, p)));
    }
    for (const event of ['vmState', 'qmpEvent', 'log'] as const) {
      this.unsubscribe.push(vms.on(event, (p) => this.emit(event, p)));
    }
  }

  /** Every event, validated, as the wire message both transports send. */
  onEvent(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  /** Validates an engine event against its schema and hands it to every listener. */
  emit<E extends EventName>(event: E, payload: EventPayload<E>): void {
    const parsed = Events[event].safeParse(payload);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      this.warn(`dropped a '${event}' event that does not match its schema: ${issue?.path.join('.') || '(payload)'}: ${issue?.message}`);
      return;
    }
    const message: EventMessage = { type: 'event', event, payload: parsed.data };
    for (const l of [...this.listeners]) {
      try { l(message); } catch (err) { this.warn(`an event listener failed: ${(err as Error).message}`); }
    }
  }

  /** Detaches from the engine and stops every VM. Runs are the RunManager's to end. */
  async close(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    this.listeners.clear();
    await this.opts.vms.close();
  }
}

async function defaultDoctor(): Promise<DoctorResult> {
  const { runChecks } = await import('../doctor/doctor.js');
  return runChecks();
}

/** The keys of raw[field] when it is an object (the fields the caller actually sent). */
function rawKeys(raw: unknown, field: string): Set<string> {
  const inner = raw && typeof raw === 'object' ? (raw as Record<string, unknown>)[field] : undefined;
  return new Set(inner && typeof inner === 'object' ? Object.keys(inner) : []);
}
