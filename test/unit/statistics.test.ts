import { describe, expect, it } from 'vitest';
import { difference, median, summarize, tCritical95 } from '../../benchmarks/report/statistics.js';

describe('summarize', () => {
  it('computes median, mean, min, max, sample stdev and a t-based 95% CI', () => {
    const s = summarize([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(s).toMatchObject({ n: 8, median: 4.5, mean: 5, min: 2, max: 9 });
    expect(s.stdev).toBeCloseTo(2.138, 3);
    const half = 2.365 * s.stdev / Math.sqrt(8);
    expect(s.ci95[0]).toBeCloseTo(5 - half, 6);
    expect(s.ci95[1]).toBeCloseTo(5 + half, 6);
  });
  it('handles one value and none', () => {
    expect(summarize([3])).toMatchObject({ n: 1, median: 3, stdev: 0, ci95: [3, 3] });
    expect(summarize([]).n).toBe(0);
    expect(median([3, 1, 2])).toBe(2);
  });
  it('uses the t table for small samples', () => {
    expect(tCritical95(1)).toBe(12.706);
    expect(tCritical95(4)).toBe(2.776);
    expect(tCritical95(1000)).toBeCloseTo(1.96, 2);
  });
});

describe('difference', () => {
  it('flags a planted 2x change', () => {
    const d = difference([1.0, 1.02, 0.98, 1.01], [2.0, 2.03, 1.97, 2.01]);
    expect(d.beyondNoise).toBe(true);
    expect(d.relative).toBeCloseTo(1, 1);
  });
  it('does not flag two samples of the same noisy process', () => {
    const d = difference([1.0, 1.05, 0.95, 1.02, 0.98], [1.01, 0.97, 1.04, 0.99, 1.0]);
    expect(d.beyondNoise).toBe(false);
  });
  it('does not flag a significant but tiny change', () => {
    expect(difference([1.0, 1.0001, 0.9999], [1.005, 1.0051, 1.0049]).beyondNoise).toBe(false);
  });
  it('cannot judge with a single value on a side', () => {
    expect(difference([1], [2, 2.1]).beyondNoise).toBe(false);
  });
});
