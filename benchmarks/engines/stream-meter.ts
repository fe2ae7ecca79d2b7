// The receiver's bookkeeping of a stamped stream: per flow, frames received, the highest
// sequence seen and a sliding bitmap of the last WINDOW sequences (for duplicates), plus
// reordered, duplicated and foreign totals and a count of frame sizes. A handful of typed-array
// operations per frame, no allocation.

/** Sequences remembered per flow for duplicate detection (a power of two). */
export const WINDOW = 1024;
const WORDS = WINDOW >>> 5;
const MASK = WINDOW - 1;

export class StreamMeter {
  readonly receivedPerFlow: Float64Array;
  readonly duplicatedPerFlow: Float64Array;
  /** Frames with a sequence below their flow's highest seen (duplicates not included). */
  reordered = 0;
  duplicated = 0;
  /** Frames that are not the generator's: no stamp, or a flow out of range. */
  foreign = 0;
  /** Stamped frames by length in bytes (index: length). */
  readonly sizes: Float64Array;
  private readonly maxSeq: Float64Array;
  private readonly seen: Uint32Array;

  constructor(readonly flows: number, maxFrameBytes = 4096) {
    this.receivedPerFlow = new Float64Array(flows);
    this.duplicatedPerFlow = new Float64Array(flows);
    this.maxSeq = new Float64Array(flows).fill(-1);
    this.seen = new Uint32Array(flows * WORDS);
    this.sizes = new Float64Array(maxFrameBytes + 1);
  }

  /** One stamped frame of flow `flow` (already checked < flows) with sequence `seq`. */
  observe(flow: number, seq: number, length: number): void {
    this.receivedPerFlow[flow]!++;
    if (length < this.sizes.length) this.sizes[length]!++;
    const seen = this.seen;
    const base = flow * WORDS;
    const max = this.maxSeq[flow]!;
    if (seq > max) {
      // Forget the sequences the window slides past, then remember this one.
      if (seq - max > WINDOW) seen.fill(0, base, base + WORDS);
      else for (let s = max + 1; s < seq; s++) seen[base + ((s & MASK) >>> 5)]! &= ~(1 << (s & 31));
      seen[base + ((seq & MASK) >>> 5)]! |= 1 << (seq & 31);
      this.maxSeq[flow] = seq;
      return;
    }
    if (max - seq >= WINDOW) { this.reordered++; return; } // too old to tell a duplicate
    const w = base + ((seq & MASK) >>> 5);
    const bit = 1 << (seq & 31);
    if ((seen[w]! & bit) !== 0) { this.duplicated++; this.duplicatedPerFlow[flow]!++; return; }
    seen[w]! |= bit;
    this.reordered++;
  }

  /** Frame sizes seen, as { bytes: frames } (sizes never seen left out). */
  sizeCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 0; i < this.sizes.length; i++) if (this.sizes[i]! > 0) out[String(i)] = this.sizes[i]!;
    return out;
  }
}
