// LabApi: every command the UI may send and every event the engine emits, as runtime schemas
// with inferred types. Both transports (Electron IPC and the web mode's WebSocket) validate
// every message against these; the renderer imports only the types.
import { z } from 'zod';
import { ScenarioSchema, TimelineActionSchema } from '../contracts/scenario.js';
import { MarkerSchema, ReportSchema, SampleSchema } from '../contracts/report.js';
import { VM_TESTS } from '../contracts/vocabulary.js';
import { PlanSchema } from '../contracts/plan.js';

export { EventMessageSchema, RequestSchema, ResponseSchema, type EventMessage, type Request, type Response } from '../contracts/envelope.js';
export { LabErrorSchema } from '../contracts/errors.js';
import { LONE_BACKEND_NAMES } from '../qemu/backends.js';

const Id = z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'must be 1-128 letters, digits, dot, dash or underscore');

/**
 * A scenario from the app (the renderer is untrusted): any field of a scenario but `ssh`, whose
 * command line the engine would run as a program of the caller's choosing. From the app, the
 * peer host is reached with $XDPLAB_SSH (set where the engine starts) or plain ssh, with
 * ~/.ssh/config applying.
 */
const UiScenarioSchema = ScenarioSchema.partial().strict().refine((s) => s.ssh === undefined, {
  path: ['ssh'],
  message: 'the ssh command line is not taken from the app (it would run a program of its choosing): set $XDPLAB_SSH where the engine starts, or a Host entry in ~/.ssh/config',
});

/** command name -> { args, result } */
export const Commands = {
  doctor: {
    args: z.object({}).strict(),
    result: z.object({ checks: z.array(z.object({ id: z.string(), ok: z.boolean(), detail: z.string(), severity: z.string().optional() })) }),
  },
  listInterfaces: {
    args: z.object({}).strict(),
    result: z.array(z.object({ name: z.string(), netns: z.string().optional(), driver: z.string(), up: z.boolean(), xdp: z.string() })),
  },
  startRun: {
    args: z.object({ scenario: UiScenarioSchema, quick: z.boolean().optional() }).strict(),
    result: z.object({ runId: Id }),
  },
  /** What startRun would run, before anything starts: rows (unavailable ones with the reason), VMs, duration. */
  planRun: {
    args: z.object({ scenario: UiScenarioSchema, quick: z.boolean().optional() }).strict(),
    result: PlanSchema,
  },
  stopRun: {
    args: z.object({ runId: Id }).strict(),
    result: z.object({ stopped: z.boolean() }),
  },
  listRuns: {
    args: z.object({}).strict(),
    result: z.array(z.object({ runId: Id, createdAt: z.string(), status: z.string(), command: z.array(z.string()), rows: z.number().int() })),
  },
  getReport: {
    args: z.object({ runId: Id }).strict(),
    result: ReportSchema,
  },
  compareReports: {
    args: z.object({ a: Id, b: Id }).strict(),
    result: z.object({
      rows: z.array(z.object({ key: z.string(), metric: z.string(), a: z.number(), b: z.number(), relative: z.number(), ci95: z.tuple([z.number(), z.number()]), beyondNoise: z.boolean() })),
      onlyInA: z.array(z.string()),
      onlyInB: z.array(z.string()),
    }),
  },
  exportReport: {
    /** search-trials-csv: one line per constant-rate trial of the run's rate searches (header only without any). */
    args: z.object({ runId: Id, format: z.enum(['html', 'csv', 'json', 'search-trials-csv']) }).strict(),
    result: z.object({ fileName: z.string(), mediaType: z.string(), content: z.string() }),
  },
  listVms: {
    args: z.object({}).strict(),
    result: z.array(z.object({ vmId: Id, state: z.string(), backend: z.string(), bootMs: z.number().optional() })),
  },
  startVm: {
    args: z.object({ backend: z.enum(LONE_BACKEND_NAMES), nic: z.enum(['virtio-net-pci', 'e1000']).default('virtio-net-pci') }).strict(),
    result: z.object({ vmId: Id }),
  },
  stopVm: {
    args: z.object({ vmId: Id }).strict(),
    result: z.object({ stopped: z.boolean() }),
  },
  vmConsole: {
    args: z.object({ vmId: Id, tailBytes: z.number().int().min(0).max(1 << 20).default(16384) }).strict(),
    result: z.object({ text: z.string() }),
  },
  qmpExecute: {
    args: z.object({ vmId: Id, command: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'must be a QMP command name'), arguments: z.record(z.string(), z.unknown()).optional() }).strict(),
    result: z.unknown(),
  },
  qmpCommands: {
    args: z.object({ vmId: Id }).strict(),
    result: z.array(z.string()),
  },
  /** The VMs of a running run's current trial (the runVms event says when they change). */
  runVms: {
    args: z.object({ runId: Id }).strict(),
    result: z.object({ row: z.string().optional(), trial: z.number().int().optional(), vms: z.array(z.object({ name: Id, backend: z.string() })) }),
  },
  /** One QMP command on a VM of a running run's trial (the console's refusals apply); it becomes a marker. */
  runQmp: {
    args: z.object({ runId: Id, vm: Id, command: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'must be a QMP command name'), arguments: z.record(z.string(), z.unknown()).optional() }).strict(),
    result: z.unknown(),
  },
  /**
   * A timeline action (the scenario's TimelineStep action: set_link, netdev_swap, announce_self,
   * qmp) on a VM of a running run's trial, now: carried out exactly as a timeline step, each QMP
   * command it sends a marker with source 'console'. A QMP failure is an outcome with ok false
   * (and a failed marker), not an error; a VM that is not the trial's is ENOVM.
   */
  runStep: {
    args: z.object({ runId: Id, vm: Id, action: TimelineActionSchema }).strict(),
    result: z.object({
      vm: z.string(), ok: z.boolean(),
      commands: z.array(z.object({ command: z.string(), arguments: z.record(z.string(), z.unknown()).optional(), ok: z.boolean(), result: z.unknown().optional(), error: z.string().optional() })),
    }),
  },
  /** The QMP command names a run's VM accepts, for completion. */
  runQmpCommands: {
    args: z.object({ runId: Id, vm: Id }).strict(),
    result: z.array(z.string()),
  },
  /**
   * Every VM backend with what the selected QEMU and this machine allow: runnable tests, or why
   * not and what to install; the measured boot time of this machine's guests when known.
   */
  vmBackends: {
    args: z.object({}).strict(),
    result: z.object({
      qemu: z.string(),
      bootMs: z.number().optional(),
      backends: z.array(z.object({
        name: z.string(), summary: z.string(), pair: z.enum(['host<->guest', 'guest<->guest']),
        tests: z.array(z.enum(VM_TESTS)), available: z.boolean(), reason: z.string().optional(),
      })),
    }),
  },
  /** The QEMU binaries the engine found (the UI picks one; it never names a path of its own). */
  qemuBinaries: {
    args: z.object({}).strict(),
    result: z.array(z.object({
      path: z.string(), selected: z.boolean(), version: z.string().optional(), afXdp: z.boolean().optional(), error: z.string().optional(),
    })),
  },
  /** Chooses the QEMU the next VMs use: one of qemuBinaries' paths. */
  selectQemu: {
    args: z.object({ path: z.string().min(1).max(4096) }).strict(),
    result: z.object({ path: z.string() }),
  },
} as const;

