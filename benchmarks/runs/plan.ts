// The rows a scenario expands to: each engine x mode with xdplab, then its reference and
// ceiling rows, and for iperf3 the datapath rows plus the kernel and testpmd baselines.
import type { Scenario } from './scenario.js';

export type RowKind = 'engine' | 'testpmd' | 'ceiling' | 'iperf3-xdplab' | 'iperf3-bridge' | 'iperf3-testpmd';

export interface RowPlan {
  id: string;
  kind: RowKind;
  test: string;
  tool: string;
  mode: 'native' | 'skb' | 'kernel';
  copy: boolean;
  frameBytes?: number;
}

export function planRows(s: Scenario): RowPlan[] {
  const rows: RowPlan[] = [];
  const copy = s.copy;
  const suffix = copy ? '-copy' : '';
  for (const test of s.tests) {
    if (test === 'iperf3') continue;
    for (const frameBytes of s.frameBytes) {
      for (const mode of s.modes) {
        const base = `${test}-${mode}${suffix}-${frameBytes}B`;
        rows.push({ id: base, kind: 'engine', test, tool: 'xdplab', mode, copy, frameBytes });
        if (s.reference.includes('testpmd')) rows.push({ id: `${base}-testpmd`, kind: 'testpmd', test, tool: 'dpdk-testpmd', mode, copy, frameBytes });
        if (test === 'rxonly') rows.push({ id: `${base}-xdp-drop`, kind: 'ceiling', test, tool: 'xdp-drop', mode, copy: false, frameBytes });
      }
    }
  }
  if (s.tests.includes('iperf3')) {
    for (const mode of s.modes) rows.push({ id: `iperf3-${mode}${suffix}`, kind: 'iperf3-xdplab', test: 'iperf3', tool: 'xdplab', mode, copy });
    rows.push({ id: 'iperf3-kernel-bridge', kind: 'iperf3-bridge', test: 'iperf3', tool: 'linux-bridge', mode: 'kernel', copy: false });
    rows.push({ id: 'iperf3-testpmd', kind: 'iperf3-testpmd', test: 'iperf3', tool: 'dpdk-testpmd', mode: 'native', copy: false });
  }
  return rows;
}

/** --quick: one short trial per row, small enough for under 30 s on the default matrix. */
export const QUICK: Partial<Scenario> = { durationMs: 1000, warmupMs: 300, trials: 1, tests: ['txonly', 'rxonly', 'io', 'iperf3'] };
