// rxonly: receive and drop (testpmd's rxonly). Per burst: take what the rx ring holds, count
// it, give the frames back to the pool (the next rxBurst moves them onto the fill ring).
// With `measure`, it also reads every frame's stamp: counts per flow, order, duplicates and
// latency (receive time read once per burst, so a burst's frames of one tx batch coalesce
// into one histogram record).
import { performance } from 'node:perf_hooks';
import { FrameBatch, type AfXdpPort } from '../../native/index.js';
import type { BurstCounts, Engine, EngineParams } from './engine.js';
import { nsFromPerfMs } from './clock.js';
import { LatencyRecorder } from './latency-recorder.js';
import { hasStamp, stampFlow, stampSeq, stampTimeNs, viewOf } from './stamp.js';
import { StreamMeter } from './stream-meter.js';

/**
 * Measuring, after this many empty bursts the receiver sleeps in poll() (up to IDLE_WAIT_MS)
 * instead of spinning: on a busy host a spinning receiver is preempted for whole time slices
 * and frames wait on its ring (latencies of 100+ ms were seen), a sleeping one is woken when
 * frames arrive.
 */
const IDLE_BURSTS = 64;
const IDLE_WAIT_MS = 1;

export class RxOnlyEngine implements Engine {
  readonly name = 'rxonly' as const;
  private batch = new FrameBatch(1);
  private readonly counts: BurstCounts = { rx: 0, tx: 0 };
  private inspect: EngineParams['inspect'];
  /** Set with `measure`: the stream's counts and its latencies. */
  meter: StreamMeter | null = null;
  latency: LatencyRecorder | null = null;
  private views: DataView[] = [];
  /** Consecutive empty bursts (measure: after IDLE_BURSTS of them, wait in poll()). */
  private idle = 0;

  prepare(port: AfXdpPort, params: EngineParams): void {
    this.batch = new FrameBatch(params.batch);
    this.inspect = params.inspect;
    this.meter = params.measure ? new StreamMeter(params.flows ?? 1) : null;
    this.latency = params.measure ? new LatencyRecorder() : null;
    this.views = port.queues.map((q) => viewOf(q.umem.bytes));
    this.idle = 0;
  }

  burst(port: AfXdpPort, queue: number): BurstCounts {
    const q = port.queues[queue]!;
    const batch = this.batch;
    const n = q.rxBurst(batch);
    if (n > 0) {
      const inspect = this.inspect;
      if (inspect !== undefined) {
        const bytes = q.umem.bytes;
        for (let i = 0; i < n; i++) inspect(bytes, batch.addr[i]!, batch.len[i]!);
      }
      if (this.meter !== null) this.measure(this.views[queue]!, n);
      q.release(batch, 0, n);
      this.idle = 0;
    } else if (this.meter !== null && ++this.idle >= IDLE_BURSTS) {
      q.waitReadable(IDLE_WAIT_MS);
      this.idle = 0;
    }
    this.counts.rx = n;
    return this.counts;
  }

  private measure(view: DataView, n: number): void {
    const meter = this.meter!;
    const latency = this.latency!;
    const flows = meter.flows;
    const nowNs = nsFromPerfMs(performance.now());
    const addr = this.batch.addr;
    const len = this.batch.len;
    for (let i = 0; i < n; i++) {
      const a = addr[i]!;
      const l = len[i]!;
      if (!hasStamp(view, a, l)) { meter.foreign++; continue; }
      const flow = stampFlow(view, a);
      if (flow >= flows) { meter.foreign++; continue; }
      meter.observe(flow, stampSeq(view, a), l);
      latency.add(nowNs - stampTimeNs(view, a));
    }
  }

  finish(_port: AfXdpPort): void {
    // Frames are given back inside burst(); nothing is held between bursts.
    this.latency?.flush();
  }
}
