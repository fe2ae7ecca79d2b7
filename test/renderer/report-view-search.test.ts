// The app's report view of a schema-3 report: the rate searches' table and loss charts with the
// NDR and PDR lines (chartjs-plugin-annotation config from views.ts), the latency percentile
// chart with the rows overlaid and its table, the frame-size sweep; and a v1 report drawn as
// before, without any of these. Chart.js is a fake that keeps each chart's config.
import { flushSync, mount, unmount } from 'svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LabApi, Report } from '../../renderer/src/api/types.js';
import { sampleReport, searchReport } from '../helpers/sample-report.js';

interface FakeChart {
  config: {
    type: string;
    data: { labels?: string[]; datasets: { label: string; data: unknown[] }[] };
    options: { scales: Record<string, { ticks?: { callback?: (v: number) => string } }>; plugins: { title: { text: string }; annotation?: { annotations: Record<string, { type: string; value?: number; borderDash?: number[]; label?: { content: string[] } }> } } };
  };
}
const charts: FakeChart[] = [];

vi.mock('../../renderer/src/lib/chartjs.js', () => fake());
vi.mock('../../renderer/src/lib/chartjs-markers.js', () => fake());
vi.mock('../../renderer/src/lib/chartjs-whiskers.js', () => fake());
function fake() {
  class Chart {
    config: FakeChart['config']; data: FakeChart['config']['data']; options: FakeChart['config']['options'];
    constructor(_canvas: HTMLCanvasElement, config: FakeChart['config']) { this.config = config; this.data = config.data; this.options = config.options; charts.push(this as unknown as FakeChart); }
    update() {}
    destroy() {}
    toBase64Image() { return 'data:image/png;base64,AAAA'; }
  }
  return { Chart, colour: (i: number) => `#00000${i}`, themeColours: () => ({ text: '#444', grid: '#ccc' }) };
}

const { default: ReportView } = await import('../../renderer/src/components/ReportView.svelte');

const api: LabApi = { call: () => Promise.reject(new Error('not in this test')), on: () => () => {} };
let target: HTMLElement;
let component: ReturnType<typeof mount> | undefined;
beforeEach(() => { charts.length = 0; target = document.createElement('div'); document.body.append(target); });
afterEach(() => { if (component) unmount(component); component = undefined; target.remove(); });

function show(report: Report): void {
  component = mount(ReportView, { target, props: { report, api } });
  flushSync();
}
const titled = (prefix: string) => charts.filter((c) => c.config.options.plugins.title.text.startsWith(prefix));
const cells = (testId: string) => [...target.querySelectorAll(`[data-testid="${testId}"] tbody tr`)].map((tr) => [...tr.children].map((c) => c.textContent!.trim()));

