// report.json against its committed JSON Schema (validated by an independent validator),
// CSV, and compare on a planted difference.
import { readFileSync, mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { compareReports } from '../../benchmarks/report/compare.js';
import { reportCsv } from '../../benchmarks/report/csv.js';
import { reportJsonSchema } from '../../benchmarks/contracts/report.js';
import { ReportWriter } from '../../benchmarks/report/writer.js';
import { sampleReport } from '../helpers/sample-report.js';

const schemaFile = new URL('../../benchmarks/report/report.schema.json', import.meta.url);

describe('report schema', () => {
  it('the committed report.schema.json is the one the code generates (npm run schema)', () => {
    expect(JSON.parse(readFileSync(schemaFile, 'utf8'))).toEqual(reportJsonSchema());
  });

  it('a written report.json validates against report.schema.json; samples.jsonl holds every sample', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xdplab-report-'));
    try {
      const report = sampleReport('r1', () => 1e6);
      const samples = report.samples;
      report.samples = [];
      const w = new ReportWriter(dir, report);
      for (const s of samples) w.sample(s);
      w.finish('complete');
      const [run] = readdirSync(dir);
      const written = JSON.parse(readFileSync(join(dir, run!, 'report.json'), 'utf8'));
      const ajv = new Ajv2020.default({ strict: false });
      const validate = ajv.compile(JSON.parse(readFileSync(schemaFile, 'utf8')));
      expect(validate(written), JSON.stringify(validate.errors)).toBe(true);
      const lines = readFileSync(join(dir, run!, 'samples.jsonl'), 'utf8').trim().split('\n');
      expect(lines.length).toBe(samples.length);
      // A broken report is refused, not written.
      expect(validate({ ...written, schemaVersion: 99 })).toBe(false);
      expect(readdirSync(join(dir, run!)).sort()).toEqual(['report.csv', 'report.html', 'report.json', 'samples.jsonl']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('report.csv has a line per row and metric, with the unavailable row and its reason', () => {
    const csv = reportCsv(sampleReport('r2', () => 1e6));
    const lines = csv.trim().split('\n');
    expect(lines[0]).toMatch(/^row,test,tool,mode/);
    expect(lines.length).toBe(1 + 3 + 3 + 1);
    expect(csv).toMatch(/unavailable,.*dpdk-testpmd is not installed/);
  });
});

describe('compare', () => {
  const noisy = (seed: number) => (row: number, trial: number, k: number) => 1e6 * (1 + 0.03 * Math.sin(seed * 7 + row * 3 + trial * 5 + k * 11));
  it('flags a planted 2x difference', () => {
    const a = sampleReport('a', noisy(1));
    const b = sampleReport('b', (r, t, k) => 2 * noisy(2)(r, t, k));
    const c = compareReports(a, b);
    const pps = c.rows.filter((r) => r.metric === 'packetsPerSecond');
    expect(pps.length).toBe(2);
    for (const r of pps) {
      expect(r.difference.beyondNoise).toBe(true);
      expect(r.difference.relative).toBeGreaterThan(0.9);
    }
  });
  it('does not flag a second run of the same scenario', () => {
    const c = compareReports(sampleReport('a', noisy(1)), sampleReport('b', noisy(2)));
    expect(c.rows.every((r) => !r.difference.beyondNoise)).toBe(true);
  });
});
