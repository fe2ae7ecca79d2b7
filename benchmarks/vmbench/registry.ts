// Which runner does each test of `xdplab vm bench`: iperf3 over every backend that runs here,
// the packet tests (txonly/rxonly, packet.ts) over tap, or af-xdp where QEMU has it.
import { runVmIperf3Trial } from './iperf3-trial.js';
import { runVmPacketTrial } from './packet.js';
import type { VmTestName, VmTrialRunner } from './vm-trial.js';

export const VM_TEST_RUNNERS: Record<VmTestName, VmTrialRunner> = {
  iperf3: runVmIperf3Trial,
  txonly: runVmPacketTrial,
  rxonly: runVmPacketTrial,
};

export function runnerFor(test: VmTestName): VmTrialRunner {
  return VM_TEST_RUNNERS[test];
}
