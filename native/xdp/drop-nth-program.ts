// A planted, known loss: an XDP program that drops every Nth frame it sees and passes the rest,
// so loss counters can be checked against an exact expectation. Its count is a u64 in a per-CPU
// array map (one slot per CPU: no atomics; each CPU drops its own every Nth, so the total is
// 1/N of the frames to within one per CPU). Hand-assembled (struct bpf_insn: u8 code,
// u8 dst:4|src:4, s16 off, s32 imm):
//    0  *(u32 *)(r10 - 4) = 0        key 0 on the stack
//    1  r2 = r10
//    2  r2 += -4
//    3  r1 = map (ld_imm64, src_reg BPF_PSEUDO_MAP_FD: the kernel swaps the fd for the map)
//    5  call bpf_map_lookup_elem (helper 1)
//    6  if r0 == 0 goto pass         the verifier requires the null check
//    7  r1 = *(u64 *)(r0 + 0)
//    8  r1 += 1
//    9  *(u64 *)(r0 + 0) = r1
//   10  r1 %= N                      BPF_ALU64 | BPF_MOD | BPF_K (unsigned)
//   11  if r1 != 0 goto pass
//   12  r0 = XDP_DROP; exit
//   14  pass: r0 = XDP_PASS; exit
import { LabError } from '../../benchmarks/contracts/errors.js';
import { libc } from '../sys/libc.js';
import { AttachedXdpProgram, ifindexOf, loadAndAttach } from './attached-program.js';
import { createCounterMap, insnWriter, readPerCpuCounter } from './counter-map.js';
import type { XdpMode } from './xsk-program.js';

const XDP_DROP = 1;
const XDP_PASS = 2;
const BPF_PSEUDO_MAP_FD = 1;
const BPF_FUNC_MAP_LOOKUP_ELEM = 1;
const PROGRAM_NAME = 'xdplab_drop_nth';
const WHAT = 'the every-Nth XDP drop program';
/** BPF_ALU64 MOD K sign-extends its s32 immediate: N must stay positive there. */
export const MAX_EVERY = 0x7fffffff;

export const OP = {
  ST_MEM_W: 0x62, // BPF_ST | BPF_MEM | BPF_W
  MOV64_X: 0xbf, // BPF_ALU64 | BPF_MOV | BPF_X
  ADD64_K: 0x07, // BPF_ALU64 | BPF_ADD | BPF_K
  LD_IMM64: 0x18, // BPF_LD | BPF_IMM | BPF_DW
  CALL: 0x85, // BPF_JMP | BPF_CALL
  JEQ_K: 0x15, // BPF_JMP | BPF_JEQ | BPF_K
  LDX_MEM_DW: 0x79, // BPF_LDX | BPF_MEM | BPF_DW
  STX_MEM_DW: 0x7b, // BPF_STX | BPF_MEM | BPF_DW
  MOD64_K: 0x97, // BPF_ALU64 | BPF_MOD | BPF_K
  JNE_K: 0x55, // BPF_JMP | BPF_JNE | BPF_K
  MOV64_K: 0xb7, // BPF_ALU64 | BPF_MOV | BPF_K
  EXIT: 0x95, // BPF_JMP | BPF_EXIT
} as const;

/** `every` checked: an integer in 2 .. MAX_EVERY, or an error naming the field. */
export function checkEvery(every: number): number {
  if (!Number.isInteger(every) || every < 2 || every > MAX_EVERY) {
    throw new LabError({
      code: 'EINVAL', field: 'every',
      message: `every: must be an integer from 2 to ${MAX_EVERY} (drop every Nth frame), got ${String(every)}`,
      hint: 'every=100 drops 1% of the frames; to drop all of them use the XDP drop program',
    });
  }
  return every;
}

/** The program's 16 instructions for map `mapFd` and `every` = N. */
export function everyNthDropInstructions(mapFd: number, every: number): Buffer {
  checkEvery(every);
  const { out, insn } = insnWriter(16);
  insn(OP.ST_MEM_W, 10, 0, -4, 0);
  insn(OP.MOV64_X, 2, 10, 0, 0);
  insn(OP.ADD64_K, 2, 0, 0, -4);
  insn(OP.LD_IMM64, 1, BPF_PSEUDO_MAP_FD, 0, mapFd);
  insn(0, 0, 0, 0, 0); // the upper 32 bits of the 64-bit immediate
  insn(OP.CALL, 0, 0, 0, BPF_FUNC_MAP_LOOKUP_ELEM);
  insn(OP.JEQ_K, 0, 0, 7, 0); // to pass (14)
  insn(OP.LDX_MEM_DW, 1, 0, 0, 0);
  insn(OP.ADD64_K, 1, 0, 0, 1);
  insn(OP.STX_MEM_DW, 0, 1, 0, 0);
  insn(OP.MOD64_K, 1, 0, 0, every);
  insn(OP.JNE_K, 1, 0, 2, 0); // to pass (14)
  insn(OP.MOV64_K, 0, 0, 0, XDP_DROP);
  insn(OP.EXIT, 0, 0, 0, 0);
  insn(OP.MOV64_K, 0, 0, 0, XDP_PASS);
  insn(OP.EXIT, 0, 0, 0, 0);
  return out;
}

/** What the program counted: frames seen (per CPU and in all) and, from them, frames dropped. */
export interface EveryNthCounts { every: number; seen: number; dropped: number; perCpu: number[] }

export class XdpEveryNthDropProgram extends AttachedXdpProgram {
  private final: EveryNthCounts | undefined;

  private constructor(ifname: string, ifindex: number, mode: XdpMode, fd: number, id: number, readonly every: number, private readonly mapFd: number) {
    super(ifname, ifindex, mode, fd, id);
  }

  /** attach() by interface name (resolved in the calling thread's namespace). */
  static attachTo(ifname: string, mode: XdpMode, every: number): XdpEveryNthDropProgram {
    checkEvery(every);
    return XdpEveryNthDropProgram.attach(ifname, ifindexOf(ifname), mode, every);
  }

  /** Creates the counter map, loads the program and attaches it to `ifindex` (calling thread's namespace). */
  static attach(ifname: string, ifindex: number, mode: XdpMode, every: number): XdpEveryNthDropProgram {
    checkEvery(every);
    const mapFd = createCounterMap('xdplab_nth_cnt', 1, WHAT);
    try {
      const { fd, id } = loadAndAttach({ ifname, ifindex, mode, insns: everyNthDropInstructions(mapFd, every), name: PROGRAM_NAME, what: WHAT });
      return new XdpEveryNthDropProgram(ifname, ifindex, mode, fd, id, every, mapFd);
    } catch (err) {
      libc().close(mapFd);
      throw err;
    }
  }

  /**
   * The counts now (user-space lookup on a per-CPU map: one u64 per possible CPU). Each CPU
   * dropped floor(its count / N). After detach: the counts read at detach.
   */
  counts(): EveryNthCounts {
    if (this.final) return this.final;
    const perCpu = readPerCpuCounter(this.mapFd, 0, WHAT);
    return {
      every: this.every,
      seen: perCpu.reduce((a, b) => a + b, 0),
      dropped: perCpu.reduce((a, b) => a + Math.floor(b / this.every), 0),
      perCpu,
    };
  }

  protected override released(): void {
    try {
      this.final = this.counts();
    } finally {
      libc().close(this.mapFd);
    }
  }
}
