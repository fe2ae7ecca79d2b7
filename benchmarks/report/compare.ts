// compare: the change per row between two reports, and whether it is beyond the noise.
// Rows match on what they measured (test, tool, mode, copy, frame size, queues, backend).
// The spread comes from the trials when both sides have two or more, otherwise from the
// per-interval samples inside the single trial.
import { difference, median, type Difference } from './statistics.js';
import type { Report, Row } from '../contracts/report.js';

export interface RowComparison {
  key: string;
  metric: string;
  a: number;
  b: number;
  difference: Difference;
  basis: 'trials' | 'samples';
}

export interface Comparison { rows: RowComparison[]; onlyInA: string[]; onlyInB: string[] }

export function rowKey(r: Row): string {
  return [r.test, r.tool, r.mode, r.copy ? 'copy' : '', r.frameBytes ?? '', r.queues ?? '', r.backend ?? ''].filter((p) => p !== '').join('/');
}

const PRIMARY = ['packetsPerSecond', 'bitsPerSecond'];
/** With one trial per side, only a change of 10% or more can count as beyond the noise. */
export const SINGLE_TRIAL_MIN_RELATIVE = 0.1;

function values(report: Report, row: Row, metric: string): { values: number[]; basis: 'trials' | 'samples' } {
  const trials = row.trials.filter((t) => t.status === 'ok' && t.metrics[metric] !== undefined).map((t) => t.metrics[metric]!);
  if (trials.length >= 2) return { values: trials, basis: 'trials' };
  return { values: report.samples.filter((s) => s.row === row.id && s.metrics[metric] !== undefined).map((s) => s.metrics[metric]!), basis: 'samples' };
}

export function compareReports(a: Report, b: Report, minRelative = 0.02): Comparison {
  const byKey = (r: Report) => new Map(r.rows.filter((x) => x.status === 'ok').map((x) => [rowKey(x), x]));
  const ma = byKey(a), mb = byKey(b);
  const rows: RowComparison[] = [];
  for (const [key, ra] of ma) {
    const rb = mb.get(key);
    if (!rb) continue;
    for (const metric of PRIMARY) {
      if (!ra.stats[metric] || !rb.stats[metric]) continue;
      const va = values(a, ra, metric), vb = values(b, rb, metric);
      const basis = va.basis === 'trials' && vb.basis === 'trials' ? 'trials' : 'samples';
      const xa = basis === 'trials' ? va.values : values(a, { ...ra, trials: [] }, metric).values;
      const xb = basis === 'trials' ? vb.values : values(b, { ...rb, trials: [] }, metric).values;
      // Samples inside one trial miss the run-to-run spread: ask for a larger change before
      // calling it real.
      rows.push({ key, metric, a: median(xa), b: median(xb), difference: difference(xa, xb, basis === 'trials' ? minRelative : Math.max(minRelative, SINGLE_TRIAL_MIN_RELATIVE)), basis });
    }
  }
  return { rows, onlyInA: [...ma.keys()].filter((k) => !mb.has(k)), onlyInB: [...mb.keys()].filter((k) => !ma.has(k)) };
}
