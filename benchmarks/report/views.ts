// A report's rate searches, latency and frame-size sweeps as plain chart data: the one place
// that turns a report into points, lines and table cells, shared by report.html (which runs it
// in Node and inlines the result) and the app's report view (which imports it like the
// vocabulary: types and hdr-histogram-js only, no zod, no engine code). Pure: same report, same views.
import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import type { Latency, Report, Row, Search, SearchGoal, SearchTrial, Trial } from '../contracts/report.js';

type Rows = Report['rows'];
const drawable = (r: Row) => r.status === 'ok' || r.status === 'incomplete';

/** What a row's frames are: one size ('64B') or a mix with its mean ('imix (mean 353B)'). */
export function frameText(r: Pick<Row, 'frameBytes' | 'frameMix'>): string {
  if (r.frameMix) return r.frameBytes ? `${r.frameMix} (mean ${r.frameBytes}B)` : r.frameMix;
  return r.frameBytes ? `${r.frameBytes}B` : '';
}

/** A row's name in legends and tables (the same words as the results table). */
export function rowText(r: Row): string {
  const frame = frameText(r);
  return `${r.backend ? `${r.backend} ` : ''}${r.test} ${r.mode}${r.copy ? ' copy' : ''}${frame ? ` ${frame}` : ''} [${r.tool}]`;
}

/** The trial a row's search or latency is shown for: the first ok trial that has it. */
function firstWith<K extends 'search' | 'latency'>(r: Row, key: K): (Trial & Required<Pick<Trial, K>>) | undefined {
  return r.trials.find((t): t is Trial & Required<Pick<Trial, K>> => t.status === 'ok' && t[key] !== undefined);
}

// ---- 1 and 4: rate searches ------------------------------------------------------------------

export interface LossPoint { x: number; y: number; phase: SearchTrial['phase']; targetMpps: number }

export interface GoalView {
  name: string;
  /** Loss tolerance in percent. */
  tolerancePct: number;
  /** The goal's rate: the highest rate within tolerance (the lower bound), Mpps; 0 when none was. */
  mpps: number;
  lowerMpps: number;
  upperMpps: number;
  /** The goal's rate in Gbps (the row's `<goal>BitsPerSecond` metric), when the row has it. */
  gbps?: number;
  converged: boolean;
  note?: string;
}

export interface SearchView {
  row: string;
  label: string;
  /** Which trial is shown (index), of how many with a search. */
  trial: number;
  trials: number;
  /** Every constant-rate trial: x offered Mpps, y loss %. */
  points: LossPoint[];
  goals: GoalView[];
  precisionPct: number;
  maxMpps: number;
  generatorBound: boolean;
  elapsedMs: number;
  /** What a reader must know before trusting the lines: goals that did not converge, a generator bound. */
  notes: string[];
}

function goalView(g: SearchGoal, t: Trial): GoalView {
  const bps = t.metrics[`${g.name}BitsPerSecond`];
  return {
    name: g.name, tolerancePct: g.lossTolerance * 100, mpps: g.lowerPps / 1e6, lowerMpps: g.lowerPps / 1e6, upperMpps: g.upperPps / 1e6,
    ...(typeof bps === 'number' && Number.isFinite(bps) ? { gbps: bps / 1e9 } : {}), converged: g.converged, ...(g.note ? { note: g.note } : {}),
  };
}

/**
 * Where the search's lossy trials lost their frames: each loss counter of the path that rose in
 * them, with how many trials and frames (counters may overlap: veth's link "rx dropped" repeats
 * its rx_queue drops). Nothing for a report whose trials have no drops (before schema 3's drops).
 */
