// Frame timing inside the page: a requestAnimationFrame loop records every frame's start (epoch
// ms) and its delta from the one before, and a PerformanceObserver records 'longtask' entries
// (main-thread tasks over 50 ms). A frame the page could not draw for 100 ms shows up as a delta
// over 100 ms, whatever kept the main thread busy (chart updates, WebSocket messages, GC).
// The probe is a string: it runs in the page (CDP evaluates it, so the page's CSP allows it),
// and this module compiles without DOM types.

/** Installs the probe once per page (a second call keeps the first recording). */
export const FRAME_PROBE = `(() => {
  if (window.__xlFrames) return;
  const f = window.__xlFrames = { frames: [], longTasks: [] };
  const epoch = (t) => performance.timeOrigin + t;
  let last;
  const tick = (t) => {
    if (last !== undefined) f.frames.push([epoch(t), t - last]);
    last = t;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) f.longTasks.push([epoch(e.startTime), e.duration]);
    }).observe({ type: 'longtask', buffered: true });
  } catch { f.noLongTasks = true; }
})()`;

export const FRAME_COLLECT = 'JSON.stringify(window.__xlFrames ?? null)';

export interface FrameRecording {
  /** [frame callback time (epoch ms), ms since the previous frame's] */
  frames: Array<[number, number]>;
  /** [start (epoch ms), duration ms] */
  longTasks: Array<[number, number]>;
  noLongTasks?: boolean;
}

/** Time spans (epoch ms) during which samples arrived. */
export interface Span { from: number; to: number }

export interface FrameSummary {
  frames: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  over50Ms: number;
  over100Ms: number;
  longTasks: number;
  longTaskMaxMs: number;
  /** Seconds of streaming the frames cover. */
  streamingSeconds: number;
}

export function percentile(values: readonly number[], p: number): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

const inside = (t: number, spans: readonly Span[]) => spans.some((s) => t >= s.from && t <= s.to);

/** Frames whose gap ended while samples streamed, and long tasks that began then. */
export function summarizeFrames(rec: FrameRecording, spans: readonly Span[]): FrameSummary {
  const deltas = rec.frames.filter(([at]) => inside(at, spans)).map(([, d]) => d);
  const tasks = rec.longTasks.filter(([at]) => inside(at, spans)).map(([, d]) => d);
  return {
    frames: deltas.length,
    p50Ms: percentile(deltas, 50),
    p99Ms: percentile(deltas, 99),
    maxMs: deltas.length ? Math.max(...deltas) : NaN,
    over50Ms: deltas.filter((d) => d > 50).length,
    over100Ms: deltas.filter((d) => d > 100).length,
    longTasks: tasks.length,
    longTaskMaxMs: tasks.length ? Math.max(...tasks) : 0,
    streamingSeconds: spans.reduce((n, s) => n + (s.to - s.from), 0) / 1000,
  };
}

/**
 * Per row, from its first sample to its last plus one interval: the time the Live page was
 * receiving and charting samples (not the set-up between rows, when nothing streams).
 */
export function streamingSpans(arrivals: ReadonlyMap<string, number[]>, intervalMs: number): Span[] {
  return [...arrivals.values()].filter((t) => t.length).map((t) => ({ from: Math.min(...t), to: Math.max(...t) + intervalMs }));
}
