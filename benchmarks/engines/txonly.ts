// txonly: transmit UDP frames as fast as the ring allows (testpmd's txonly), or at a set rate;
// optionally of mixed sizes (IMIX) and stamped for a measuring receiver.
//
// The frame templates are written once into every frame of the UMEM at prepare: transmitted
// frames come back through the completion ring unchanged, and this engine never receives, so
// no frame it takes from the pool can hold anything else. A frame's size and flow are fixed by
// its index in the UMEM. Per burst: reclaim completions, take free frames, queue them, give
// back what did not fit. Only IMIX (lengths by address) and stamps (sequence, send time) add
// per-frame work, and only when asked; FFI only for the kick.
import { performance } from 'node:perf_hooks';
import { FrameBatch, type AfXdpPort, type XskQueue } from '../../native/index.js';

type Umem = XskQueue['umem'];
import { imixCycle, type FrameMix } from '../contracts/traffic.js';
import type { BurstCounts, Engine, EngineParams } from './engine.js';
import { DEFAULT_FRAME, ETH_HEADER_BYTES, IPV4_HEADER_BYTES, buildUdpFrame, type UdpFrameSpec } from './frames.js';
import { nsFromPerfMs } from './clock.js';
import { STAMPED_FRAME_MIN_BYTES, viewOf, writeStampHeader, writeStampSend } from './stamp.js';

/** IMIX sizes count the 4-byte FCS (as TRex and CSIT do); the device is handed 4 bytes less. */
const FCS_BYTES = 4;
const TWO_32 = 2 ** 32;
const UDP_CHECKSUM = ETH_HEADER_BYTES + IPV4_HEADER_BYTES + 6;
/**
 * Paced, with a full burst further away than this, the generator sleeps instead of spinning
 * (for at most SLEEP_MAX_MS, so signals still get through). Why: on a busy host a spinning
 * process is preempted for whole time slices (stalls of 10-100+ ms were seen with 2 cores and
 * a load of 10), and credit beyond the cap is lost; a sleeping one is woken promptly.
 */
const SLEEP_ABOVE_MS = 0.5;
const SLEEP_MAX_MS = 2;
const SLEEPER = new Int32Array(new SharedArrayBuffer(4));
/** Paced: credit kept for this long at the rate, to catch up after a preemption. */
const CATCH_UP_MS = 10;

/** Bytes handed to the device for UMEM frame `index` under `mix`. */
export function frameBytesAt(mix: FrameMix, index: number, cycle: readonly number[] = imixCycle()): number {
  return mix === 'imix' ? cycle[index % cycle.length]! - FCS_BYTES : mix;
}

/**
 * Writes the frame into every frame of every queue's UMEM (copyWithin: no allocation). Frame i
 * carries UDP source port srcPort + (i mod flows) and frameBytesOf(i) bytes; each distinct
 * (size, flow) is built once with its checksums and copied, so the hot path only moves
 * descriptors.
 */
export function writeTemplateEverywhere(port: AfXdpPort, spec: UdpFrameSpec, flows = 1, frameBytesOf: (i: number) => number = () => spec.frameBytes): void {
  for (const q of port.queues) {
    const { frameSize, frameCount } = q.umem.geometry;
    const bytes = q.umem.bytes;
    const built = new Map<number, number>();
    for (let i = 0; i < frameCount; i++) {
      const len = frameBytesOf(i);
      if (len > frameSize) throw new RangeError(`frameBytes ${len} does not fit in ${frameSize}-byte UMEM frames`);
      const flow = i % flows;
      const key = len * 65536 + flow;
      const from = built.get(key);
      if (from === undefined) {
        buildUdpFrame(bytes, i * frameSize, { ...spec, frameBytes: len, srcPort: (spec.srcPort + flow) & 0xffff });
        built.set(key, i);
      } else bytes.copyWithin(i * frameSize, from * frameSize, from * frameSize + len);
    }
  }
}

/**
 * What per-frame work needs of one queue: frame index -> length and flow, a view to stamp, and
 * the queue's frames in a FIFO. Why a FIFO: the UMEM's pool is a LIFO stack, so at a low rate
 * the same few frames (one size, one flow) would go out again and again; taking every free
 * frame into a FIFO sends each frame in turn, so sizes and flows follow the frame table.
 */
interface QueueFrames { shift: number; lens: Uint32Array; flowOf: Uint16Array; view: DataView; fifo: Uint32Array; head: number; tail: number }

