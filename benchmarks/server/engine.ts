// The lab engine as both faces start it: the RunManager, the VM manager, and the LabService in
// front of them. The RunManager is loaded by name at run time so that the faces build and run
// (doctor, interfaces, VMs, QMP) before benchmarks/runs/run-manager.ts exists; until then
// every run command answers with an error that says so.
import { LabError } from '../contracts/errors.js';
import type { RunEvents, RunManagerApi } from '../runs/run-manager-api.js';
import { LabService } from './lab-service.js';
import { VmManager } from './vm-manager.js';

function noRunEngine(why: string): RunManagerApi {
  const fail = (): never => { throw new LabError({ code: 'ENORUNENGINE', message: `runs are not available in this build: ${why}`, hint: 'build a version of xdplab that has benchmarks/runs/run-manager.ts (npm run build)' }); };
  return {
    start: fail,
    stop: async () => false,
    list: () => [],
    report: fail,
    directory: fail,
    on: <E extends keyof RunEvents>(_e: E, _l: (p: RunEvents[E]) => void) => () => {},
  };
}

/** The real RunManager when this build has one, else a stand-in whose run commands fail clearly. */
export async function loadRunManager(): Promise<{ runs: RunManagerApi; available: boolean; why?: string }> {
  const specifier = '../runs/run-manager.js';
  let mod: { RunManager?: new () => RunManagerApi; createRunManager?: () => RunManagerApi | Promise<RunManagerApi> };
  try {
    mod = (await import(specifier)) as typeof mod;
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' ? 'benchmarks/runs/run-manager.ts is not there yet' : `loading the run engine failed: ${(err as Error).message}`;
    return { runs: noRunEngine(why), available: false, why };
  }
  if (typeof mod.createRunManager === 'function') return { runs: await mod.createRunManager(), available: true };
  if (typeof mod.RunManager !== 'function') {
    const why = 'benchmarks/runs/run-manager.ts exports neither createRunManager() nor RunManager';
    return { runs: noRunEngine(why), available: false, why };
  }
  // Defaults for everything (the reports directory, ...): the same run engine as `xdplab bench`.
  return { runs: new mod.RunManager(), available: true };
}

export interface Engine { service: LabService; runsAvailable: boolean; runsWhy?: string; close(): Promise<void> }

export async function createEngine(options: { warn?: (m: string) => void } = {}): Promise<Engine> {
  const { runs, available, why } = await loadRunManager();
  const vms = new VmManager();
  const service = new LabService({ runs, vms, ...(options.warn ? { warn: options.warn } : {}) });
  return {
    service,
    runsAvailable: available,
    ...(why ? { runsWhy: why } : {}),
    async close() {
      // Stop the runs still going (their reports say stopped), then every VM.
      await Promise.all(runs.list().filter((r) => r.status === 'running').map((r) => runs.stop(r.runId).catch(() => false)));
      await service.close();
    },
  };
}
