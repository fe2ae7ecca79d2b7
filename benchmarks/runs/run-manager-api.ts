// The contract between the faces (CLI, web server, Electron) and the run engine: start and stop
// bench runs, follow their progress and samples, find their reports.
import type { CommandResult, EventPayload } from '../api/lab-api.js';
import type { Plan } from '../contracts/plan.js';
import type { Report } from '../contracts/report.js';
import type { TimelineAction } from '../contracts/scenario.js';

export interface RunSummary { runId: string; createdAt: string; status: string; command: string[]; rows: number; dir: string }

export interface StartedRun { runId: string; dir: string; done: Promise<Report>; recovered: string[] }

export interface RunEvents {
  runProgress: EventPayload<'runProgress'>;
  sample: EventPayload<'sample'>;
  runState: EventPayload<'runState'>;
  log: EventPayload<'log'>;
  marker: EventPayload<'marker'>;
  runVms: EventPayload<'runVms'>;
}

export interface RunManagerApi {
  /** Validates (LabError naming the field on bad input) and starts a run in the background. */
  start(scenario: Record<string, unknown>, options?: { quick?: boolean; command?: string[] }): Promise<StartedRun>;
  /**
   * What start would run, validated the same way, before anything starts. Its boot time: bootMs
   * when given, else the QEMU's boots cached in the state dir (stateDir, default labStateDir()),
   * else an assumption; the plan says which (bootMeasured, bootBasis).
   */
  plan(scenario: Record<string, unknown>, options?: { quick?: boolean; bootMs?: number; stateDir?: string }): Promise<Plan>;
  /** Stops a running run; its report says it was stopped. Resolves false if it was not running. */
  stop(runId: string): Promise<boolean>;
  /** Runs found in the reports directory, newest first. */
  list(): RunSummary[];
  /** A run's report.json (finished or still being written). */
  report(runId: string): Report;
  /** The run's directory (report.html, report.csv, samples.jsonl live there). */
  directory(runId: string): string;
  /** The VMs of a running run's current trial (none between VM rows, or for host rows). */
  runVms(runId: string): CommandResult<'runVms'>;
  /** A QMP command on one of those VMs (the console's refusals apply); recorded as a marker. */
  runQmp(runId: string, vm: string, command: string, args?: Record<string, unknown>): Promise<unknown>;
  /** A timeline action (set_link, netdev_swap, ...) on one of those VMs now, carried out and recorded (markers, source console) as a timeline step is. */
  runStep(runId: string, vm: string, action: TimelineAction): Promise<CommandResult<'runStep'>>;
  /** The QMP command names such a VM accepts, for completion. */
  runQmpCommands(runId: string, vm: string): Promise<string[]>;
  on<E extends keyof RunEvents>(event: E, listener: (payload: RunEvents[E]) => void): () => void;
}
