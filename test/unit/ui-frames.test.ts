// bench:ui's frame statistics: which frames and long tasks count (those while samples streamed)
// and the percentiles it reports. The probe itself runs in Chromium in the benchmark.
import { describe, expect, it } from 'vitest';
import { percentile, streamingSpans, summarizeFrames } from '../../benchmarks/bench/ui-frames.js';

describe('bench:ui frame statistics', () => {
  it('takes the nearest-rank percentile', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(v, 50)).toBe(50);
    expect(percentile(v, 99)).toBe(99);
    expect(percentile(v, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 99)).toBeNaN();
  });

  it('spans each row from its first sample to its last plus one interval', () => {
    const spans = streamingSpans(new Map([['txonly', [1000, 1250, 1500]], ['rxonly', [5000, 5250]], ['none', []]]), 250);
    expect(spans).toEqual([{ from: 1000, to: 1750 }, { from: 5000, to: 5500 }]);
  });

  it('counts only frames and long tasks inside the spans', () => {
    const spans = [{ from: 1000, to: 2000 }];
    const frames: Array<[number, number]> = [[900, 400], [1016, 16], [1033, 17], [1200, 167], [1216, 16], [2100, 900]];
    const s = summarizeFrames({ frames, longTasks: [[1030, 150], [2500, 900]] }, spans);
    expect(s).toMatchObject({ frames: 4, maxMs: 167, over100Ms: 1, over50Ms: 1, longTasks: 1, longTaskMaxMs: 150, streamingSeconds: 1 });
    expect(s.p50Ms).toBe(16);
    expect(s.p99Ms).toBe(167);
  });
});
