// The live chart component: one Chart.js line chart, a dataset per series, redrawn without
// animation on every revision, never more than maxPoints points per line; and the live series
// it is fed from (one per run and row, capped, drops found by name).
import { flushSync, mount, unmount } from 'svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ChartSeries } from '../../renderer/src/lib/series.js';

interface FakeChart {
  canvas: HTMLCanvasElement;
  config: { type: string; data: { datasets: { label: string; data: { x: number; y: number }[] }[] }; options: Record<string, unknown> };
  data: FakeChart['config']['data'];
  updates: (string | undefined)[];
  destroyed: boolean;
}
const charts: FakeChart[] = [];

vi.mock('chart.js', () => {
  class Chart {
    static register = vi.fn();
    canvas: HTMLCanvasElement;
    config: FakeChart['config'];
    data: FakeChart['data'];
    updates: (string | undefined)[] = [];
    destroyed = false;
    constructor(canvas: HTMLCanvasElement, config: FakeChart['config']) {
      this.canvas = canvas; this.config = config; this.data = config.data;
      charts.push(this as unknown as FakeChart);
    }
    update(mode?: string) { this.updates.push(mode); }
    destroy() { this.destroyed = true; }
    toBase64Image() { return 'data:image/png;base64,AAAA'; }
  }
  const part = {};
  return { Chart, LineController: part, LineElement: part, PointElement: part, BarController: part, BarElement: part, LinearScale: part, CategoryScale: part, Legend: part, Title: part, Tooltip: part, Filler: part };
});

const { default: LiveChart } = await import('../../renderer/src/components/LiveChart.svelte');
const { LiveSeriesSet, appendCapped, dropsOf } = await import('../../renderer/src/lib/series.js');

const points = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ x: from + i, y: (from + i) / 10 }));

describe('LiveChart', () => {
  let target: HTMLElement;
  beforeEach(() => { charts.length = 0; target = document.createElement('div'); document.body.append(target); });
  afterEach(() => { target.remove(); });

  it('draws one line chart, without animation, a dataset per series', () => {
    const series: ChartSeries[] = [{ key: 'r1 a', label: 'run1 txonly', points: points(3) }, { key: 'r2 a', label: 'run2 txonly', points: points(2) }];
    const c = mount(LiveChart, { target, props: { title: 'Packets per second', unit: 'Mpps', series, revision: 0, maxPoints: 10, testId: 'c' } });
    flushSync();
    expect(charts).toHaveLength(1);
    const chart = charts[0]!;
    expect(chart.config.type).toBe('line');
    expect(chart.config.options.animation).toBe(false);
    expect(chart.config.options.parsing).toBe(false);
    expect(chart.data.datasets.map((d) => d.label)).toEqual(['run1 txonly', 'run2 txonly']);
    expect(chart.data.datasets.map((d) => d.data.length)).toEqual([3, 2]);
    expect(chart.updates.length).toBeGreaterThan(0);
    expect(chart.updates.every((m) => m === 'none')).toBe(true);
    const fig = target.querySelector('[data-testid="c"]')!;
    expect(fig.getAttribute('data-points')).toBe('5');
    expect(fig.textContent).toContain('Packets per second: 2 lines, 5 points');
    expect(target.querySelector('canvas')!.getAttribute('aria-label')).toContain('2 lines, 5 points');
    unmount(c);
    expect(chart.destroyed).toBe(true);
  });

  it('redraws on each revision and keeps at most maxPoints, the newest', async () => {
    const { mountLive } = await import('./live-chart-host.svelte.js');
    const host = mountLive(target, 4);
    flushSync();
    const chart = charts[0]!;
    const before = chart.updates.length;
    host.push('r1 txonly', 3);
    flushSync();
    expect(chart.data.datasets[0]!.data.map((p) => p.x)).toEqual([0, 1, 2]);
    host.push('r1 txonly', 5);
    host.push('r2 txonly', 2);
    flushSync();
    expect(chart.data.datasets.map((d) => d.data.length)).toEqual([4, 2]);
    expect(chart.data.datasets[0]!.data.map((p) => p.x)).toEqual([4, 5, 6, 7]);
    expect(chart.updates.length).toBeGreaterThan(before);
    expect(chart.updates.every((m) => m === 'none')).toBe(true);
    host.drop('r1 txonly');
    flushSync();
    expect(chart.data.datasets.map((d) => d.label)).toEqual(['r2 txonly']);
    host.destroy();
  });

  it('png() returns the chart as a data: URL', () => {
    const c = mount(LiveChart, { target, props: { title: 't', unit: 'u', series: [] } }) as { png(): string | undefined };
    flushSync();
    expect(c.png()).toMatch(/^data:image\/png;base64,/);
    unmount(c);
  });
});

describe('live series', () => {
  const sample = (runId: string, row: string, pps: number, extra: Record<string, number> = {}) => ({
    runId, sample: { row, trial: 0, tMs: 0, intervalMs: 250, metrics: { packetsPerSecond: pps, bitsPerSecond: pps * 672, ...extra } },
  });

  it('one series per run and row, x in seconds since the run began, values in Mpps and Gbps', () => {
    let now = 1000;
    const set = new LiveSeriesSet(100, () => now);
    set.add(sample('run-a', 'txonly-native', 2e6, { droppedPackets: 5 }));
    now += 250;
    set.add(sample('run-a', 'txonly-native', 3e6, { droppedPackets: 0 }));
    now += 250;
    set.add(sample('run-b', 'txonly-native', 1e6));
    expect(set.series.map((s) => s.key)).toEqual(['run-a txonly-native', 'run-b txonly-native']);
    expect(set.series[0]!.mpps.map((p) => p.y)).toEqual([2, 3]);
    expect(set.series[0]!.mpps.map((p) => p.x)).toEqual([0, 0.3]);
    expect(set.series[0]!.gbps[0]!.y).toBeCloseTo(2e6 * 672 / 1e9);
    expect(set.series[0]!.drops.map((p) => p.y)).toEqual([5, 0]);
    expect(set.series[1]!.mpps).toEqual([{ x: 0, y: 1 }]);
    expect(set.chart('drops').map((s) => s.key)).toEqual(['run-a txonly-native']);
  });

  it('caps every line, and a lower cap trims at once', () => {
    const set = new LiveSeriesSet(3);
    for (let i = 0; i < 10; i++) set.add(sample('r', 'row', i * 1e6));
    expect(set.series[0]!.mpps.map((p) => p.y)).toEqual([7, 8, 9]);
    set.setMax(2);
    expect(set.series[0]!.mpps.map((p) => p.y)).toEqual([8, 9]);
    const pts: { x: number; y: number }[] = [];
    for (let i = 0; i < 5; i++) appendCapped(pts, { x: i, y: i }, 2);
    expect(pts).toEqual([{ x: 3, y: 3 }, { x: 4, y: 4 }]);
  });

  it('finds drops by name when droppedPackets is absent', () => {
    expect(dropsOf({ droppedPackets: 3, rxDropped: 9 })).toBe(3);
    expect(dropsOf({ rxDropped: 2, txDropped: 1 })).toBe(3);
    expect(dropsOf({ packetsPerSecond: 1 })).toBeUndefined();
  });
});