function lossNote(s: Search): string | undefined {
  const lossy = s.trials.filter((t) => t.sent > t.received);
  const by = new Map<string, { trials: number; frames: number }>();
  for (const t of lossy) {
    for (const [k, v] of Object.entries(t.drops ?? {})) {
      const e = by.get(k) ?? { trials: 0, frames: 0 };
      e.trials++;
      e.frames += v;
      by.set(k, e);
    }
  }
  if (!by.size) return undefined;
  const silent = lossy.filter((t) => !t.drops || !Object.keys(t.drops).length).length;
  return `frames were lost in ${lossy.length} of ${s.trials.length} trials; loss counters that rose in them: ${[...by].map(([k, e]) => `${k} (${e.trials} trials, ${e.frames} frames)`).join(', ')}${silent ? `; in ${silent} of them no counter rose` : ''}`;
}

function searchNotes(s: Search): string[] {
  const notes: string[] = [];
  if (s.generatorBound) notes.push(`generator-bound: the generator could offer at most ${(s.maxPps / 1e6).toFixed(3)} Mpps, so the goals are lower bounds of what the receiver takes`);
  for (const g of s.goals) if (!g.converged) notes.push(`${g.name.toUpperCase()} did not converge${g.note ? `: ${g.note}` : ''}`);
  const loss = lossNote(s);
  if (loss) notes.push(loss);
  return notes;
}

export function searchViews(report: Pick<Report, 'rows'>): SearchView[] {
  const out: SearchView[] = [];
  for (const r of report.rows) {
    if (!drawable(r)) continue;
    const t = firstWith(r, 'search');
    if (!t) continue;
    const s = t.search;
    out.push({
      row: r.id, label: rowText(r), trial: t.index, trials: r.trials.filter((x) => x.search).length,
      points: s.trials.map((p) => ({ x: p.offeredPps / 1e6, y: p.lossRatio * 100, phase: p.phase, targetMpps: p.targetPps / 1e6 })),
      goals: s.goals.map((g) => goalView(g, t)),
      precisionPct: s.precision * 100, maxMpps: s.maxPps / 1e6, generatorBound: s.generatorBound, elapsedMs: s.elapsedMs, notes: searchNotes(s),
    });
  }
  return out;
}

export const GOAL_COLOURS: Record<string, string> = { ndr: '#16a34a', pdr: '#ea580c' };
const goalColour = (name: string) => GOAL_COLOURS[name] ?? '#9333ea';

export interface GoalLineAnnotation {
  type: 'line';
  scaleID: 'x';
  value: number;
  borderColor: string;
  borderWidth: number;
  borderDash?: number[];
  label: { display: boolean; content: string[]; position: 'start' | 'end'; backgroundColor: string; color: string; font: { size: number } };
}
export interface GoalBoundsAnnotation {
  type: 'box';
  xMin: number;
  xMax: number;
  backgroundColor: string;
  borderWidth: number;
}

/** The words on a goal's line: its rate, bounds and tolerance, and whether it converged. */
export function goalText(g: GoalView): string[] {
  return [
    `${g.name.toUpperCase()} ${g.mpps.toFixed(3)} Mpps${g.gbps !== undefined ? ` (${g.gbps.toFixed(3)} Gbps)` : ''}`,
    `bounds ${g.lowerMpps.toFixed(3)}–${g.upperMpps.toFixed(3)}, loss ≤ ${g.tolerancePct}%${g.converged ? '' : ', not converged'}`,
  ];
}

/**
 * chartjs-plugin-annotation's `annotations` for a search: per goal a vertical line at its rate
 * (dashed when it did not converge) labelled with goalText, and a faint box between its bounds.
 */
export function goalAnnotations(v: SearchView, fontSize = 11): Record<string, GoalLineAnnotation | GoalBoundsAnnotation> {
  const out: Record<string, GoalLineAnnotation | GoalBoundsAnnotation> = {};
  v.goals.forEach((g, i) => {
    const c = goalColour(g.name);
    out[`${g.name}-bounds`] = { type: 'box', xMin: g.lowerMpps, xMax: g.upperMpps, backgroundColor: `${c}22`, borderWidth: 0 };
    out[g.name] = {
      type: 'line', scaleID: 'x', value: g.mpps, borderColor: c, borderWidth: 2, ...(g.converged ? {} : { borderDash: [6, 4] }),
      label: { display: true, content: goalText(g), position: i % 2 ? 'end' : 'start', backgroundColor: c, color: '#fff', font: { size: fontSize } },
    };
  });
  return out;
}

