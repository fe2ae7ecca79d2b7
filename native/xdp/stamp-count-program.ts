// A counting sink: an XDP program that drops every frame and counts those that carry xdplab's
// stamp (the magic at its offset in the UDP payload) apart from the rest. A receiving end
// without a process: a rate trial's receiver when only the count matters (an NDR search
// through a DUT), so that on a small host no instrument process competes with the DUT for a CPU.
// Two u64 counters in a per-CPU array map (key 0: stamped, key 1: other; no atomics).
// Hand-assembled (struct bpf_insn: u8 code, u8 dst:4|src:4, s16 off, s32 imm):
//    0  r2 = *(u32 *)(r1 + 0)        data
//    1  r3 = *(u32 *)(r1 + 4)        data_end
//    2  r4 = r2
//    3  r4 += magic offset + 2
//    4  r5 = 1                       key: other
//    5  if r4 > r3 goto 9            too short to hold the magic (the verifier's bounds check)
//    6  r4 = *(u16 *)(r2 + magic offset)
//    7  if r4 != magic goto 9
//    8  r5 = 0                       key: stamped
//    9  *(u32 *)(r10 - 4) = r5
//   10  r2 = r10
//   11  r2 += -4
//   12  r1 = map (ld_imm64, BPF_PSEUDO_MAP_FD)
//   14  call bpf_map_lookup_elem
//   15  if r0 == 0 goto 19
//   16  r1 = *(u64 *)(r0 + 0)
//   17  r1 += 1
//   18  *(u64 *)(r0 + 0) = r1
//   19  r0 = XDP_DROP; exit
import { libc } from '../sys/libc.js';
import { AttachedXdpProgram, ifindexOf, loadAndAttach } from './attached-program.js';
import { OP } from './drop-nth-program.js';
import { createCounterMap, insnWriter, readPerCpuCounter } from './counter-map.js';
import type { XdpMode } from './xsk-program.js';

const XDP_DROP = 1;
const BPF_PSEUDO_MAP_FD = 1;
const BPF_FUNC_MAP_LOOKUP_ELEM = 1;
const LDX_MEM_W = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const LDX_MEM_H = 0x69; // BPF_LDX | BPF_MEM | BPF_H
const STX_MEM_W = 0x63; // BPF_STX | BPF_MEM | BPF_W
const JGT_X = 0x2d; // BPF_JMP | BPF_JGT | BPF_X
const PROGRAM_NAME = 'xdplab_count';
const WHAT = 'the XDP counting sink';

/** Where the stamp's u16 magic sits in a frame, and its value (contracts/traffic.ts STAMP). */
export interface StampMagic { offset: number; magic: number }

/** The program's 21 instructions for counter map `mapFd`. */
export function stampCountInstructions(mapFd: number, m: StampMagic): Buffer {
  const { out, insn } = insnWriter(21);
  insn(LDX_MEM_W, 2, 1, 0, 0);
  insn(LDX_MEM_W, 3, 1, 4, 0);
  insn(OP.MOV64_X, 4, 2, 0, 0);
  insn(OP.ADD64_K, 4, 0, 0, m.offset + 2);
  insn(OP.MOV64_K, 5, 0, 0, 1);
  insn(JGT_X, 4, 3, 3, 0); // to 9
  insn(LDX_MEM_H, 4, 2, m.offset, 0);
  insn(OP.JNE_K, 4, 0, 1, m.magic); // to 9
  insn(OP.MOV64_K, 5, 0, 0, 0);
  insn(STX_MEM_W, 10, 5, -4, 0);
  insn(OP.MOV64_X, 2, 10, 0, 0);
  insn(OP.ADD64_K, 2, 0, 0, -4);
  insn(OP.LD_IMM64, 1, BPF_PSEUDO_MAP_FD, 0, mapFd);
  insn(0, 0, 0, 0, 0); // the upper 32 bits of the 64-bit immediate
  insn(OP.CALL, 0, 0, 0, BPF_FUNC_MAP_LOOKUP_ELEM);
  insn(OP.JEQ_K, 0, 0, 3, 0); // to 19
  insn(OP.LDX_MEM_DW, 1, 0, 0, 0);
  insn(OP.ADD64_K, 1, 0, 0, 1);
  insn(OP.STX_MEM_DW, 0, 1, 0, 0);
  insn(OP.MOV64_K, 0, 0, 0, XDP_DROP);
  insn(OP.EXIT, 0, 0, 0, 0);
  return out;
}

/** What the sink counted since it was attached: stamped frames, and the others. */
export interface StampCounts { stamped: number; other: number }

export class XdpStampCounter extends AttachedXdpProgram {
  private final: StampCounts | undefined;

  private constructor(ifname: string, ifindex: number, mode: XdpMode, fd: number, id: number, private readonly mapFd: number) {
    super(ifname, ifindex, mode, fd, id);
  }

  /** attach() by interface name (resolved in the calling thread's namespace). */
  static attachTo(ifname: string, mode: XdpMode, m: StampMagic): XdpStampCounter {
    return XdpStampCounter.attach(ifname, ifindexOf(ifname), mode, m);
  }

  /** Creates the counter map, loads the program and attaches it to `ifindex` (calling thread's namespace). */
  static attach(ifname: string, ifindex: number, mode: XdpMode, m: StampMagic): XdpStampCounter {
    const mapFd = createCounterMap('xdplab_count', 2, WHAT);
    try {
      const { fd, id } = loadAndAttach({ ifname, ifindex, mode, insns: stampCountInstructions(mapFd, m), name: PROGRAM_NAME, what: WHAT });
      return new XdpStampCounter(ifname, ifindex, mode, fd, id, mapFd);
    } catch (err) {
      libc().close(mapFd);
      throw err;
    }
  }

  /** The counts now (each a sum over the per-CPU slots). After detach: the counts read at detach. */
  counts(): StampCounts {
    if (this.final) return this.final;
    const read = (k: number) => readPerCpuCounter(this.mapFd, k, WHAT).reduce((a, b) => a + b, 0);
    return { stamped: read(0), other: read(1) };
  }

  protected override released(): void {
    try {
      this.final = this.counts();
    } finally {
      libc().close(this.mapFd);
    }
  }
}
