// The lab engine as every face starts it: the RunManager, the VM manager, and the LabService in
// front of them.
import { RunManager } from '../runs/run-manager.js';
import { LabService } from './lab-service.js';
import { VmManager } from './vm-manager.js';

export interface Engine { service: LabService; close(): Promise<void> }

export async function createEngine(options: { warn?: (m: string) => void } = {}): Promise<Engine> {
  // Defaults for everything (the reports directory, ...): the same run engine as `xdplab bench`.
  const runs = new RunManager();
  const vms = new VmManager();
  const service = new LabService({ runs, vms, ...(options.warn ? { warn: options.warn } : {}) });
  return {
    service,
    async close() {
      // Stop the runs still going (their reports say stopped), then every VM.
      await Promise.all(runs.list().filter((r) => r.status === 'running').map((r) => runs.stop(r.runId).catch(() => false)));
      await service.close();
    },
  };
}
