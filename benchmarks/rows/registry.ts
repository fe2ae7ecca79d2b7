// Every row kind, in one list (as testpmd lists its forwarding engines): a new kind is one file
// exporting a RowKind and one line here.
import { ceilingRows } from './ceiling.js';
import { engineRows } from './engine.js';
import { iperf3BridgeRows } from './iperf3-bridge.js';
import { iperf3PeerRows } from './iperf3-peer.js';
import { rttPeerRows } from './rtt-peer.js';
import { iperf3TestpmdRows } from './iperf3-testpmd.js';
import { iperf3XdplabRows } from './iperf3-xdplab.js';
import type { PlanContext, PlannedRow, RowKind } from './row-kind.js';
import type { Scenario } from '../contracts/scenario.js';
import { latencyForwardRows, latencyRows, searchForwardRows, searchRows } from './search.js';
import { testpmdRows } from './testpmd.js';
import { vmIperf3Rows } from './vm-iperf3.js';
import { vmPacketRows } from './vm-packet.js';
import { vmPvpRows } from './vm-pvp.js';
import { vmSearchRows } from './vm-search.js';

export const ROW_KINDS: readonly RowKind[] = [
  engineRows,
  testpmdRows,
  ceilingRows,
  searchRows,
  searchForwardRows,
  latencyRows,
  latencyForwardRows,
  iperf3XdplabRows,
  iperf3BridgeRows,
  iperf3TestpmdRows,
  iperf3PeerRows,
  rttPeerRows,
  vmIperf3Rows,
  vmPacketRows,
  vmSearchRows,
  vmPvpRows,
];

const byOrder = (a: PlannedRow, b: PlannedRow): number => {
  for (let i = 0; i < Math.max(a.order.length, b.order.length); i++) {
    const d = (a.order[i] ?? -1) - (b.order[i] ?? -1);
    if (d) return d;
  }
  return 0;
};

/** Every row the scenario asks for, from every kind, in report order. */
export async function planRows(s: Scenario, ctx: PlanContext = { tools: {} }): Promise<PlannedRow[]> {
  const rows = (await Promise.all(ROW_KINDS.map((k) => k.plan(s, ctx)))).flat();
  return rows.sort(byOrder);
}
