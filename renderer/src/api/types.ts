// LabApi's types, the only thing the renderer takes from the engine (types only: no runtime code
// of benchmarks/ ends up in the bundle), plus the lists the UI offers, checked against them.
import type { CommandArgs, CommandName, CommandResult, EventMessage, EventName, EventPayload, LabApi, Request, Response } from '../../../benchmarks/api/lab-api.js';
import type { Report, Row, Sample } from '../../../benchmarks/contracts/report.js';
import type { Scenario } from '../../../benchmarks/contracts/scenario.js';

export type { CommandArgs, CommandName, CommandResult, EventMessage, EventName, EventPayload, LabApi, Report, Request, Response, Row, Sample, Scenario };

export type Engine = Scenario['tests'][number];
export type Mode = Scenario['modes'][number];
export type VmBackend = CommandArgs<'startVm'>['backend'];
export type VmNic = NonNullable<CommandArgs<'startVm'>['nic']>;
export type StartRunArgs = CommandArgs<'startRun'>;
export type Comparison = CommandResult<'compareReports'>;
export type LabErrorJson = { code: string; message: string; field?: string; hint?: string };

export const ENGINES = ['txonly', 'rxonly', 'io', 'macswap', 'iperf3'] as const satisfies readonly Engine[];
export const MODES = ['native', 'skb'] as const satisfies readonly Mode[];
export const FRAME_SIZES = [64, 128, 256, 512, 1024, 1518] as const;
export const MIN_FRAME_BYTES = 60;
export const MAX_FRAME_BYTES = 4096 - 256;
export const VM_BACKENDS = ['user', 'tap', 'stream', 'dgram', 'socket', 'hubport', 'af-xdp'] as const satisfies readonly VmBackend[];
export const VM_NICS = ['virtio-net-pci', 'e1000'] as const satisfies readonly VmNic[];
