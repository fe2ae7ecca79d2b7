// Which runner does each test of `xdplab vm bench`. The packet tests (txonly/rxonly) are built
// apart, in packet.ts (runVmPacketTrial: VmTrialRunner); wiring them is one import line here
// plus their two entries below. Until then their rows are unavailable with NOT_BUILT_IN.
import { runVmIperf3Trial } from './iperf3-trial.js';
import type { VmTestName, VmTrialRunner } from './vm-trial.js';

export const VM_TEST_RUNNERS: Partial<Record<VmTestName, VmTrialRunner>> = {
  iperf3: runVmIperf3Trial,
  // txonly: runVmPacketTrial, rxonly: runVmPacketTrial,
};

export const NOT_BUILT_IN = 'packet tests not built in';

export function runnerFor(test: VmTestName): VmTrialRunner | undefined {
  return VM_TEST_RUNNERS[test];
}