// ---- 2: latency ---------------------------------------------------------------------------------

/** x of an HDR percentile plot: the number of nines, log10(1 / (1 - p)); 0 = 0%, 2 = 99%, 4 = 99.99%. */
export function nines(percentile: number): number {
  return percentile >= 100 ? Infinity : Math.log10(100 / (100 - percentile));
}
/** The tick label for a number of nines: 0 -> '0%', 1 -> '90%', 3 -> '99.9%'. */
export function ninesText(x: number): string {
  if (x <= 0) return '0%';
  const p = 100 * (1 - 10 ** -x);
  return `${Number(p.toFixed(Math.max(0, Math.ceil(x) - 2)))}%`;
}

export interface LatencyView {
  row: string;
  label: string;
  /** Offered load as a fraction of the goal found by `ofRow` (0: idle); absent for rows without load. */
  fraction?: number;
  goal?: string;
  ofRow?: string;
  /** Percentile curve: x nines, y µs. */
  points: { x: number; y: number }[];
  /** From the histogram, or only the summary's percentiles when it could not be read. */
  source: 'histogram' | 'summary';
  summary: { count: number; minUs: number; p50Us: number; p90Us: number; p99Us: number; p999Us: number; maxUs: number; meanUs: number };
}

/** Steps of a tenth of a nine up to what the count can say (1/(1-p) <= count), then the maximum. */
function curveFromHistogram(l: Latency): { x: number; y: number }[] {
  const h = decodeFromCompressedBase64(l.histogram);
  try {
    const top = Math.max(1, Math.log10(Math.max(h.totalCount, 10)));
    const pts: { x: number; y: number }[] = [];
    for (let x = 0; x <= top + 1e-9; x += 0.1) {
      const p = 100 * (1 - 10 ** -x);
      pts.push({ x: Number(x.toFixed(2)), y: h.getValueAtPercentile(p) / 1000 });
    }
    pts.push({ x: Number(top.toFixed(2)), y: h.maxValue / 1000 });
    return pts;
  } finally { h.destroy(); }
}

function curveFromSummary(l: Latency): { x: number; y: number }[] {
  return [[0, l.minNs], [nines(50), l.p50Ns], [1, l.p90Ns], [2, l.p99Ns], [3, l.p999Ns], [Math.max(3.5, Math.log10(Math.max(l.count, 10))), l.maxNs]]
    .map(([x, ns]) => ({ x: Number(x!.toFixed(2)), y: ns! / 1000 }));
}

export function latencyViews(report: Pick<Report, 'rows'>): LatencyView[] {
  const out: LatencyView[] = [];
  for (const r of report.rows) {
    if (!drawable(r)) continue;
    const t = firstWith(r, 'latency');
    if (!t || t.latency.count === 0) continue;
    const l = t.latency;
    let points: { x: number; y: number }[];
    let source: LatencyView['source'] = 'histogram';
    try { points = curveFromHistogram(l); } catch { points = curveFromSummary(l); source = 'summary'; }
    out.push({
      row: r.id, label: latencyLabel(r), ...(r.load ? { fraction: r.load.fraction, goal: r.load.goal, ofRow: r.load.ofRow } : {}), points, source,
      summary: { count: l.count, minUs: l.minNs / 1000, p50Us: l.p50Ns / 1000, p90Us: l.p90Ns / 1000, p99Us: l.p99Ns / 1000, p999Us: l.p999Ns / 1000, maxUs: l.maxNs / 1000, meanUs: l.meanNs / 1000 },
    });
  }
  return out;
}

function latencyLabel(r: Row): string {
  if (!r.load) return rowText(r);
  return r.load.fraction === 0 ? 'idle' : `${Math.round(r.load.fraction * 100)}% of ${r.load.goal.toUpperCase()}`;
}

