// What a stamped stream lost, from the generator's and the receiver's counts (no I/O, no
// native code: run code and reports import it).
import type { z } from 'zod';
import type { StreamCountsSchema } from '../contracts/report.js';

export type StreamCounts = z.infer<typeof StreamCountsSchema>;

/** The receiver's side of a stream (WorkerResult.stream of a measuring rxonly). */
export interface ReceivedStream {
  receivedPerFlow: readonly number[];
  /** Per flow; without it, duplicates are taken off the flow totals as a whole. */
  duplicatedPerFlow?: readonly number[];
  reordered: number;
  duplicated: number;
  foreign: number;
}

/**
 * Totals over flows; lost = sum over flows of max(0, sent - (received - duplicated)), so that
 * neither duplicates nor one flow's surplus hide another flow's loss.
 */
export function streamCounts(sentPerFlow: readonly number[], r: ReceivedStream): StreamCounts {
  const flows = Math.max(sentPerFlow.length, r.receivedPerFlow.length);
  let sent = 0;
  let received = 0;
  let lost = 0;
  for (let f = 0; f < flows; f++) {
    const s = sentPerFlow[f] ?? 0;
    const got = r.receivedPerFlow[f] ?? 0;
    const dup = r.duplicatedPerFlow ? (r.duplicatedPerFlow[f] ?? 0) : 0;
    sent += s;
    received += got;
    lost += Math.max(0, s - (got - dup));
  }
  // Without per-flow duplicates only the total can be corrected.
  if (!r.duplicatedPerFlow) lost = Math.max(0, sent - (received - r.duplicated));
  return { sent, received, lost, reordered: r.reordered, duplicated: r.duplicated, foreign: r.foreign, flows };
}
