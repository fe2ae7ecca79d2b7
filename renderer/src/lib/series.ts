// Live series: one per run and row, points (seconds since the run's first sample, value), at
// most `max` points each (the oldest go first).
import type { EventPayload } from '../api/types.js';

export interface Point { x: number; y: number }

export interface ChartSeries { key: string; label: string; points: Point[] }

export interface LiveSeries {
  key: string;
  runId: string;
  row: string;
  label: string;
  mpps: Point[];
  gbps: Point[];
  drops: Point[];
}

export function appendCapped(points: Point[], p: Point, max: number): void {
  points.push(p);
  if (points.length > max) points.splice(0, points.length - max);
}

/** Drops per interval: the engine's droppedPackets, else the sum of every *drop* metric. */
export function dropsOf(metrics: Record<string, number>): number | undefined {
  if (typeof metrics.droppedPackets === 'number') return metrics.droppedPackets;
  const drops = Object.entries(metrics).filter(([k, v]) => /drop/i.test(k) && typeof v === 'number');
  return drops.length ? drops.reduce((a, [, v]) => a + v, 0) : undefined;
}

export class LiveSeriesSet {
  readonly series: LiveSeries[] = [];
  private readonly runStart = new Map<string, number>();

  constructor(public maxPoints = 120, private readonly now: () => number = () => Date.now()) {}

  /** Adds one `sample` event; returns the series it went to. */
  add(e: EventPayload<'sample'>): LiveSeries {
    const key = `${e.runId} ${e.sample.row}`;
    let s = this.series.find((x) => x.key === key);
    if (!s) {
      s = { key, runId: e.runId, row: e.sample.row, label: `${e.runId} ${e.sample.row}`, mpps: [], gbps: [], drops: [] };
      this.series.push(s);
    }
    const t0 = this.runStart.get(e.runId) ?? this.now();
    this.runStart.set(e.runId, t0);
    const x = Math.round((this.now() - t0) / 100) / 10;
    const m = e.sample.metrics;
    if (typeof m.packetsPerSecond === 'number') appendCapped(s.mpps, { x, y: m.packetsPerSecond / 1e6 }, this.maxPoints);
    if (typeof m.bitsPerSecond === 'number') appendCapped(s.gbps, { x, y: m.bitsPerSecond / 1e9 }, this.maxPoints);
    const d = dropsOf(m);
    if (d !== undefined) appendCapped(s.drops, { x, y: d }, this.maxPoints);
    return s;
  }

  setMax(max: number): void {
    this.maxPoints = max;
    for (const s of this.series) for (const pts of [s.mpps, s.gbps, s.drops]) if (pts.length > max) pts.splice(0, pts.length - max);
  }

  clear(): void {
    this.series.length = 0;
    this.runStart.clear();
  }

  chart(metric: 'mpps' | 'gbps' | 'drops'): ChartSeries[] {
    return this.series.filter((s) => s[metric].length > 0).map((s) => ({ key: s.key, label: s.label, points: s[metric] }));
  }
}
