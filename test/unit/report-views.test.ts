// The report's views (benchmarks/report/views.ts): a schema-3 report with searches, latency rows
// and a frame-size sweep shaped into loss points, goal lines, percentile curves and sweep bars;
// search trials in search-trials.csv; the text of `xdplab report show`; a v1 report has none of it.
import { describe, expect, it } from 'vitest';
import { ReportSchema } from '../../benchmarks/contracts/report.js';
import { searchTrialsCsv } from '../../benchmarks/report/csv.js';
import { searchText } from '../../benchmarks/report/search-text.js';
import { goalAnnotations, latencyGroups, latencyViews, nines, ninesText, reportViews, searchViews, sweepViews } from '../../benchmarks/report/views.js';
import { sampleReport, searchReport } from '../helpers/sample-report.js';

describe('report views', () => {
  const report = ReportSchema.parse(searchReport('s1'));

  it('the sample v3 report is a valid report', () => {
    expect(report.rows.length).toBe(8);
  });

  it('a search row: every trial a point (offered Mpps, loss %), NDR and PDR with bounds, tolerance and Gbps', () => {
    const v = searchViews(report).find((s) => s.row === 'ndr-rxonly-native-64B')!;
    expect(v.points.length).toBe(7);
    expect(v.points[0]).toMatchObject({ phase: 'max', y: 30 });
    expect(v.points[0]!.x).toBeCloseTo(2.4 * 1.6 * 0.999, 6);
    expect(v.points.filter((p) => p.y === 0).length).toBe(2);
    const [ndr, pdr] = v.goals;
    expect(ndr).toMatchObject({ name: 'ndr', tolerancePct: 0, mpps: 2, lowerMpps: 2, converged: true });
    expect(ndr!.upperMpps).toBeCloseTo(2.06, 6);
    expect(ndr!.gbps).toBeCloseTo(2e6 * 84 * 8 / 1e9, 6);
    expect(pdr).toMatchObject({ name: 'pdr', tolerancePct: 0.5, mpps: 2.4, converged: true });
    expect(v.notes).toEqual([]);
    const a = goalAnnotations(v);
    expect(a.ndr).toMatchObject({ type: 'line', scaleID: 'x', value: 2 });
    expect(a.pdr).toMatchObject({ type: 'line', value: 2.4 });
    expect(a['pdr-bounds']).toMatchObject({ type: 'box', xMin: 2.4 });
    expect((a.ndr as { label: { content: string[] } }).label.content.join(' ')).toMatch(/NDR 2\.000 Mpps \(1\.344 Gbps\) bounds 2\.000–2\.060, loss ≤ 0%/);
  });

  it('notes a goal that did not converge and a generator-bound search; the line of a goal not converged is dashed', () => {
    const views = searchViews(report);
    const imix = views.find((s) => s.row === 'ndr-rxonly-native-imix')!;
    expect(imix.label).toBe('rxonly native imix (mean 353B) [xdplab]');
    expect(imix.notes).toEqual(['PDR did not converge: time cap reached after 42 s']);
    expect(goalAnnotations(imix).pdr).toMatchObject({ borderDash: [6, 4] });
    const io = views.find((s) => s.row === 'ndr-io-native-64B')!;
    expect(io.generatorBound).toBe(true);
    expect(io.notes[0]).toMatch(/^generator-bound: the generator could offer at most 4\.800 Mpps/);
  });

  it('latency: a percentile curve per row from its HDR histogram, grouped by the searched row, idle first', () => {
    const views = latencyViews(report);
    expect(views.map((v) => v.label)).toEqual(['idle', '10% of PDR', '50% of PDR', '90% of PDR']);
    for (const v of views) {
      expect(v.source).toBe('histogram');
      expect(v.points[0]!.x).toBe(0);
      expect(v.points.at(-1)!.x).toBeGreaterThanOrEqual(4);
      // A percentile curve never goes down, and ends at the maximum.
      for (let i = 1; i < v.points.length; i++) expect(v.points[i]!.y).toBeGreaterThanOrEqual(v.points[i - 1]!.y);
      expect(v.points.at(-1)!.y).toBeCloseTo(v.summary.maxUs, 0);
      // At 99% it agrees with the summary (within the histogram's 3 significant digits).
      const at99 = v.points.find((p) => Math.abs(p.x - 2) < 1e-9)!;
      expect(Math.abs(at99.y - v.summary.p99Us) / v.summary.p99Us).toBeLessThan(0.01);
    }
    expect(views[3]!.summary.p50Us).toBeGreaterThan(views[0]!.summary.p50Us * 3);
    const groups = latencyGroups(views, report.rows);
    expect(groups.length).toBe(1);
    expect(groups[0]!.title).toBe('Latency at fractions of PDR of rxonly native 64B [xdplab]');
    expect(groups[0]!.xMax).toBeCloseTo(Math.log10(20_000), 2);
  });

  it('a histogram that cannot be read falls back to the summary percentiles', () => {
    const broken = structuredClone(report);
    broken.rows.find((r) => r.load)!.trials[0]!.latency!.histogram = 'not base64 of a histogram';
    const v = latencyViews(broken)[0]!;
    expect(v.source).toBe('summary');
    expect(v.points.map((p) => p.x)).toEqual([0, 0.3, 1, 2, 3, 4.3]);
  });

  it('nines: the x axis of a percentile plot and its tick labels', () => {
    expect(nines(0)).toBe(0);
    expect(nines(99)).toBeCloseTo(2, 9);
    expect([0, 1, 2, 3, 4].map(ninesText)).toEqual(['0%', '90%', '99%', '99.9%', '99.99%']);
  });

  it('frame-size sweep: the search rows that differ only by frame, by size with the mix last, NDR Mpps and Gbps', () => {
    const sweeps = sweepViews(report);
    expect(sweeps.length).toBe(1);
    expect(sweeps[0]).toMatchObject({ measure: 'NDR', sizes: ['64B', '1518B', 'imix (mean 353B)'], mpps: [2, 0.8, 1.5], label: 'rxonly native [xdplab]' });
    expect(sweeps[0]!.gbps[1]).toBeCloseTo(0.8e6 * 1538 * 8 / 1e9, 9);
  });

  it('a v1 report (no searches, latency or sweeps) has no views; its CSV of search trials is the header alone', () => {
    const v1 = ReportSchema.parse({ ...sampleReport('old', () => 1e6), schemaVersion: 1 });
    expect(reportViews(v1)).toEqual({ searches: [], latency: [], sweeps: [] });
    expect(searchTrialsCsv(v1).trim().split('\n').length).toBe(1);
    expect(searchText(v1)).toBe('');
  });

  it('search-trials.csv: one line per search trial with its row and the goals', () => {
    const lines = searchTrialsCsv(report).trim().split('\n');
    expect(lines[0]).toBe('row,test,tool,mode,frameBytes,frameMix,trial,step,phase,targetPps,offeredPps,receivedPps,sent,received,lossRatio,durationMs,drops');
    expect(lines.length).toBe(1 + 4 * 7);
    expect(lines[1]).toMatch(/^ndr-rxonly-native-64B,rxonly,xdplab,native,64,,0,1,max,3840000,/);
  });

  it('search-trials.csv: a trial that lost frames says where, in its drops cell', () => {
    const withDrops = structuredClone(report);
    const trial = withDrops.rows.find((r) => r.trials[0]?.search)!.trials[0]!.search!.trials[0]!;
    trial.drops = { 'ma rx_queue_0_drops': 42476, 'b rx dropped': 3 };
    const line = searchTrialsCsv(withDrops).trim().split('\n')[1]!;
    expect(line.endsWith(',ma rx_queue_0_drops=42476; b rx dropped=3')).toBe(true);
    expect(searchTrialsCsv(report).trim().split('\n')[1]!.endsWith(',')).toBe(true);
  });

  it('a search whose lossy trials recorded drops says where the frames went, in its notes and in report show', () => {
    const withDrops = structuredClone(report);
    const row = withDrops.rows.find((r) => r.trials[0]?.search)!;
    const lossy = row.trials[0]!.search!.trials.filter((t) => t.sent > t.received);
    expect(lossy.length).toBeGreaterThan(1);
    lossy[0]!.drops = { 'ma rx_queue_0_drops': 100 };
    lossy[1]!.drops = { 'ma rx_queue_0_drops': 50, 'b rx dropped': 2 };
    const note = searchViews(withDrops).find((v) => v.row === row.id)!.notes.find((n) => n.startsWith('frames were lost'))!;
    expect(note).toBe(`frames were lost in ${lossy.length} of ${row.trials[0]!.search!.trials.length} trials; loss counters that rose in them: ma rx_queue_0_drops (2 trials, 150 frames), b rx dropped (1 trials, 2 frames)${lossy.length > 2 ? `; in ${lossy.length - 2} of them no counter rose` : ''}`);
    expect(searchText(withDrops)).toContain(`note: ${note}`);
    // Without drops (older reports) there is nothing to say.
    expect(searchViews(report).flatMap((v) => v.notes).some((n) => n.startsWith('frames were lost'))).toBe(false);
  });

  it('xdplab report show: NDR/PDR per search row and latency per latency row, as text', () => {
    const text = searchText(report);
    expect(text).toMatch(/ndr-rxonly-native-64B\s.*NDR\s+2\.000 Mpps/);
    expect(text).toMatch(/PDR did not converge: time cap/);
    expect(text).toMatch(/latency-rxonly-native-64B-0\s+idle/);
  });
});
