// The lab's shared time base: CLOCK_MONOTONIC in nanoseconds, as a Number.
//
// Why not process.hrtime.bigint() per read: it allocates a BigInt on every call. Node's
// performance.now() reads the same clock (uv_hrtime, CLOCK_MONOTONIC on Linux) relative to the
// process's start, so one offset taken here turns it into the host-wide clock that another
// process (the generator, the receiver) reads too. A Number of ns is exact below 2^53 ns
// (104 days of uptime) and off by a nanosecond or two beyond.
import { performance } from 'node:perf_hooks';

/**
 * CLOCK_MONOTONIC ns minus performance.now() in ns, taken once per process from the tightest
 * of a few bracketed reads: a process preempted between two reads would otherwise carry the
 * preemption in its offset (tens of us to ms on a busy host) into every latency.
 */
function measureOffset(): number {
  let best = Infinity;
  let offset = 0;
  for (let i = 0; i < 50; i++) {
    const p1 = performance.now();
    const h = Number(process.hrtime.bigint());
    const p2 = performance.now();
    if (p2 - p1 < best) { best = p2 - p1; offset = h - ((p1 + p2) / 2) * 1e6; }
  }
  return offset;
}
const OFFSET_NS = measureOffset();

/** CLOCK_MONOTONIC now, in nanoseconds (shared by every process on this host). */
export function monotonicNs(): number {
  return Math.round(performance.now() * 1e6 + OFFSET_NS);
}

/** CLOCK_MONOTONIC ns of a performance.now() reading (a clock read the caller already has). */
export function nsFromPerfMs(ms: number): number {
  return Math.round(ms * 1e6 + OFFSET_NS);
}
