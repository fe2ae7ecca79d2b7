// `xdplab run FILE`: a scenario file (benchmarks/scenarios/*.json, scenario.schema.json) read and
// validated, its plan printed (every row, the unavailable ones with their reason, VM boots, the
// estimated duration), then run like `xdplab bench` (progress bar, table, report).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { LabError, schemaError } from '../../contracts/errors.js';
import type { Plan } from '../../contracts/plan.js';
import { FILE_ONLY_KEYS, ScenarioFileSchema, type ScenarioFile } from '../../contracts/scenario-file.js';
import { QUICK, resolveScenario, scenarioFlags, type TimelineStep } from '../../contracts/scenario.js';
import { UsageError, type Io } from '../io.js';

export const RUN_USAGE = `Usage: xdplab run FILE [--plan] [--json] [--out DIR] [--quick]

Runs the scenario in FILE, a JSON scenario file (format: README "Scenario files and xdplab run";
JSON Schema: benchmarks/scenarios/scenario.schema.json; examples: benchmarks/scenarios/*.json).
Prints the plan first: every row, the unavailable ones with the reason (a backend this QEMU
cannot run, a tool that is missing), the VM boots and the estimated duration. Then runs it as
xdplab bench does: a progress bar, a table, and reports/<time>-<id>/.

Options:
  --plan        print the plan and stop (exit 0; 1 when no row can run)
  --json        print the plan (with --plan) or the report as JSON
  --out DIR     reports directory (default ./reports)
  --quick       one short trial per row: overrides the file's durationMs, warmupMs and trials
  -h, --help    this help
`;

/** A field path as a scenario file's author reads it: vm.backends[1], timeline[0].action.kind. */
export function filePath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)), '');
}

export interface LoadedScenarioFile {
  file: string;
  title: string;
  description?: string;
  timeline: TimelineStep[];
  /** The scenario's fields as written (defaults left to ScenarioSchema, so quick can choose). */
  scenario: Record<string, unknown>;
}

/** A bad file: the message names the file, the field and what it allows. */
function bad(file: string, message: string): UsageError {
  return new UsageError(`xdplab run: ${file}: ${message}`);
}

/**
 * Reads and validates a scenario file; every problem is a UsageError naming the file, the field
 * path and what is allowed. Checks beyond the schema: backend names, the cross-field rules of
 * resolveScenario, and timeline steps that name rows the scenario does not have.
 */
