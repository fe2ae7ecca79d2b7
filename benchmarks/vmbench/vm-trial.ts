// The contract between `xdplab vm bench` and the tests it runs: one trial of one backend x
// test row, with the VM(s) and lab resources it needs started and stopped inside the trial.
import type { Lab } from '../lab/lab.js';
import type { Sample } from '../contracts/report.js';
import type { AfXdpMode } from '../contracts/datapath.js';
import type { GroupVm } from '../qemu/vm-group.js';
import type { QmpClient } from '../qemu/qmp.js';

/** iperf3: TCP host <-> guest (and guest <-> guest where the backend joins two VMs).
 *  txonly: xdplab's txonly on the peer sends to the guest, the guest counts what it receives.
 *  rxonly: the guest sends (kernel pktgen), xdplab's rxonly on the peer counts. */
export const VM_TESTS = ['iperf3', 'txonly', 'rxonly'] as const;
export type VmTestName = (typeof VM_TESTS)[number];

export interface VmTrialContext {
  lab: Lab;
  /** The QEMU binary in use (resolved from --qemu, $XDPLAB_QEMU, or PATH). */
  qemuBinary: string;
  /** The image from ensureGuestImage(). */
  image: { kernelPath: string; initrdPath: string };
  backend: string;
  test: VmTestName;
  rowId: string;
  trial: number;
  durationMs: number;
  warmupMs: number;
  /** iperf3: parallel TCP streams (-P), the scenario's `parallel`; default 1. */
  parallel?: number;
  /** Packet tests: frame size, and the attach mode of xdplab's AF_XDP port on the peer. */
  frameBytes: number;
  mode: AfXdpMode;
  /** NIC model of the guest (virtio-net-pci by default, e1000 to compare). */
  nicModel: string;
  sample(s: Sample): void;
  progress?(message: string): void;
  stopSignal: { stop: boolean };
  /** Each VM's QMP client as soon as it connects, before its guest is ready (its QMP events from boot on). */
  onQmp?(vm: string, qmp: QmpClient): void;
  /** The trial's VMs once they are ready, and [] once they are stopped (the run's QMP panel, its timeline). */
  onVms?(vms: GroupVm[]): void;
  /**
   * The measured window began at `atMs` (Date.now()): tMs 0 of the trial's samples, and of its
   * markers and timeline steps (the run manager schedules them from it).
   */
  onWindow?(atMs: number): void;
}

export interface VmTrialOutcome {
  /** Totals over the measured window, with units in the names (packetsPerSecond, bitsPerSecond, ...). */
  metrics: Record<string, number>;
  /** Every command line of the trial, the exact QEMU one(s) first. */
  commandLines: string[];
  attached?: { mode: string; zeroCopy: boolean };
}

export type VmTrialRunner = (ctx: VmTrialContext) => Promise<VmTrialOutcome>;
