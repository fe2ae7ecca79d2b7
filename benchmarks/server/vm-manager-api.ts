// The contract between the faces (web server, Electron) and the VMs they may start: one VM per
// start, a network backend each, the serial console, and the VM's QMP monitor (commands and
// events). The real implementation (vm-manager.ts) runs QEMU through benchmarks/qemu/vm.ts.
import type { CommandArgs, CommandResult, EventPayload } from '../api/lab-api.js';

export type VmBackend = CommandArgs<'startVm'>['backend'];
export type VmNic = NonNullable<CommandArgs<'startVm'>['nic']>;
export type VmInfo = CommandResult<'listVms'>[number];

export interface VmEvents {
  vmState: EventPayload<'vmState'>;
  qmpEvent: EventPayload<'qmpEvent'>;
  log: EventPayload<'log'>;
}

export interface VmManagerApi {
  /**
   * Validates and starts a VM in the background: resolves with its id at once (state
   * 'starting'); `vmState` says when it is running (with bootMs) or failed (with the error).
   */
  start(options: { backend: VmBackend; nic: VmNic }): Promise<{ vmId: string }>;
  /** Powers the VM off (then kills it); resolves false when it was not running. */
  stop(vmId: string): Promise<boolean>;
  /** Every VM this manager started and has not forgotten, oldest first. */
  list(): VmInfo[];
  /** The last `tailBytes` bytes of the VM's serial console. */
  console(vmId: string, tailBytes: number): string;
  /** One QMP command on the VM's monitor; QEMU's errors reject as LabError (code QMP_<class>). */
  qmpExecute(vmId: string, command: string, args?: Record<string, unknown>): Promise<unknown>;
  /** The QMP command names this VM accepts (from query-commands), sorted, for completion. */
  qmpCommands(vmId: string): Promise<string[]>;
  /** The QEMU binaries found on this machine, with the one the next VMs use marked. */
  qemuBinaries(): Promise<CommandResult<'qemuBinaries'>>;
  /** Every VM backend with what the selected QEMU and this machine allow (the Runs page). */
  vmBackends(): Promise<CommandResult<'vmBackends'>>;
  /** Chooses the QEMU the next VMs use; only one of qemuBinaries' paths is accepted. */
  selectQemu(path: string): Promise<{ path: string }>;
  on<E extends keyof VmEvents>(event: E, listener: (payload: VmEvents[E]) => void): () => void;
  /** Stops every VM (server shutdown). */
  close(): Promise<void>;
}
