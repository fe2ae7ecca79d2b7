// rxonly: receive and drop (testpmd's rxonly). Per burst: take what the rx ring holds, count
// it, give the frames back to the pool (the next rxBurst moves them onto the fill ring).
import { FrameBatch, type AfXdpPort } from '../../native/index.js';
import type { BurstCounts, Engine, EngineParams } from './engine.js';

export class RxOnlyEngine implements Engine {
  readonly name = 'rxonly' as const;
  private batch = new FrameBatch(1);
  private readonly counts: BurstCounts = { rx: 0, tx: 0 };
  private inspect: EngineParams['inspect'];

  prepare(_port: AfXdpPort, params: EngineParams): void {
    this.batch = new FrameBatch(params.batch);
    this.inspect = params.inspect;
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
      q.release(batch, 0, n);
    }
    this.counts.rx = n;
    return this.counts;
  }

  finish(_port: AfXdpPort): void {
    // Frames are given back inside burst(); nothing is held between bursts.
  }
}
