// The lab's shared time base: CLOCK_MONOTONIC in nanoseconds, as a Number.
//
// Why not process.hrtime.bigint() per read: it allocates a BigInt on every call. Node's
// performance.now() reads the same clock (uv_hrtime, CLOCK_MONOTONIC on Linux) relative to the
// process's start, so one offset taken here turns it into the host-wide clock that another
// process (the generator, the receiver) reads too. A Number of ns is exact below 2^53 ns
// (104 days of uptime) and off by a nanosecond or two beyond.
import { performance } from 'node:perf_hooks';

/** CLOCK_MONOTONIC ns minus performance.now() in ns, taken once per process. */
const OFFSET_NS = Number(process.hrtime.bigint()) - performance.now() * 1e6;

/** CLOCK_MONOTONIC now, in nanoseconds (shared by every process on this host). */
export function monotonicNs(): number {
  return Math.round(performance.now() * 1e6 + OFFSET_NS);
}

/** CLOCK_MONOTONIC ns of a performance.now() reading (a clock read the caller already has). */
export function nsFromPerfMs(ms: number): number {
  return Math.round(ms * 1e6 + OFFSET_NS);
}
