// Markers on the run chart: the chartjs-plugin-annotation config built from markers (a vertical
// line per marker at tMs seconds, labelled with the command or event, failed commands in another
// colour), and RunChart drawing a run's rows (backend in the legend, Gbps and Mpps on two axes)
// with those annotations, redrawn without animation.
import { flushSync, mount, unmount } from 'svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Marker } from '../../renderer/src/api/types.js';

interface FakeChart {
  config: { type: string; data: { datasets: { label: string; yAxisID?: string; data: { x: number; y: number }[] }[] }; options: { animation: boolean; scales: Record<string, { display?: boolean }>; plugins: { annotation: { annotations: Record<string, unknown> }; title: { text: string } } } };
  data: FakeChart['config']['data'];
  options: FakeChart['config']['options'];
  updates: (string | undefined)[];
}
const charts: FakeChart[] = [];

vi.mock('../../renderer/src/lib/chartjs-markers.js', () => {
  class Chart {
    config: FakeChart['config']; data: FakeChart['data']; options: FakeChart['options'];
    updates: (string | undefined)[] = [];
    constructor(_canvas: HTMLCanvasElement, config: FakeChart['config']) { this.config = config; this.data = config.data; this.options = config.options; charts.push(this as unknown as FakeChart); }
    update(mode?: string) { this.updates.push(mode); }
    destroy() {}
    toBase64Image() { return 'data:image/png;base64,AAAA'; }
  }
  return { Chart, colour: (i: number) => `#00000${i}`, themeColours: () => ({ text: '#444', grid: '#ccc' }) };
});

const { markerAnnotations, MARKER_COLOURS } = await import('../../renderer/src/lib/markers.js');
const { RunTimeline } = await import('../../renderer/src/lib/series.js');
const { default: RunChart } = await import('../../renderer/src/components/RunChart.svelte');

const m = (over: Partial<Marker>): Marker => ({ row: 'tap/iperf3', trial: 0, tMs: 1000, kind: 'command', name: 'set_link', vm: 'vm0', source: 'console', ok: true, ...over });

describe('markerAnnotations', () => {
  it('one vertical line per marker at its time in seconds, labelled with the name; failed commands red, events dashed', () => {
    const a = markerAnnotations([
      m({ tMs: 2000, name: 'set_link', ok: true }),
      m({ tMs: 3500, name: 'netdev_del', ok: false, detail: "Device 'n1' not found" }),
      m({ tMs: 4250, kind: 'event', name: 'NIC_RX_FILTER_CHANGED', source: 'qemu', ok: undefined }),
    ]);
    expect(Object.keys(a)).toEqual(['m0', 'm1', 'm2']);
    expect(a.m0).toMatchObject({ type: 'line', scaleID: 'x', value: 2, borderColor: MARKER_COLOURS.command, label: { display: true, content: 'set_link' } });
    expect(a.m1).toMatchObject({ value: 3.5, borderColor: MARKER_COLOURS.failed, label: { content: 'netdev_del ✗', backgroundColor: MARKER_COLOURS.failed } });
    expect(MARKER_COLOURS.failed).not.toBe(MARKER_COLOURS.command);
    expect(a.m2).toMatchObject({ value: 4.25, borderColor: MARKER_COLOURS.event, borderDash: [6, 4], label: { content: 'NIC_RX_FILTER_CHANGED' } });
    expect(a.m0!.borderDash).toBeUndefined();
    // Close labels alternate top and bottom.
    expect([a.m0!.label.position, a.m1!.label.position]).toEqual(['start', 'end']);
  });

  it('names the row and the VM when several share the chart, and grows the type for the presenter view', () => {
    const a = markerAnnotations([m({ vm: 'vm1' })], { withVm: true, rowLabel: () => 'tap', fontSize: 20 });
    expect(a.m0!.label.content).toBe('tap: set_link (vm1)');
    expect(a.m0!.label.font.size).toBe(20);
  });

  it('rows overlaid: each row\'s labels on their own band, so markers at the same time do not hide each other', () => {
    const a = markerAnnotations([m({ row: 'user/iperf3', tMs: 1000 }), m({ row: 'tap/iperf3', tMs: 1000 }), m({ row: 'tap/iperf3', tMs: 2000 })]);
    expect([a.m0, a.m1, a.m2].map((x) => [x!.label.position, x!.label.yAdjust])).toEqual([['start', 0], ['start', 25], ['end', -25]]);
  });
});

describe('RunChart', () => {
  let target: HTMLElement;
  beforeEach(() => { charts.length = 0; target = document.createElement('div'); document.body.append(target); });
  afterEach(() => { target.remove(); });

  it('draws the rows overlaid (backend in the legend, Gbps left, Mpps right) and the markers as annotations', () => {
    const t = new RunTimeline('r1');
    for (let k = 0; k < 4; k++) {
      t.addSample({ row: 'user/iperf3', trial: 0, tMs: k * 500, intervalMs: 500, metrics: { bitsPerSecond: 3e9 } }, 'user');
      t.addSample({ row: 'tap/txonly', trial: 0, tMs: k * 500, intervalMs: 500, metrics: { packetsPerSecond: 2e6, bitsPerSecond: 1.3e9 } }, 'tap');
    }
    t.addMarker(m({ row: 'tap/txonly', tMs: 1000 }));
    t.addMarker(m({ row: 'tap/txonly', tMs: 1500, name: 'netdev_del', ok: false }));
    const c = mount(RunChart, { target, props: { title: 'Run r1', rows: t.rows, markers: t.markers, revision: 1, testId: 'rc' } });
    flushSync();
    const chart = charts[0]!;
    expect(chart.config.type).toBe('line');
    expect(chart.options.animation).toBe(false);
    expect(chart.data.datasets.map((d) => [d.label, d.yAxisID])).toEqual([
      ['user — iperf3 Gbps', 'y'], ['tap — txonly Gbps', 'y'], ['tap — txonly Mpps', 'y1'],
    ]);
    expect(chart.data.datasets[0]!.data.map((p) => p.x)).toEqual([0, 0.5, 1, 1.5]);
    const ann = chart.options.plugins.annotation.annotations as Record<string, { value: number; borderColor: string; label: { content: string } }>;
    expect(Object.values(ann).map((a) => [a.value, a.label.content])).toEqual([[1, 'set_link'], [1.5, 'netdev_del ✗']]);
    expect(ann.m1!.borderColor).toBe(MARKER_COLOURS.failed);
    const fig = target.querySelector('[data-testid="rc"]')!;
    expect(fig.getAttribute('data-markers')).toBe('2');
    expect(fig.getAttribute('data-legend')).toBe('user — iperf3 Gbps|tap — txonly Gbps|tap — txonly Mpps');
    expect(chart.updates.every((u) => u === 'none')).toBe(true);
    unmount(c);
  });

  it('a new trial of a row starts its line again and keeps only that trial\'s markers', () => {
    const t = new RunTimeline('r1');
    t.addSample({ row: 'a', trial: 0, tMs: 0, intervalMs: 500, metrics: { bitsPerSecond: 1e9 } });
    t.addMarker(m({ row: 'a', trial: 0 }));
    t.addSample({ row: 'a', trial: 1, tMs: 0, intervalMs: 500, metrics: { bitsPerSecond: 2e9 } });
    expect(t.rows[0]!.gbps).toEqual([{ x: 0, y: 2 }]);
    expect(t.markers).toEqual([]);
  });
});
