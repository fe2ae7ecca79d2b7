// A run's directory: reports/<timestamp>-<id>/ with samples.jsonl (appended as samples come),
// and report.json, report.html, report.csv (and search-trials.csv when a row searched)
// rewritten after every row, so that a run that stops halfway still leaves a report that says
// it is incomplete and why.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SampleSink } from './sample-sink.js';
import { hasSearchTrials, reportCsv, searchTrialsCsv, SEARCH_TRIALS_FILE } from './csv.js';
import { reportHtml } from './html.js';
import { ReportSchema, type Marker, type Report, type Sample } from '../contracts/report.js';

function writeAtomically(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

/** report.json, report.csv, search-trials.csv (rows that searched) and report.html of a run directory, each replaced atomically. */
export function writeReportFiles(dir: string, report: Report): void {
  const parsed = ReportSchema.safeParse(report);
  if (!parsed.success) throw new Error(`xdplab built an invalid report: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`);
  writeAtomically(join(dir, 'report.json'), JSON.stringify(report, null, 1));
  writeAtomically(join(dir, 'report.csv'), reportCsv(report));
  if (hasSearchTrials(report)) writeAtomically(join(dir, SEARCH_TRIALS_FILE), searchTrialsCsv(report));
  writeAtomically(join(dir, 'report.html'), reportHtml(report));
}

export function runDirectoryName(id: string, at = new Date()): string {
  return `${at.toISOString().replace(/[:.]/g, '-').replace(/-\d+Z$/, 'Z')}-${id}`;
}

export class ReportWriter {
  readonly dir: string;
  private readonly sink: SampleSink;

  constructor(parent: string, readonly report: Report) {
    this.dir = join(parent, runDirectoryName(report.id, new Date(report.createdAt)));
    mkdirSync(this.dir, { recursive: true });
    this.sink = new SampleSink(join(this.dir, 'samples.jsonl'));
    this.save();
  }

  sample(s: Sample): void {
    this.sink.write(s);
    this.report.samples.push(s);
  }

  /**
   * A marker (a QMP command or event): few, so report.json is rewritten with it at once, and a run
   * that dies keeps it (abandoned.ts takes the samples from samples.jsonl, the markers from here).
   */
  marker(m: Marker): void {
    this.report.markers.push(m);
    this.save();
  }

  /** Validates and writes the three files; called after every row and at the end. */
  save(): void {
    writeReportFiles(this.dir, this.report);
  }

  finish(status: Report['status'], failure?: string): void {
    this.report.status = status;
    if (failure) this.report.failure = failure;
    this.report.finishedAt = new Date().toISOString();
    this.sink.close();
    this.save();
  }
}
