// txonly: transmit the same UDP frame as fast as the ring allows (testpmd's txonly).
//
// The frame template is written once into every frame of the UMEM at prepare: transmitted
// frames come back through the completion ring unchanged, and this engine never receives, so
// no frame it takes from the pool can hold anything else. Per burst: reclaim completions,
// take free frames, queue them (lengths were set once at prepare), give back what did not fit.
// Per packet that is a handful of typed-array reads and writes; FFI only for the kick.
import { FrameBatch, type AfXdpPort } from '../../native/index.js';
import type { BurstCounts, Engine, EngineParams } from './engine.js';
import { DEFAULT_FRAME, buildUdpFrame, type UdpFrameSpec } from './frames.js';

/**
 * Writes the frame into every frame of every queue's UMEM (copyWithin: no allocation). With
 * `flows` > 1, frame i carries UDP source port srcPort + (i mod flows), checksums recomputed
 * here once, so the hot path still only moves descriptors.
 */
export function writeTemplateEverywhere(port: AfXdpPort, spec: UdpFrameSpec, flows = 1): void {
  for (const q of port.queues) {
    const { frameSize, frameCount } = q.umem.geometry;
    if (spec.frameBytes > frameSize) {
      throw new RangeError(`frameBytes ${spec.frameBytes} does not fit in ${frameSize}-byte UMEM frames`);
    }
    const bytes = q.umem.bytes;
    for (let f = 0; f < Math.min(flows, frameCount); f++) buildUdpFrame(bytes, f * frameSize, { ...spec, srcPort: (spec.srcPort + f) & 0xffff });
    for (let i = flows; i < frameCount; i++) bytes.copyWithin(i * frameSize, (i % flows) * frameSize, (i % flows) * frameSize + spec.frameBytes);
  }
}

export class TxOnlyEngine implements Engine {
  readonly name = 'txonly' as const;
  private batch = new FrameBatch(1);
  private readonly counts: BurstCounts = { rx: 0, tx: 0 };
  private remaining = Infinity;
  /** Frames queued on the tx ring (completions are what burst() reports as tx). */
  queued = 0;

  prepare(port: AfXdpPort, params: EngineParams): void {
    const spec: UdpFrameSpec = { ...DEFAULT_FRAME, ...params.frame, frameBytes: params.frameBytes };
    writeTemplateEverywhere(port, spec, params.flows ?? 1);
    this.batch = new FrameBatch(params.batch);
    this.batch.len.fill(params.frameBytes);
    this.remaining = params.maxPackets ?? Infinity;
    this.queued = 0;
  }

  burst(port: AfXdpPort, queue: number): BurstCounts {
    const q = port.queues[queue]!;
    const counts = this.counts;
    counts.tx = q.reclaim();
    const batch = this.batch;
    const want = this.remaining < batch.capacity ? this.remaining : batch.capacity;
    if (want > 0 && q.allocate(batch, want) > 0) {
      const n = batch.count;
      const sent = q.txBurst(batch);
      if (sent < n) q.release(batch, sent, n);
      this.queued += sent;
      this.remaining -= sent;
    }
    return counts;
  }

  finish(_port: AfXdpPort): void {
    // Nothing held between bursts: unsent frames go back to the pool inside burst().
  }
}
