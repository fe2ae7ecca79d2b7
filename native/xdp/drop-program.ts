// The cheapest packet sink: an XDP program that drops every frame, hand-assembled and loaded with
// libbpf's bpf_prog_load (no object file, no compiler):
//   r0 = XDP_DROP   BPF_ALU64 | BPF_MOV | BPF_K (0xb7), dst_reg r0, imm 1
//   exit            BPF_JMP | BPF_EXIT (0x95)
// Attached with bpf_xdp_attach in native (XDP_FLAGS_DRV_MODE) or skb (XDP_FLAGS_SKB_MODE) mode
// with XDP_FLAGS_UPDATE_IF_NOEXIST, and detached at teardown only if it is still the program
// attached (queried in the namespace it was attached in).
import { SystemError } from '../errors.js';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE } from '../afxdp/constants.js';
import { ifNameToIndex, libc } from '../sys/libc.js';
import { NetnsHandle } from '../sys/netns.js';
import { libxdp, queryXdp, takeLibxdpLog } from './libxdp.js';
import { describeAttached, leftoverHint, type XdpMode } from './xsk-program.js';

export const BPF_PROG_TYPE_XDP = 6;
export const XDP_DROP = 1;
export const XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0;
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

function modeFlag(mode: XdpMode): number {
  return mode === 'native' ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
}

/** A program's id from its fd (struct bpf_prog_info: u32 type, u32 id, ...). */
function programId(fd: number): number {
  const info = Buffer.alloc(96);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(info.length, 0);
  const rc = libxdp().objGetInfoByFd(fd, info, len) as number;
  if (rc !== 0) throw new SystemError('bpf_obj_get_info_by_fd', rc, 'reading the id of the XDP drop program');
  return info.readUInt32LE(4);
}

export class XdpDropProgram {
  private attached = true;
  private readonly netns = NetnsHandle.current();

  private constructor(readonly ifname: string, readonly ifindex: number, readonly mode: XdpMode, readonly fd: number, readonly id: number) {}

  /** attach() by interface name (resolved in the calling thread's namespace). */
  static attachTo(ifname: string, mode: XdpMode): XdpDropProgram {
    const ifindex = ifNameToIndex(ifname);
    if (!ifindex) throw new LabError({ code: 'ENODEV', field: 'ifname', message: `ifname: no interface '${ifname}' in this network namespace`, hint: 'ip link show lists the interfaces' });
    return XdpDropProgram.attach(ifname, ifindex, mode);
  }

  /** Loads the drop program and attaches it to `ifindex` (in the calling thread's namespace). */
  static attach(ifname: string, ifindex: number, mode: XdpMode): XdpDropProgram {
    const existing = describeAttached(ifindex);
    if (existing) {
      throw new LabError({
        code: 'EEXIST', field: 'ifname',
        message: `ifname: '${ifname}' already has an XDP program attached (${existing}); the drop program never replaces one`,
        hint: leftoverHint(ifname),
      });
    }
    const x = libxdp();
    const insns = dropInstructions();
    const fd = x.progLoad(BPF_PROG_TYPE_XDP, PROGRAM_NAME, 'GPL', insns, insns.length / 8, null) as number;
    if (fd < 0) {
      const log = takeLibxdpLog();
      throw new SystemError('bpf_prog_load', fd, 'loading the XDP drop program', log.length ? log.join('; ') : undefined);
    }
    try {
      const id = programId(fd);
      const rc = x.xdpAttach(ifindex, fd, modeFlag(mode) | XDP_FLAGS_UPDATE_IF_NOEXIST, null) as number;
      if (rc < 0) {
        takeLibxdpLog();
        throw new SystemError('bpf_xdp_attach', rc, `attaching the XDP drop program to '${ifname}' in ${mode} mode`,
          rc === -95 ? `'${ifname}' does not support ${mode} mode; use mode=skb` : undefined);
      }
      return new XdpDropProgram(ifname, ifindex, mode, fd, id);
    } catch (err) {
      libc().close(fd);
      throw err;
    }
  }

  /** Whether this program is the one attached now (in its namespace). */
  isAttached(): boolean {
    if (!this.attached) return false;
    return this.netns.run(() => {
      const q = queryXdp(this.ifindex);
      return (this.mode === 'native' ? q.drvProgId : q.skbProgId) === this.id;
    });
  }

  /** Detaches the program if it is still the one attached, and closes it. Idempotent. */
  detach(): boolean {
    if (!this.attached) return false;
    this.attached = false;
    let done = false;
    try {
      done = this.netns.run(() => {
        const q = queryXdp(this.ifindex);
        if ((this.mode === 'native' ? q.drvProgId : q.skbProgId) !== this.id) return false;
        return (libxdp().xdpDetach(this.ifindex, modeFlag(this.mode), null) as number) === 0;
      });
    } finally {
      libc().close(this.fd);
      this.netns.close();
      takeLibxdpLog();
    }
    return done;
  }
}