export async function loadScenarioFile(file: string): Promise<LoadedScenarioFile> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw bad(file, code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not a scenario file' : `cannot read it (${(err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw bad(file, `not valid JSON (${(err as Error).message}); a scenario file is JSON (benchmarks/scenarios/scenario.schema.json)`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw bad(file, 'expected a JSON object (a scenario with a title)');
  const parsed = ScenarioFileSchema.safeParse(json);
  if (!parsed.success) throw bad(file, schemaError(parsed.error.issues, json, filePath).message);
  const data: ScenarioFile = parsed.data;
  const scenario = Object.fromEntries(Object.entries(json as Record<string, unknown>).filter(([k]) => !(FILE_ONLY_KEYS as readonly string[]).includes(k)));
  // Backend names and aliases are the QEMU layer's vocabulary, not the schema's.
  let rowIds: string[] = [];
  if (data.vm) {
    const { expandBackends } = await import('../../qemu/backends.js');
    const backends: string[] = [];
    for (const [i, name] of data.vm.backends.entries()) {
      try {
        backends.push(...expandBackends([name]));
      } catch (err) {
        throw bad(file, `vm.backends[${i}]: ${err instanceof LabError ? err.message.replace(/^backends: /, '') : String(err)}`);
      }
    }
    rowIds = backends.flatMap((b) => data.vm!.tests.map((t) => `${b}/${t}`));
  }
  for (const [i, step] of data.timeline.entries()) {
    if (!data.vm) throw bad(file, `timeline[${i}]: a timeline acts on VM rows; the scenario has none (add vm: {backends, tests})`);
    for (const [j, row] of (step.rows ?? []).entries()) {
      if (!rowIds.includes(row)) throw bad(file, `timeline[${i}].rows[${j}]: no row '${row}' in this scenario; its VM rows: ${rowIds.join(', ')}`);
    }
  }
  for (const [i, f] of (data.vm?.faults ?? []).entries()) {
    if (!rowIds.includes(f.row)) throw bad(file, `vm.faults[${i}].row: no row '${f.row}' in this scenario; its VM rows: ${rowIds.join(', ')}`);
  }
  try {
    resolveScenario(scenario);
  } catch (err) {
    if (!(err instanceof LabError)) throw bad(file, String(err));
    // resolveScenario words its rules for the CLI (--engines, --peer): name the file's fields.
    const key = scenarioFlags().find((f) => f.flag === err.field)?.key;
    throw bad(file, key && err.field ? err.message.replace(`${err.field}:`, `${key}:`) : err.message);
  }
  return { file, title: data.title, timeline: data.timeline, ...(data.description ? { description: data.description } : {}), scenario };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(ms % 1000 ? 1 : 0)} s`;

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** Timeline steps that will not run: after the measured window they were meant for. */
export function lateSteps(scenario: Record<string, unknown>, quick: boolean): string[] {
  const s = resolveScenario({ ...scenario, ...(quick ? QUICK : {}) });
  return s.timeline.flatMap((step, i) => (step.atMs >= s.durationMs ? [`timeline[${i}] at ${seconds(step.atMs)} is after the measured window (${seconds(s.durationMs)}): it will not run`] : []));
}

function stepText(a: TimelineStep['action']): string {
  switch (a.kind) {
    case 'set_link': return `set_link ${a.up ? 'on' : 'off'}`;
    case 'qmp': return `QMP ${a.command}`;
    default: return a.kind;
  }
}

/** The plan as text: title, rows (with why a row cannot run), VM boots, the estimate. */
export function planText(loaded: LoadedScenarioFile, plan: Plan, notes: string[] = []): string {
  const width = Math.max(3, ...plan.rows.map((r) => r.id.length));
  const runnable = plan.rows.filter((r) => !r.unavailable);
  const lines = [
    `${loaded.title} (${loaded.file})`,
    `plan: ${runnable.length} of ${plan.rows.length} rows can run, ${plan.trials} trial${plan.trials === 1 ? '' : 's'} each`,
    ...plan.rows.map((r) => `  ${r.id.padEnd(width)}  ${r.unavailable ? `unavailable: ${r.unavailable}` : `runs (${r.tool}${r.backend ? `, backend ${r.backend}` : ''})`}`),
    ...loaded.timeline.map((t) => `timeline: at ${seconds(t.atMs)} ${stepText(t.action)} on ${t.rows?.join(', ') ?? 'every VM row'}${t.vm ? ` (VM ${t.vm})` : ''}`),
    `VM boots: ${plan.vmBoots}${plan.vmBoots ? ` (${seconds(plan.bootMs)} each, ${plan.bootBasis ?? (plan.bootMeasured ? 'measured here' : 'assumed: TCG on this class of machine')})` : ''}`,
    `estimated duration: ${duration(plan.estimatedMs)}`,
    ...notes.map((n) => `note: ${n}`),
  ];
  return lines.join('\n') + '\n';
}

const RUN_OPTIONS = { plan: { type: 'boolean' }, json: { type: 'boolean' }, quick: { type: 'boolean' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

export function parseRunArgs(args: string[]): { file?: string; plan: boolean; json: boolean; quick: boolean; out?: string; help: boolean } {
  let parsed;
  try {
    parsed = parseArgs({ args, strict: true, allowPositionals: true, options: RUN_OPTIONS });
  } catch (err) {
    throw new UsageError(`xdplab run: ${(err as Error).message}`);
  }
  const { values, positionals } = parsed;
  const help = values.help === true;
  if (!help && positionals.length !== 1) throw new UsageError(`xdplab run: ${positionals.length ? `one scenario file, got ${positionals.length}: ${positionals.join(' ')}` : 'which scenario file? (xdplab run FILE; examples in benchmarks/scenarios/)'}`);
  return { ...(positionals[0] !== undefined ? { file: positionals[0] } : {}), plan: values.plan === true, json: values.json === true, quick: values.quick === true, ...(values.out ? { out: values.out } : {}), help };
}

export async function run(args: string[], io: Io): Promise<number> {
  const a = parseRunArgs(args);
  if (a.help || a.file === undefined) { io.out(RUN_USAGE); return 0; }
  const loaded = await loadScenarioFile(a.file);
  // --quick makes the file's run short: its trials and durations give way.
  const scenario = a.quick ? { ...loaded.scenario, ...QUICK } : loaded.scenario;
  const { RunManager } = await import('../../runs/run-manager.js');
  const plan = await new RunManager(a.out).plan(scenario, { quick: a.quick }).catch((err: unknown) => {
    // The file's QEMU path that is no QEMU is bad input, named like the schema's errors.
    if (err instanceof LabError && err.code === 'QEMU_NOT_FOUND' && err.field === 'qemu') throw bad(a.file!, `vm.qemu: ${err.message} (${err.hint ?? ''})`);
    throw err;
  });
  const notes = lateSteps(loaded.scenario, a.quick);
  const runnable = plan.rows.some((r) => !r.unavailable);
  if (a.plan) {
    if (a.json) io.out(JSON.stringify({ file: loaded.file, title: loaded.title, ...(loaded.description ? { description: loaded.description } : {}), plan, notes }, null, 1) + '\n');
    else io.out(planText(loaded, plan, notes));
    return runnable ? 0 : 1;
  }
  // With --json stdout holds the report only: the plan goes to stderr.
  (a.json ? io.err : io.out)(planText(loaded, plan, notes) + '\n');
  const { runScenario } = await import('./bench.js');
  const { vmReportTable } = await import('./vm-bench.js');
  const vmOnly = Array.isArray(loaded.scenario.tests) && loaded.scenario.tests.length === 0;
  return runScenario(scenario, {
    quick: a.quick, json: a.json, ...(a.out ? { out: a.out } : {}), command: ['xdplab', 'run', a.file],
    ...(vmOnly ? { table: vmReportTable } : {}),
  }, io);
}
