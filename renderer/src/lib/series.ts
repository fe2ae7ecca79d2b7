// Live series: one per run and row, points (seconds since the run's first sample, value), at
// most `max` points each (the oldest go first).
import type { EventPayload, Marker, Sample } from '../api/types.js';

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

/** One row of a run on the trial's time axis (x: seconds since the trial's measured window began). */
export interface TimelineRow {
  row: string;
  backend?: string;
  trial: number;
  mpps: Point[];
  gbps: Point[];
  /** The latest values, for the legend and the presenter view. */
  last: { mpps?: number; gbps?: number };
}

/**
 * A run's rows overlaid on one time axis (each row's current trial: a new trial starts its line
 * again), and the markers of those trials. Plain data bumped through a revision, like
 * LiveSeriesSet: the chart copies what it draws.
 */
export class RunTimeline {
  readonly rows: TimelineRow[] = [];
  markers: Marker[] = [];

  constructor(readonly runId: string, public maxPoints = 600) {}

  private rowOf(row: string, trial: number, backend?: string): TimelineRow {
    let r = this.rows.find((x) => x.row === row);
    if (!r) { r = { row, trial, mpps: [], gbps: [], last: {}, ...(backend ? { backend } : {}) }; this.rows.push(r); }
    if (backend && !r.backend) r.backend = backend;
    if (trial !== r.trial) {
      r.trial = trial; r.mpps = []; r.gbps = []; r.last = {};
      this.markers = this.markers.filter((m) => m.row !== row || m.trial === trial);
    }
    return r;
  }

  addSample(s: Sample, backend?: string): void {
    const r = this.rowOf(s.row, s.trial, backend);
    const x = s.tMs / 1000;
    const m = s.metrics;
    if (typeof m.packetsPerSecond === 'number') { r.last.mpps = m.packetsPerSecond / 1e6; appendCapped(r.mpps, { x, y: r.last.mpps }, this.maxPoints); }
    if (typeof m.bitsPerSecond === 'number') { r.last.gbps = m.bitsPerSecond / 1e9; appendCapped(r.gbps, { x, y: r.last.gbps }, this.maxPoints); }
  }

  addMarker(m: Marker, backend?: string): void {
    const r = this.rowOf(m.row, m.trial, backend);
    if (m.trial === r.trial) this.markers = [...this.markers, m];
  }

  setBackend(row: string, backend: string): void {
    const r = this.rows.find((x) => x.row === row);
    if (r) r.backend = backend;
  }

  clear(): void { this.rows.length = 0; this.markers = []; }
}

/** A row's name in a legend: the row id, and its backend when the id does not say it. */
export function rowLegend(r: Pick<TimelineRow, 'row' | 'backend'>): string {
  return r.backend && !r.row.startsWith(`${r.backend}/`) ? `${r.row} (${r.backend})` : r.backend ? `${r.backend} — ${r.row.slice(r.backend.length + 1)}` : r.row;
}