export class TxOnlyEngine implements Engine {
  readonly name = 'txonly' as const;
  private batch = new FrameBatch(1);
  private readonly counts: BurstCounts = { rx: 0, tx: 0 };
  private remaining = Infinity;
  /** Frames queued on the tx ring (completions are what burst() reports as tx). */
  queued = 0;
  /** Pacing: packets per millisecond (0: unpaced), credit in frames, last clock read. */
  private ppms = 0;
  private credit = 0;
  private creditCap = 0;
  private lastMs = -1;
  private firstMs = -1;
  /** Frames of credit dropped at the cap: what the generator could not send in time. */
  missed = 0;
  /** Completions so far (queued - completed: frames still on the tx ring or in flight). */
  private completed = 0;
  /** Per-queue frame tables when lengths vary (imix) or frames are stamped; else null. */
  private frames: QueueFrames[] | null = null;
  private varyLength = false;
  private stamping = false;
  /** Next sequence per flow = frames of that flow accepted by the tx ring so far. */
  private seq = new Float64Array(1);

  prepare(port: AfXdpPort, params: EngineParams): void {
    const mix: FrameMix = params.frameMix ?? params.frameBytes;
    const flows = params.flows ?? 1;
    const cycle = imixCycle();
    const bytesAt = (i: number) => frameBytesAt(mix, i, cycle);
    const spec: UdpFrameSpec = { ...DEFAULT_FRAME, ...params.frame, frameBytes: bytesAt(0) };
    writeTemplateEverywhere(port, spec, flows, bytesAt);
    this.batch = new FrameBatch(params.batch);
    this.varyLength = mix === 'imix';
    if (mix !== 'imix') this.batch.len.fill(mix);
    this.stamping = params.stamp === true;
    if (this.stamping && (mix === 'imix' ? Math.min(...cycle) - FCS_BYTES : mix) < STAMPED_FRAME_MIN_BYTES) {
      throw new RangeError(`stamp needs frames of ${STAMPED_FRAME_MIN_BYTES} bytes or more, got ${mix}`);
    }
    this.seq = new Float64Array(flows);
    this.frames = null;
    if (this.varyLength || this.stamping) {
      this.frames = port.queues.map((q) => {
        const { frameSize, frameCount } = q.umem.geometry;
        const lens = new Uint32Array(frameCount);
        const flowOf = new Uint16Array(frameCount);
        const view = viewOf(q.umem.bytes);
        for (let i = 0; i < frameCount; i++) {
          lens[i] = bytesAt(i);
          flowOf[i] = i % flows;
          if (this.stamping) {
            writeStampHeader(view, i * frameSize, i % flows);
            view.setUint16(i * frameSize + UDP_CHECKSUM, 0); // "no checksum": the payload changes per send
          }
        }
        return { shift: Math.log2(frameSize), lens, flowOf, view, fifo: new Uint32Array(frameCount), head: 0, tail: 0 };
      });
    }
    this.ppms = params.rate !== undefined ? params.rate / 1000 : 0;
    // Credit for CATCH_UP_MS at the rate (two bursts at least): after a preemption of up to that
    // long the generator catches up, so the rate holds on average over a trial on a shared host
    // (with two bursts only, 3 busy processes on 2 cores held 223 kpps at 160-177 kpps). The
    // price is a burst of up to CATCH_UP_MS worth of frames after a stall; longer stalls are
    // missed credit (rateMissedPackets) and the trial says it fell short.
    this.creditCap = Math.max(2 * params.batch, this.ppms * CATCH_UP_MS);
    this.credit = 0;
    this.lastMs = -1;
    this.firstMs = -1;
    this.missed = 0;
    this.completed = 0;
    this.remaining = params.maxPackets ?? Infinity;
    this.queued = 0;
  }

  /** Frames of each flow accepted by the tx ring so far (stamped runs; zeros otherwise). */
  sentPerFlow(): number[] {
    return Array.from(this.seq);
  }

  burst(port: AfXdpPort, queue: number): BurstCounts {
    const q = port.queues[queue]!;
    const counts = this.counts;
    counts.tx = q.reclaim();
    this.completed += counts.tx;
    const batch = this.batch;
    let want = this.remaining < batch.capacity ? this.remaining : batch.capacity;
    let nowMs = -1;
    if (this.ppms > 0) {
      // One clock read per burst; credit = elapsed * rate - queued, capped.
      nowMs = this.pace(performance.now(), want);
      if (this.credit < want) want = Math.floor(this.credit);
    }
    if (want <= 0) return counts;
    const frames = this.frames;
    if (frames === null) {
      if (q.allocate(batch, want) > 0) {
        const n = batch.count;
        const sent = q.txBurst(batch);
        if (sent < n) q.release(batch, sent, n);
        this.account(sent);
      }
      return counts;
    }
    const f = frames[queue]!;
    const n = this.takeInTurn(q.umem, f, want);
    if (n > 0) {
      this.perFrame(f, n, nowMs);
      const sent = q.txBurst(batch);
      if (sent < n) {
        if (this.stamping) this.unsend(f, sent, n);
        f.head -= n - sent; // not sent: first in line again, in the same order
      }
      this.account(sent);
    }
    return counts;
  }

