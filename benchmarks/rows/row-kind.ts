// A row kind, as testpmd's forwarding engines are: one file that says which rows a scenario
// makes of it (plan) and how one trial of such a row runs (run). RunManager runs any kind the
// same way: the same samples, report, recovery and trial discipline. A kind's own parameters
// stay typed inside it: defineRowKind binds them to each planned row.
import type { AfXdpMode } from '../contracts/datapath.js';
import type { Latency, Sample, Search, StreamCounts } from '../contracts/report.js';
import type { Scenario } from '../contracts/scenario.js';
import type { RemotePeer } from '../agent/remote-peer.js';
import type { HelperClient } from '../helper/client.js';
import type { Lab } from '../lab/lab.js';
import type { ForwardTopology, PacketTopology } from '../lab/topology.js';
import type { GroupVm } from '../qemu/vm-group.js';
import type { QmpClient } from '../qemu/qmp.js';

/** What a row is, as the report shows it. */
export interface RowSpec {
  id: string;
  /** What ran: an engine, iperf3, ... */
  test: string;
  /** Who forwarded: xdplab, dpdk-testpmd, linux-bridge, xdp-drop, ... */
  tool: string;
  /** The label of the mode asked for (native, skb, kernel, tcp). */
  mode: string;
  copy?: boolean;
  frameBytes?: number;
  backend?: string;
  /** Where the row's live samples come from (the report's Row.liveSource). */
  liveSource?: string;
  /** A frame mix other than one size (imix); frameBytes is its mean. */
  frameMix?: string;
  /** Latency rows: the load as a fraction of the goal a search row found. */
  load?: { goal: string; fraction: number; ofRow: string };
  /** Why the row cannot run here: it is reported with no trials. */
  unavailable?: string;
  /** Rows are sorted by this key (kinds interleave: an engine row beside its references). */
  order: number[];
}

/**
 * Where a trial runs: the run's packet topology (DUT and peer), its forwarding topology
 * (A - M - B, for iperf3), or a lab of the trial's own that goes when the trial ends (VMs).
 */
export type Needs = 'packet' | 'forward' | 'trial-lab';

export interface TrialContext {
  lab: Lab;
  scenario: Scenario;
  row: RowSpec;
  trial: number;
  packet?: PacketTopology;
  forward?: ForwardTopology;
  macs?: { dut: string; peer: string };
  sample(s: Sample): void;
  phase(p: 'setup' | 'warmup' | 'measure' | 'teardown', message?: string): void;
  stopSignal: { stop: boolean };
  /** xdplab helper: privileged steps go through it (engine rows only). */
  helper?: HelperClient;
  /** --peer-host: the packet topology's peer endpoint is on that host, reached through its agent. */
  remote?: RemotePeer;
  /** Work shared by the run's trials (a guest image, capabilities), done once per run. */
  once<T>(key: string, make: () => Promise<T>): Promise<T>;
  /** A tool version the report's environment should name (the guest kernel, ...). */
  noteTool(name: string, value: string): void;
  /** VM rows: the trial's VMs (ready, then [] when stopped) and when its measured window began. */
  vms?: { onQmp(vm: string, qmp: QmpClient): void; onVms(vms: GroupVm[]): void; onWindow(atMs: number): void };
}

export interface TrialOutcome {
  metrics: Record<string, number>;
  commandLines: string[];
  attached?: { mode: string; zeroCopy: boolean };
  /** Rate-search rows: the search's trials and bounds (the report's Trial.search). */
  search?: Search;
  /** Rows with a measuring receiver: latency and stream counts of the stamped frames. */
  latency?: Latency;
  stream?: StreamCounts;
}

/** A row of a plan, bound to its kind's run. */
export interface PlannedRow extends RowSpec {
  kind: string;
  needs: Needs;
  /** Why this row cannot run through xdplab helper (unprivileged); undefined: it can. */
  viaHelper?: string;
  run(ctx: TrialContext): Promise<TrialOutcome>;
}

export interface PlanContext {
  /** Environment facts a kind adds to the report (tool versions), once per run. */
  tools: Record<string, string>;
}

export interface RowKind {
  readonly kind: string;
  plan(s: Scenario, ctx: PlanContext): PlannedRow[] | Promise<PlannedRow[]>;
}

/** A kind with parameters P per row: plan yields (spec, params), run gets both back. */
export function defineRowKind<P>(k: {
  kind: string;
  needs: Needs;
  viaHelper?: string;
  plan(s: Scenario, ctx: PlanContext): Array<{ spec: RowSpec; params: P }> | Promise<Array<{ spec: RowSpec; params: P }>>;
  run(ctx: TrialContext, params: P): Promise<TrialOutcome>;
}): RowKind {
  return {
    kind: k.kind,
    async plan(s, ctx) {
      return (await k.plan(s, ctx)).map(({ spec, params }) => ({
        ...spec, kind: k.kind, needs: k.needs, ...(k.viaHelper ? { viaHelper: k.viaHelper } : {}),
        run: (trial: TrialContext) => k.run(trial, params),
      }));
    },
  };
}

/** The xdplab modes of a packet row, for kinds that attach XDP. */
export interface PacketParams { test: 'txonly' | 'rxonly' | 'io' | 'macswap'; mode: AfXdpMode; copy: boolean; frameBytes: number }

/**
 * The host packet matrix (test x frame size x mode) as every packet kind walks it, with the
 * order key that keeps a cell's rows together: [0, test, frame, mode, kindRank].
 */
export function packetCells(s: Scenario, kindRank: number): Array<PacketParams & { base: string; order: number[] }> {
  const cells: Array<PacketParams & { base: string; order: number[] }> = [];
  s.tests.forEach((test, ti) => {
    if (test === 'iperf3') return;
    s.frameBytes.forEach((frameBytes, fi) => {
      s.modes.forEach((mode, mi) => {
        cells.push({ test, mode, copy: s.copy, frameBytes, base: `${test}-${mode}${s.copy ? '-copy' : ''}-${frameBytes}B`, order: [0, ti, fi, mi, kindRank] });
      });
    });
  });
  return cells;
}