export interface LatencyGroup {
  key: string;
  title: string;
  curves: LatencyView[];
  /** The x axis ends at the deepest percentile measured (no empty nines on the right). */
  xMax: number;
}

/** One chart per searched row (its idle and loaded latency rows overlaid, lightest load first); other latency rows on one more. */
export function latencyGroups(views: LatencyView[], rows: Rows): LatencyGroup[] {
  const groups = new Map<string, LatencyGroup>();
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const v of views) {
    const key = v.ofRow ?? '';
    let g = groups.get(key);
    if (!g) {
      const of = v.ofRow ? byId.get(v.ofRow) : undefined;
      g = { key, title: v.ofRow ? `Latency at fractions of ${v.goal?.toUpperCase() ?? 'the goal'} of ${of ? rowText(of) : v.ofRow}` : 'Latency', curves: [], xMax: 1 };
      groups.set(key, g);
    }
    g.curves.push(v);
    g.xMax = Math.max(g.xMax, ...v.points.map((p) => p.x));
  }
  for (const g of groups.values()) g.curves.sort((a, b) => (a.fraction ?? 0) - (b.fraction ?? 0));
  return [...groups.values()];
}

// ---- 3: frame-size sweeps -----------------------------------------------------------------------

export interface SweepView {
  key: string;
  label: string;
  /** What the bars are: the row's rate, or the NDR for search rows. */
  measure: string;
  sizes: string[];
  rows: string[];
  mpps: (number | null)[];
  gbps: (number | null)[];
}

/** Everything that makes a row what it is but its frames. */
function sweepKey(r: Row): string {
  const isSearch = r.trials.some((t) => t.search);
  return JSON.stringify([r.test, r.tool, r.mode, !!r.copy, r.queues ?? 1, r.backend ?? '', isSearch]);
}
const median = (r: Row, metric: string): number | undefined => r.stats[metric]?.median;

/** Rows that differ only by frame size (or mix), two sizes or more, smallest first and mixes last. */
export function sweepViews(report: Pick<Report, 'rows'>): SweepView[] {
  const groups = new Map<string, Row[]>();
  for (const r of report.rows) {
    if (!drawable(r) || r.load || (r.frameBytes === undefined && !r.frameMix)) continue;
    const k = sweepKey(r);
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const out: SweepView[] = [];
  for (const [key, rows] of groups) {
    if (new Set(rows.map(frameText)).size < 2) continue;
    rows.sort((a, b) => (a.frameMix ? 1 : 0) - (b.frameMix ? 1 : 0) || (a.frameBytes ?? 0) - (b.frameBytes ?? 0));
    const search = rows.some((r) => r.trials.some((t) => t.search));
    const pps = search ? 'ndrPacketsPerSecond' : 'packetsPerSecond', bps = search ? 'ndrBitsPerSecond' : 'bitsPerSecond';
    const r0 = rows[0]!;
    const scaled = (v: number | undefined, s: number) => (v === undefined || !Number.isFinite(v) ? null : v / s);
    out.push({
      key, label: `${r0.backend ? `${r0.backend} ` : ''}${r0.test} ${r0.mode}${r0.copy ? ' copy' : ''} [${r0.tool}]`, measure: search ? 'NDR' : 'median rate',
      sizes: rows.map(frameText), rows: rows.map((r) => r.id),
      mpps: rows.map((r) => scaled(median(r, pps), 1e6)), gbps: rows.map((r) => scaled(median(r, bps), 1e9)),
    });
  }
  return out;
}

// ---- all of it ----------------------------------------------------------------------------------

export interface ReportViews { searches: SearchView[]; latency: LatencyGroup[]; sweeps: SweepView[] }

export function reportViews(report: Pick<Report, 'rows'>): ReportViews {
  return { searches: searchViews(report), latency: latencyGroups(latencyViews(report), report.rows), sweeps: sweepViews(report) };
}
