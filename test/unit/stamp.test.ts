import { describe, expect, it } from 'vitest';
import { STAMP } from '../../benchmarks/contracts/traffic.js';
import { STAMPED_FRAME_MIN_BYTES, hasStamp, splitTime, stampFlow, stampSeq, stampTimeNs, viewOf, writeStamp, writeStampHeader, writeStampSend } from '../../benchmarks/engines/stamp.js';

describe('frame stamp', () => {
  it('lays out magic, flow, sequence and send time little-endian at byte 42', () => {
    const b = new Uint8Array(128);
    const v = viewOf(b);
    const t = 0x0123_4567_89ab + 0.0; // above 2^32: the high word matters
    writeStamp(v, 64, 3, 0x01020304, t);
    const at = 64 + STAMP.offset;
    expect([...b.subarray(at, at + 16)]).toEqual([
      0x4c, 0x58, // magic 0x584c
      3, 0, // flow
      4, 3, 2, 1, // seq
      0xab, 0x89, 0x67, 0x45, 0x23, 0x01, 0, 0, // ns: low word, then high word
    ]);
    expect(hasStamp(v, 64, 64)).toBe(true);
    expect(stampFlow(v, 64)).toBe(3);
    expect(stampSeq(v, 64)).toBe(0x01020304);
    expect(stampTimeNs(v, 64)).toBe(t);
  });

  it('round-trips CLOCK_MONOTONIC-sized times exactly (below 2^53)', () => {
    const v = viewOf(new Uint8Array(64));
    for (const ns of [0, 1, 2 ** 32 - 1, 2 ** 32, 1_234_567_890_123_456, 2 ** 53 - 1]) {
      const { lo, hi } = splitTime(ns);
      writeStampHeader(v, 0, 0);
      writeStampSend(v, 0, 7, lo, hi);
      expect(stampTimeNs(v, 0)).toBe(ns);
    }
  });

  it('wraps the sequence as a u32', () => {
    const v = viewOf(new Uint8Array(64));
    writeStamp(v, 0, 0, 2 ** 32 + 5, 0);
    expect(stampSeq(v, 0)).toBe(5);
  });

  it('is absent from short frames and frames without the magic', () => {
    const b = new Uint8Array(64);
    const v = viewOf(b);
    expect(hasStamp(v, 0, 64)).toBe(false);
    writeStamp(v, 0, 0, 0, 0);
    expect(hasStamp(v, 0, STAMPED_FRAME_MIN_BYTES)).toBe(true);
    expect(hasStamp(v, 0, STAMPED_FRAME_MIN_BYTES - 1)).toBe(false);
  });

  it('works on a view of a subarray (the offset of the view is respected)', () => {
    const whole = new Uint8Array(256);
    const v = viewOf(whole.subarray(100));
    writeStamp(v, 0, 9, 1, 2);
    expect(whole[100 + STAMP.offset + 2]).toBe(9);
  });
});
