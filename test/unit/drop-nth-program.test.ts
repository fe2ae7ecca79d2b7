// The every-Nth XDP drop program's instructions, byte for byte, and its check of N.
import { describe, expect, it } from 'vitest';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { checkEvery, everyNthDropInstructions } from '../../native/index.js';

function errorOf(fn: () => unknown): LabError {
  try { fn(); } catch (e) { if (e instanceof LabError) return e; throw e; }
  throw new Error('expected a LabError');
}

/** struct bpf_insn as [code, dst, src, off, imm]. */
function decode(b: Buffer): number[][] {
  const out: number[][] = [];
  for (let o = 0; o < b.length; o += 8) out.push([b[o]!, b[o + 1]! & 0x0f, b[o + 1]! >> 4, b.readInt16LE(o + 2), b.readInt32LE(o + 4)]);
  return out;
}

describe('everyNthDropInstructions', () => {
  it('N=100: lookup the per-CPU counter, increment, drop when count % 100 == 0, pass the rest', () => {
    const mapFd = 7;
    expect(decode(everyNthDropInstructions(mapFd, 100))).toEqual([
      [0x62, 10, 0, -4, 0], //   *(u32 *)(r10 - 4) = 0
      [0xbf, 2, 10, 0, 0], //    r2 = r10
      [0x07, 2, 0, 0, -4], //    r2 += -4
      [0x18, 1, 1, 0, mapFd], // r1 = map fd (ld_imm64, src BPF_PSEUDO_MAP_FD)
      [0x00, 0, 0, 0, 0], //     (its upper half)
      [0x85, 0, 0, 0, 1], //     call bpf_map_lookup_elem
      [0x15, 0, 0, 7, 0], //     if r0 == 0 goto pass
      [0x79, 1, 0, 0, 0], //     r1 = *(u64 *)(r0 + 0)
      [0x07, 1, 0, 0, 1], //     r1 += 1
      [0x7b, 0, 1, 0, 0], //     *(u64 *)(r0 + 0) = r1
      [0x97, 1, 0, 0, 100], //   r1 %= 100
      [0x55, 1, 0, 2, 0], //     if r1 != 0 goto pass
      [0xb7, 0, 0, 0, 1], //     r0 = XDP_DROP
      [0x95, 0, 0, 0, 0], //     exit
      [0xb7, 0, 0, 0, 2], //     pass: r0 = XDP_PASS
      [0x95, 0, 0, 0, 0], //     exit
    ]);
    // Both jumps land on the pass branch (index + 1 + off).
    const insns = decode(everyNthDropInstructions(mapFd, 100));
    for (const i of [6, 11]) expect(insns[i + 1 + insns[i]![3]!]).toEqual([0xb7, 0, 0, 0, 2]);
  });

  it('refuses N below 2 (and non-integers, and N past the s32 immediate) naming the field', () => {
    for (const bad of [1, 0, -5, 2.5, Number.NaN, 2 ** 31]) {
      const e = errorOf(() => everyNthDropInstructions(3, bad));
      expect(e.field).toBe('every');
      expect(e.message).toMatch(/^every: must be an integer from 2 to 2147483647/);
    }
    expect(checkEvery(2)).toBe(2);
  });
});
