// LabApi's types and the lab's vocabulary, all the renderer takes from the engine: types, and
// the lists it offers from contracts/vocabulary.ts (constants with no imports: no engine code and
// no zod end up in the bundle).
import type { CommandArgs, CommandName, CommandResult, EventMessage, EventName, EventPayload, LabApi, Request, Response } from '../../../benchmarks/api/lab-api.js';
import type { Marker, Report, Row, Sample } from '../../../benchmarks/contracts/report.js';
import type { Scenario } from '../../../benchmarks/contracts/scenario.js';

export type { CommandArgs, CommandName, CommandResult, EventMessage, EventName, EventPayload, LabApi, Marker, Report, Request, Response, Row, Sample, Scenario };

export type Engine = Scenario['tests'][number];
export type Mode = Scenario['modes'][number];
export type VmBackend = CommandArgs<'startVm'>['backend'];
export type VmNic = NonNullable<CommandArgs<'startVm'>['nic']>;
export type StartRunArgs = CommandArgs<'startRun'>;
export type VmBackendInfo = CommandResult<'vmBackends'>['backends'][number];
export type Plan = CommandResult<'planRun'>;
export type RunVm = CommandResult<'runVms'>['vms'][number];
export type Comparison = CommandResult<'compareReports'>;
export type LabErrorJson = { code: string; message: string; field?: string; hint?: string };

export { HOST_TESTS as ENGINES, AFXDP_MODES as MODES, COMMON_FRAME_SIZES as FRAME_SIZES, MIN_FRAME_BYTES, MAX_FRAME_BYTES, NIC_MODELS as VM_NICS, VM_TESTS, SEARCH_GOALS } from '../../../benchmarks/contracts/vocabulary.js';
export const VM_BACKENDS = ['user', 'tap', 'stream', 'dgram', 'socket', 'hubport', 'af-xdp'] as const satisfies readonly VmBackend[];
