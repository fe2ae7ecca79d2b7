// The rows of a `xdplab vm bench` run: backends x tests, in that order, each either runnable or
// unavailable with its reason, decided before anything starts.
import type { LabError } from '../contracts/errors.js';
import type { QemuCapabilities } from '../qemu/capabilities.js';
import { PACKET_BACKENDS, backendInfo, expandBackends, isPacketBackend, type VmBackendName } from '../qemu/backends.js';
import { backendProblem, type HostFacts } from './prerequisites.js';
import type { VmTestName } from './vm-trial.js';

export { parseTests } from './options.js';

export interface VmRowPlan {
  id: string;
  backend: VmBackendName;
  test: VmTestName;
  /** Why the row cannot run here (then it has no trials). */
  unavailable?: string;
}

export { expandBackends };

function describe(err: LabError): string {
  return err.hint ? `${err.message} (${err.hint})` : err.message;
}

export function planVmRows(backends: readonly VmBackendName[], tests: readonly VmTestName[], caps: QemuCapabilities, host: HostFacts): VmRowPlan[] {
  const rows: VmRowPlan[] = [];
  for (const backend of backends) {
    const problem = backendProblem(backend, caps, host);
    for (const test of tests) {
      const id = `${backend}/${test}`;
      let unavailable: string | undefined;
      if (test !== 'iperf3' && !isPacketBackend(backend)) {
        unavailable = `${backend} cannot carry packet tests: ${backendInfo(backend).pair === 'guest<->guest' ? 'its NIC is joined to another VM, ' : ''}there is no host interface for an AF_XDP peer (packet tests run on ${PACKET_BACKENDS.join(' and ')})`;
      } else if (problem) {
        unavailable = describe(problem);
      }
      rows.push({ id, backend, test, ...(unavailable ? { unavailable } : {}) });
    }
  }
  return rows;
}
