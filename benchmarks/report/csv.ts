// report.csv: one line per row and metric with its statistics, for spreadsheets.
// search-trials.csv (written beside it when a row searched for NDR/PDR): one line per
// constant-rate trial of a search, in the order the search ran them. A file of its own rather
// than a second section, so each stays one table a spreadsheet opens as it is.
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

export const SEARCH_TRIALS_FILE = 'search-trials.csv';

/** Whether the report has any search trial (search-trials.csv is written only then). */
export function hasSearchTrials(report: Pick<Report, 'rows'>): boolean {
  return report.rows.some((r) => r.trials.some((t) => t.search && t.search.trials.length > 0));
}

/** Where a trial lost frames, in one cell: "ma rx_queue_0_drops=42476; b rx dropped=3". */
const dropsCell = (d: Record<string, number> | undefined): string => Object.entries(d ?? {}).map(([k, v]) => `${k}=${v}`).join('; ');

/**
 * search-trials.csv: `trial` is the row's trial, `step` the search's trial (1-based, in order),
 * `drops` the path's loss counters that rose during it.
 */
export function searchTrialsCsv(report: Pick<Report, 'rows'>): string {
  const header = ['row', 'test', 'tool', 'mode', 'frameBytes', 'frameMix', 'trial', 'step', 'phase', 'targetPps', 'offeredPps', 'receivedPps', 'sent', 'received', 'lossRatio', 'durationMs', 'drops'];
  const lines = [header.join(',')];
  for (const r of report.rows) {
    for (const t of r.trials) {
      (t.search?.trials ?? []).forEach((s, k) => {
        lines.push([r.id, r.test, r.tool, r.mode, r.frameBytes, r.frameMix, t.index, k + 1, s.phase, s.targetPps, s.offeredPps, s.receivedPps, s.sent, s.received, s.lossRatio, s.durationMs, dropsCell(s.drops)].map(cell).join(','));
      });
    }
  }
  return lines.join('\n') + '\n';
}