export type CommandName = keyof typeof Commands;
export type CommandArgs<C extends CommandName> = z.input<(typeof Commands)[C]['args']>;
export type CommandResult<C extends CommandName> = z.infer<(typeof Commands)[C]['result']>;

export const Events = {
  runProgress: z.object({ runId: Id, row: z.string(), rowIndex: z.number().int(), rows: z.number().int(), trial: z.number().int(), trials: z.number().int(), phase: z.enum(['setup', 'warmup', 'measure', 'teardown']), message: z.string().optional(), fraction: z.number().min(0).max(1) }),
  sample: z.object({ runId: Id, sample: SampleSchema }),
  runState: z.object({ runId: Id, state: z.enum(['running', 'complete', 'incomplete', 'failed', 'stopped']), reportDir: z.string().optional(), error: z.string().optional() }),
  vmState: z.object({ vmId: Id, state: z.enum(['starting', 'running', 'stopping', 'stopped', 'failed']), bootMs: z.number().optional(), error: z.string().optional() }),
  qmpEvent: z.object({ vmId: Id, event: z.string(), data: z.unknown(), timestamp: z.number() }),
  /** A QMP command sent or event received during a run's trial, as recorded in its report. */
  marker: z.object({ runId: Id, marker: MarkerSchema }),
  /** The VMs of a run's current trial, when they are ready (vms: [] once they stop). */
  runVms: z.object({ runId: Id, row: z.string(), trial: z.number().int(), vms: z.array(z.object({ name: Id, backend: z.string() })) }),
  log: z.object({ level: z.enum(['debug', 'info', 'warn', 'error']), source: z.string(), message: z.string(), time: z.string() }),
} as const;

export type EventName = keyof typeof Events;
export type EventPayload<E extends EventName> = z.infer<(typeof Events)[E]>;

/** What both transports implement and the renderer programs against. */
export interface LabApi {
  call<C extends CommandName>(command: C, args: CommandArgs<C>): Promise<CommandResult<C>>;
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
}
