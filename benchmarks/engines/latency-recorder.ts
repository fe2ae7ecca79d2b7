// One-way latencies of received frames into an HDR histogram (1 ns .. 60 s, 3 significant
// digits), and their summary in the report's LatencySchema shape.
//
// Why coalescing: recordValue costs ~100 ns, a budget a receiver cannot spend per frame at
// Mpps. Frames of one tx batch carry one send time and frames of one rx burst share one
// receive time, so runs of equal latencies are common: add() only extends the current run,
// and one recordValueWithCount per run reaches the histogram.
import { build, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import type { z } from 'zod';
import type { LatencySchema } from '../contracts/report.js';

export type Latency = z.infer<typeof LatencySchema>;

export const LOWEST_NS = 1;
export const HIGHEST_NS = 60e9;

export class LatencyRecorder {
  readonly histogram: Histogram = build({ lowestDiscernibleValue: LOWEST_NS, highestTrackableValue: HIGHEST_NS, numberOfSignificantValueDigits: 3, autoResize: false, bitBucketSize: 64 });
  private runValue = -1;
  private runCount = 0;
  /** Values outside 1 ns .. 60 s, clamped into the range (a clock or stamp gone wrong). */
  clamped = 0;
  /** Calls into the histogram (one per run of equal values). */
  records = 0;

  /** Adds one latency in ns (fractions are rounded). */
  add(ns: number): void {
    if (ns === this.runValue) { this.runCount++; return; }
    this.flush();
    this.runValue = ns;
    this.runCount = 1;
  }

  /** Adds `count` latencies of one value. */
  addCount(ns: number, count: number): void {
    if (ns === this.runValue) { this.runCount += count; return; }
    this.flush();
    this.runValue = ns;
    this.runCount = count;
  }

  /** Moves the current run into the histogram. */
  flush(): void {
    if (this.runCount === 0) return;
    let v = Math.round(this.runValue);
    if (v < LOWEST_NS || v > HIGHEST_NS) { this.clamped += this.runCount; v = v < LOWEST_NS ? LOWEST_NS : HIGHEST_NS; }
    this.histogram.recordValueWithCount(v, this.runCount);
    this.records++;
    this.runValue = -1;
    this.runCount = 0;
  }

  /** The summary the report carries (with the histogram, so any percentile can be read again). */
  summary(): Latency {
    this.flush();
    const h = this.histogram;
    const count = h.totalCount;
    // A percentile is its bucket's highest equivalent value: never past the largest recorded.
    const at = (p: number) => (count > 0 ? Math.min(h.getValueAtPercentile(p), h.maxValue) : 0);
    return {
      count,
      minNs: count > 0 ? h.minNonZeroValue : 0,
      p50Ns: at(50),
      p90Ns: at(90),
      p99Ns: at(99),
      p999Ns: at(99.9),
      maxNs: count > 0 ? h.maxValue : 0,
      meanNs: count > 0 ? h.mean : 0,
      histogram: encodeIntoCompressedBase64(h),
    };
  }
}
