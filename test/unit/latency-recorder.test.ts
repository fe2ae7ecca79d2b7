import { describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { build, decodeFromCompressedBase64 } from 'hdr-histogram-js';
import { LatencySchema } from '../../benchmarks/contracts/report.js';
import { HIGHEST_NS, LatencyRecorder } from '../../benchmarks/engines/latency-recorder.js';

describe('LatencyRecorder', () => {
  it('summarises what it was given, in the report shape, with the histogram encoded', () => {
    const r = new LatencyRecorder();
    for (let i = 1; i <= 1000; i++) r.add(i * 1000); // 1 us .. 1 ms
    const s = LatencySchema.parse(r.summary());
    expect(s.count).toBe(1000);
    expect(s.minNs).toBe(1000);
    // 3 significant digits: within 0.1%.
    expect(s.p50Ns).toBeGreaterThanOrEqual(500_000 * 0.999);
    expect(s.p50Ns).toBeLessThanOrEqual(500_000 * 1.001);
    expect(s.p99Ns / 990_000).toBeCloseTo(1, 2);
    expect(s.maxNs / 1_000_000).toBeCloseTo(1, 2);
    expect(s.meanNs / 500_500).toBeCloseTo(1, 2);
    const back = decodeFromCompressedBase64(s.histogram);
    expect(back.totalCount).toBe(1000);
    expect(back.getValueAtPercentile(50)).toBe(s.p50Ns);
  });

  it('coalesces runs of equal values into one histogram record each', () => {
    const r = new LatencyRecorder();
    for (let i = 0; i < 64; i++) r.add(5000);
    for (let i = 0; i < 32; i++) r.add(7000);
    r.addCount(7000, 10);
    r.add(5000);
    const s = r.summary();
    expect(r.records).toBe(3);
    expect(s.count).toBe(107);
    expect(s.minNs).toBe(5000);
    expect(s.maxNs).toBeCloseTo(7000, -1);
  });

  it('clamps values outside 1 ns .. 60 s and counts them', () => {
    const r = new LatencyRecorder();
    r.add(-5);
    r.add(0);
    r.add(HIGHEST_NS * 2);
    const s = r.summary();
    expect(s.count).toBe(3);
    expect(r.clamped).toBe(3);
    expect(s.minNs).toBe(1);
  });

  it('an empty recorder gives zeros', () => {
    expect(new LatencyRecorder().summary()).toMatchObject({ count: 0, minNs: 0, p50Ns: 0, maxNs: 0, meanNs: 0 });
  });

  it('records cost (printed): per recordValue, and per frame when coalesced in runs of 32', () => {
    const h = build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_NS, numberOfSignificantValueDigits: 3, autoResize: false, bitBucketSize: 64 });
    const n = 200_000;
    let t = performance.now();
    for (let i = 0; i < n; i++) h.recordValue(10_000 + (i & 1023) * 37);
    const perRecord = ((performance.now() - t) * 1e6) / n;
    const r = new LatencyRecorder();
    t = performance.now();
    for (let i = 0; i < n; i++) r.add(10_000 + ((i >>> 5) & 1023) * 37);
    r.flush();
    const perFrame = ((performance.now() - t) * 1e6) / n;
    console.log(`hdr recordValue ${perRecord.toFixed(0)} ns; coalesced (runs of 32) ${perFrame.toFixed(1)} ns per frame`);
    expect(r.records).toBe(n / 32);
  });
});
