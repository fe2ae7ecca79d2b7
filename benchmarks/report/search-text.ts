// A report's rate searches and latency as text for `xdplab report show`: one line per goal of
// each search row (rate, bounds, tolerance, converged, its notes), one per latency row
// (percentiles in µs), and the frame-size sweeps. Empty for a report without them (v1, v2).
import type { Report } from '../contracts/report.js';
import { reportViews } from './views.js';

const f3 = (v: number | null | undefined) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(3) : '-');
const us = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));

export function searchText(report: Pick<Report, 'rows'>): string {
  const v = reportViews(report);
  const lines: string[] = [];
  if (v.searches.length) {
    lines.push('Rate searches (goal: highest rate within the loss tolerance; bounds: lower–upper Mpps)');
    for (const s of v.searches) {
      for (const g of s.goals) {
        lines.push(`${s.row.padEnd(34)}${g.name.toUpperCase().padEnd(4)}${`${f3(g.mpps)} Mpps`.padStart(14)}${`${f3(g.gbps)} Gbps`.padStart(14)}  bounds ${f3(g.lowerMpps)}–${f3(g.upperMpps)}  loss ≤ ${g.tolerancePct}%  ${g.converged ? 'converged' : 'NOT CONVERGED'}`);
      }
      for (const n of s.notes) lines.push(`${''.padEnd(34)}note: ${n}`);
    }
  }
  const curves = v.latency.flatMap((g) => g.curves);
  if (curves.length) {
    if (lines.length) lines.push('');
    lines.push(`Latency (µs)${''.padEnd(22)}${'load'.padEnd(12)}${['min', 'p50', 'p90', 'p99', 'p99.9', 'max'].map((h) => h.padStart(9)).join('')}${'frames'.padStart(10)}`);
    for (const c of curves) {
      const s = c.summary;
      lines.push(`${c.row.padEnd(34)}${c.label.padEnd(12)}${[s.minUs, s.p50Us, s.p90Us, s.p99Us, s.p999Us, s.maxUs].map((x) => us(x).padStart(9)).join('')}${String(s.count).padStart(10)}`);
    }
  }
  if (v.sweeps.length) {
    if (lines.length) lines.push('');
    lines.push('Frame-size sweeps (Mpps / Gbps per size)');
    for (const w of v.sweeps) lines.push(`${w.label} (${w.measure}): ${w.sizes.map((size, i) => `${size} ${f3(w.mpps[i])} / ${f3(w.gbps[i])}`).join(', ')}`);
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}