describe('ReportView: rate searches, latency and sweeps', () => {
  it('draws each search with its NDR and PDR as vertical lines with their values and bounds, and notes what did not converge', () => {
    show(searchReport('v3'));
    const searches = titled('Loss per offered load: ');
    expect(searches.length).toBe(4);
    const s64 = searches[0]!;
    expect(s64.config.options.plugins.title.text).toBe('Loss per offered load: rxonly native 64B [xdplab]');
    expect(s64.config.data.datasets.map((d) => [d.label, d.data.length])).toEqual([['maximum-rate probe', 1], ['search trial', 4], ['final trial', 2]]);
    const a = s64.config.options.plugins.annotation!.annotations;
    expect([a.ndr!.type, a.ndr!.value, a.pdr!.type, a.pdr!.value]).toEqual(['line', 2, 'line', 2.4]);
    expect(a.ndr!.label!.content).toEqual(['NDR 2.000 Mpps (1.344 Gbps)', 'bounds 2.000–2.060, loss ≤ 0%']);
    expect(a['pdr-bounds']).toMatchObject({ type: 'box', xMin: 2.4 });
    const imix = searches.find((c) => c.config.options.plugins.title.text.includes('imix'))!;
    expect(imix.config.options.plugins.annotation!.annotations.pdr!.borderDash).toEqual([6, 4]);
    const notes = [...target.querySelectorAll('[data-testid="chart-search"] .note')].map((n) => n.textContent);
    expect(notes).toContain('PDR did not converge: time cap reached after 42 s');
    expect(notes.some((n) => n!.startsWith('generator-bound'))).toBe(true);

    const table = cells('report-searches');
    expect(table.length).toBe(8);
    expect(table[0]).toEqual(['rxonly native 64B [xdplab]', 'NDR', '0%', '2.000', '1.344', '2.000–2.060', 'yes', '7 (42 s)']);
    expect(table[1]).toEqual(['PDR', '0.5%', '2.400', '1.613', '2.400–2.520', 'yes']);
    expect(table[5]![5]).toBe('no: time cap reached after 42 s');
  });

  it('overlays the latency rows (idle, 10/50/90% of PDR) on one percentile chart with ticks in nines, and tables their percentiles', () => {
    show(searchReport('v3'));
    const [lat] = titled('Latency at fractions of PDR');
    expect(lat!.config.data.datasets.map((d) => d.label)).toEqual(['idle', '10% of PDR', '50% of PDR', '90% of PDR']);
    expect([0, 1, 2, 3, 4].map((v) => lat!.config.options.scales.x!.ticks!.callback!(v))).toEqual(['0%', '90%', '99%', '99.9%', '99.99%']);
    const rows = cells('report-latency');
    expect(rows.map((r) => r[1])).toEqual(['idle', '10% of PDR', '50% of PDR', '90% of PDR']);
    expect(rows[0]!.slice(0, 3)).toEqual(['latency-rxonly-native-64B-0', 'idle', '20000']);
    // min <= p50 <= p90 <= p99 <= p99.9 <= max on every row.
    for (const r of rows) { const v = r.slice(3).map(Number); expect([...v].sort((x, y) => x - y)).toEqual(v); }
  });

  it('draws the frame-size sweep as grouped bars, Mpps and Gbps per size, the mix last', () => {
    show(searchReport('v3'));
    const [sweep] = titled('Per frame size: ');
    expect(sweep!.config.type).toBe('bar');
    expect(sweep!.config.data.labels).toEqual(['64B', '1518B', 'imix (mean 353B)']);
    expect(sweep!.config.data.datasets.map((d) => d.label)).toEqual(['NDR Mpps', 'NDR Gbps']);
    expect(sweep!.config.data.datasets[0]!.data).toEqual([2, 0.8, 1.5]);
  });

  it('exports the search trials as CSV (a button only for reports with searches)', async () => {
    const asked: unknown[] = [];
    const exporting: LabApi = {
      call: ((command: string, args: unknown) => { asked.push([command, args]); return Promise.resolve({ fileName: 'xdplab-v3-search-trials.csv', mediaType: 'text/csv; charset=utf-8', content: 'row,test\n' }); }) as LabApi['call'],
      on: () => () => {},
    };
    URL.createObjectURL ??= () => 'blob:x';
    component = mount(ReportView, { target, props: { report: searchReport('v3'), api: exporting } });
    flushSync();
    const button = [...target.querySelectorAll('button')].find((b) => b.textContent === 'Export search trials (CSV)')!;
    button.click();
    for (let i = 0; i < 3; i++) { await new Promise((r) => setTimeout(r, 0)); flushSync(); }
    expect(asked).toEqual([['exportReport', { runId: 'v3', format: 'search-trials-csv' }]]);
    expect(target.querySelector('[data-testid="download-link"]')?.textContent).toBe('Save xdplab-v3-search-trials.csv');
  });

  it('a v1 report: the charts and tables it had, none of the new ones', () => {
    show({ ...sampleReport('v1', () => 1e6), schemaVersion: 1 });
    expect(charts.map((c) => c.config.options.plugins.title.text)).toEqual([
      'Mpps per row (median, whiskers min–max over trials)', 'Gbps per row (median, whiskers min–max over trials)', 'Every sample, in order',
    ]);
    expect(target.querySelector('[data-testid="report-searches"], [data-testid="report-latency"], [data-testid="chart-sweep"]')).toBeNull();
    expect(cells('report-rows').length).toBe(3);
    expect([...target.querySelectorAll('button')].map((b) => b.textContent)).not.toContain('Export search trials (CSV)');
  });
});
