// What a rate-controlled generator sends and what a measuring receiver reads back: the frame
// size mixes (fixed sizes and IMIX), the offered rate, and the stamp every measured frame
// carries at the start of its UDP payload. The generator and the receiver run on one host and
// share CLOCK_MONOTONIC, so a receive time minus the stamp's send time is a one-way latency.
import { z } from 'zod';
import { MAX_FRAME_BYTES, MIN_FRAME_BYTES } from './vocabulary.js';

/**
 * IMIX as TRex and CSIT define it: 7 : 4 : 1 frames of 64, 570 and 1518 bytes (with FCS, as
 * those tools count; xdplab hands the device 4 bytes less, like testpmd's --txpkts).
 */
export const IMIX = { name: 'imix', sizes: [64, 570, 1518], weights: [7, 4, 1] } as const;

/** A frame mix: one size, or IMIX's 7:4:1. */
export const FrameMixSchema = z.union([
  z.number().int().min(MIN_FRAME_BYTES).max(MAX_FRAME_BYTES),
  z.literal('imix'),
]);
export type FrameMix = z.infer<typeof FrameMixSchema>;

/** The sizes of one IMIX cycle in send order (interleaved, not 7 small frames in a row). */
export function imixCycle(): number[] {
  // 12 frames, each size spread evenly over the cycle (smooth weighted round robin).
  const total = IMIX.weights.reduce((a, b) => a + b, 0);
  const out: number[] = [];
  const credit = IMIX.weights.map(() => 0);
  for (let i = 0; i < total; i++) {
    let best = 0;
    for (let k = 0; k < IMIX.weights.length; k++) {
      credit[k]! += IMIX.weights[k]!;
      if (credit[k]! > credit[best]!) best = k;
    }
    credit[best]! -= total;
    out.push(IMIX.sizes[best]!);
  }
  return out;
}

/** Mean bytes per frame of a mix (for Gbps from Mpps). */
export function meanFrameBytes(mix: FrameMix): number {
  if (mix !== 'imix') return mix;
  const c = imixCycle();
  return c.reduce((a, b) => a + b, 0) / c.length;
}

/** The label rows carry: 64B, 1518B, imix. */
export function mixLabel(mix: FrameMix): string {
  return mix === 'imix' ? 'imix' : `${mix}B`;
}

/**
 * The stamp, at the start of the UDP payload (Ethernet 14 + IPv4 20 + UDP 8 = byte 42 of the
 * frame), little-endian: magic u16, flow u16, sequence u32 (per flow, from 0), send time u64
 * (CLOCK_MONOTONIC nanoseconds). Stamped frames carry UDP checksum 0 ("none", valid for IPv4):
 * the payload changes per frame and nothing on the path checks it.
 */
export const STAMP = {
  /** Byte offset of the stamp in the frame (the UDP payload). */
  offset: 42,
  /** magic: u16 0x584c ('XL'). */
  magicOffset: 0,
  magic: 0x584c,
  /** flow: u16, the flow's index (0 .. flows-1). */
  flowOffset: 2,
  /** sequence: u32, per flow, counting from 0. */
  seqOffset: 4,
  /** send time: u64 nanoseconds of CLOCK_MONOTONIC (written as two u32, low word first). */
  timeOffset: 8,
  /** 16 bytes: 42 + 16 = 58 fits the smallest frame (60). */
  bytes: 16,
} as const;

/** The offered rate: packets per second, or a percentage of the row's measured maximum. */
export const RateSchema = z.union([
  z.number().positive().max(1e9),
  z.string().regex(/^(\d+(\.\d+)?)%$/, 'must be packets per second, or a percentage of the maximum like "50%"')
    .refine((p) => Number(p.slice(0, -1)) > 0 && Number(p.slice(0, -1)) <= 100, 'a percentage of the maximum must be in (0%, 100%]'),
]);
export type Rate = z.infer<typeof RateSchema>;
