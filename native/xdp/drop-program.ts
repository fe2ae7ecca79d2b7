// The cheapest packet sink: an XDP program that drops every frame, hand-assembled:
//   r0 = XDP_DROP   BPF_ALU64 | BPF_MOV | BPF_K (0xb7), dst_reg r0, imm 1
//   exit            BPF_JMP | BPF_EXIT (0x95)
// Loading, attaching and detaching (only if still attached) are attached-program.ts's.
import { AttachedXdpProgram, ifindexOf, loadAndAttach } from './attached-program.js';
import type { XdpMode } from './xsk-program.js';

export const XDP_DROP = 1;
const BPF_ALU64_MOV_K = 0xb7;
const BPF_JMP_EXIT = 0x95;
const PROGRAM_NAME = 'xdplab_drop';

/** The two instructions (struct bpf_insn: u8 code, u8 dst:4|src:4, s16 off, s32 imm). */
export function dropInstructions(): Buffer {
  const insns = Buffer.alloc(16);
  insns.writeUInt8(BPF_ALU64_MOV_K, 0);
  insns.writeUInt8(0x00, 1); // dst_reg r0, src_reg 0
  insns.writeInt16LE(0, 2);
  insns.writeInt32LE(XDP_DROP, 4);
  insns.writeUInt8(BPF_JMP_EXIT, 8);
  return insns;
}

export class XdpDropProgram extends AttachedXdpProgram {
  /** attach() by interface name (resolved in the calling thread's namespace). */
  static attachTo(ifname: string, mode: XdpMode): XdpDropProgram {
    return XdpDropProgram.attach(ifname, ifindexOf(ifname), mode);
  }

  /** Loads the drop program and attaches it to `ifindex` (in the calling thread's namespace). */
  static attach(ifname: string, ifindex: number, mode: XdpMode): XdpDropProgram {
    const { fd, id } = loadAndAttach({ ifname, ifindex, mode, insns: dropInstructions(), name: PROGRAM_NAME, what: 'the XDP drop program' });
    return new XdpDropProgram(ifname, ifindex, mode, fd, id);
  }
}
