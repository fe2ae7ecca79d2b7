// A run whose engine died (kill -9, a crash, power loss) never finished its report: the last
// report.json is the one written after its last complete row. What it measured since is in
// samples.jsonl, appended sample by sample. This finishes such a report: every sample from
// samples.jsonl, the status incomplete, and why.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ReportSchema, SampleSchema, type Sample } from '../contracts/report.js';
import { writeReportFiles } from './writer.js';

/** Every complete, valid line of samples.jsonl (a line torn by the kill is left out). */
export function readSamplesFile(path: string): Sample[] {
  if (!existsSync(path)) return [];
  const out: Sample[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const s = SampleSchema.safeParse(JSON.parse(line));
      if (s.success) out.push(s.data);
    } catch { /* torn last line */ }
  }
  return out;
}

/**
 * Marks the report in `dir` incomplete with `why`, taking its samples from samples.jsonl.
 * Returns false when there is nothing to do (no report, or one that was finished).
 */
export function finishAbandonedReport(dir: string, why: string): boolean {
  const file = join(dir, 'report.json');
  if (!existsSync(file)) return false;
  const parsed = ReportSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) return false;
  const report = parsed.data;
  if (report.finishedAt) return false;
  // Markers (QMP commands and events) are few: report.json is rewritten with each, so it has them all.
  report.samples = readSamplesFile(join(dir, 'samples.jsonl'));
  const counts = new Map<string, number>();
  for (const s of report.samples) counts.set(s.row, (counts.get(s.row) ?? 0) + 1);
  for (const row of report.rows) {
    if (row.status !== 'incomplete') continue;
    const n = counts.get(row.id) ?? 0;
    row.reason = n > 0 || row.trials.length > 0
      ? `interrupted: ${why}; its ${n} samples are in samples.jsonl`
      : `not run: ${why}`;
  }
  report.status = 'incomplete';
  report.failure = why;
  report.finishedAt = new Date().toISOString();
  writeReportFiles(dir, report);
  return true;
}