  /**
   * Starts the pacer's clock now (the run's start) rather than at the first burst, so that a
   * stall before the first burst counts as missed instead of silently shortening the send time.
   */
  startPacing(nowMs: number): void {
    if (this.ppms === 0) return;
    this.lastMs = nowMs;
    this.firstMs = nowMs;
    this.credit = 0;
  }

  /** Paced: seconds from the pacer's first clock read to its last (0 unpaced). */
  sendSeconds(): number {
    return this.firstMs < 0 ? 0 : (this.lastMs - this.firstMs) / 1000;
  }

  /** Adds the credit earned since the last read (capped); sleeps first if a burst is far off. */
  private pace(nowMs: number, want: number): number {
    if (this.lastMs < 0) { this.lastMs = nowMs; this.firstMs = nowMs; }
    let credit = this.credit + (nowMs - this.lastMs) * this.ppms;
    const waitMs = (want - credit) / this.ppms;
    // Not while frames wait on the tx ring: in copy mode the kernel sends only inside a kick
    // (reclaim kicks, a bounded batch each), so sleeping would hold them back.
    if (waitMs > SLEEP_ABOVE_MS && this.queued === this.completed) {
      Atomics.wait(SLEEPER, 0, 0, Math.min(waitMs, SLEEP_MAX_MS));
      nowMs = performance.now();
      credit = this.credit + (nowMs - this.lastMs) * this.ppms;
    }
    this.lastMs = nowMs;
    if (credit > this.creditCap) { this.missed += credit - this.creditCap; credit = this.creditCap; }
    this.credit = credit;
    return nowMs;
  }

  private account(sent: number): void {
    this.queued += sent;
    this.remaining -= sent;
    this.credit -= sent;
  }

  /** Moves the pool's free frames (completions) to the FIFO's tail, takes up to `want` from its head. */
  private takeInTurn(umem: Umem, f: QueueFrames, want: number): number {
    const fifo = f.fifo;
    const size = fifo.length;
    while (umem.freeFrames > 0) fifo[f.tail++ % size] = umem.take();
    const n = Math.min(want, f.tail - f.head);
    const addr = this.batch.addr;
    for (let i = 0; i < n; i++) addr[i] = fifo[(f.head + i) % size]!;
    f.head += n;
    this.batch.count = n;
    return n;
  }

  /** Lengths by address (imix) and stamps (sequence per flow; one send time for the burst). */
  private perFrame(f: QueueFrames, n: number, nowMs: number): void {
    const addr = this.batch.addr;
    const len = this.batch.len;
    const { shift, lens, flowOf, view } = f;
    if (this.varyLength) for (let i = 0; i < n; i++) len[i] = lens[addr[i]! >>> shift]!;
    if (!this.stamping) return;
    const ns = nsFromPerfMs(nowMs < 0 ? performance.now() : nowMs);
    const lo = ns % TWO_32 >>> 0;
    const hi = Math.floor(ns / TWO_32) >>> 0;
    const seq = this.seq;
    for (let i = 0; i < n; i++) {
      const a = addr[i]!;
      const flow = flowOf[a >>> shift]!;
      const s = seq[flow]!;
      seq[flow] = s + 1;
      writeStampSend(view, a, s, lo, hi);
    }
  }

  /** Frames [from, to) did not fit the ring: they were not sent, so their sequences are free again. */
  private unsend(f: QueueFrames, from: number, to: number): void {
    const addr = this.batch.addr;
    for (let i = from; i < to; i++) this.seq[f.flowOf[addr[i]! >>> f.shift]!]!--;
  }

  finish(port: AfXdpPort): void {
    // Unsent frames go back inside burst(); frames waiting in a FIFO go back to their pool here.
    const frames = this.frames;
    if (frames === null) return;
    port.queues.forEach((q, i) => {
      const f = frames[i]!;
      for (; f.head < f.tail; f.head++) q.umem.give(f.fifo[f.head % f.fifo.length]!);
    });
  }
}
