// report.csv: one line per row and metric with its statistics, for spreadsheets.
import type { Report } from '../contracts/report.js';

function cell(v: unknown): string {
  const s = v === undefined || v === null ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function reportCsv(report: Report): string {
  const header = ['row', 'test', 'tool', 'mode', 'copy', 'frameBytes', 'queues', 'status', 'attachedMode', 'zeroCopy', 'metric', 'n', 'median', 'mean', 'min', 'max', 'stdev', 'ci95Low', 'ci95High', 'reason'];
  const lines = [header.join(',')];
  for (const r of report.rows) {
    const base = [r.id, r.test, r.tool, r.mode, r.copy, r.frameBytes, r.queues, r.status, r.attached?.mode, r.attached?.zeroCopy];
    const metrics = Object.entries(r.stats);
    if (metrics.length === 0) lines.push([...base, '', '', '', '', '', '', '', '', '', r.reason].map(cell).join(','));
    for (const [name, s] of metrics) {
      lines.push([...base, name, s.n, s.median, s.mean, s.min, s.max, s.stdev, s.ci95[0], s.ci95[1], r.reason].map(cell).join(','));
    }
  }
  return lines.join('\n') + '\n';
}
