// What xdplab's hand-assembled XDP programs share: loading instructions with libbpf's
// bpf_prog_load (no object file, no compiler), attaching with bpf_xdp_attach in native
// (XDP_FLAGS_DRV_MODE) or skb (XDP_FLAGS_SKB_MODE) mode with XDP_FLAGS_UPDATE_IF_NOEXIST (never
// replacing a program), and detaching at teardown only if it is still the program attached
// (queried in the namespace it was attached in).
import { SystemError } from '../errors.js';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE } from '../afxdp/constants.js';
import { ifNameToIndex, libc } from '../sys/libc.js';
import { NetnsHandle } from '../sys/netns.js';
import { libxdp, queryXdp, takeLibxdpLog } from './libxdp.js';
import { describeAttached, leftoverHint, type XdpMode } from './xsk-program.js';

export const BPF_PROG_TYPE_XDP = 6;
export const XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0;

function modeFlag(mode: XdpMode): number {
  return mode === 'native' ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
}

/** A program's id from its fd (struct bpf_prog_info: u32 type, u32 id, ...). */
function programId(fd: number, what: string): number {
  const info = Buffer.alloc(96);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(info.length, 0);
  const rc = libxdp().objGetInfoByFd(fd, info, len) as number;
  if (rc !== 0) throw new SystemError('bpf_obj_get_info_by_fd', rc, `reading the id of ${what}`);
  return info.readUInt32LE(4);
}

/** An interface's index in the calling thread's namespace, or an error naming `ifname`. */
export function ifindexOf(ifname: string): number {
  const ifindex = ifNameToIndex(ifname);
  if (!ifindex) throw new LabError({ code: 'ENODEV', field: 'ifname', message: `ifname: no interface '${ifname}' in this network namespace`, hint: 'ip link show lists the interfaces' });
  return ifindex;
}

export interface LoadRequest {
  ifname: string;
  ifindex: number;
  mode: XdpMode;
  /** struct bpf_insn array (8 bytes each). */
  insns: Buffer;
  /** The kernel's program name (at most 15 characters); xdplab's crash sweep detaches by it. */
  name: string;
  /** What the program is, for errors: 'the XDP drop program'. */
  what: string;
}

/** Loads the instructions and attaches them to `ifindex` (calling thread's namespace); the fd and id. */
export function loadAndAttach(r: LoadRequest): { fd: number; id: number } {
  const existing = describeAttached(r.ifindex);
  if (existing) {
    throw new LabError({
      code: 'EEXIST', field: 'ifname',
      message: `ifname: '${r.ifname}' already has an XDP program attached (${existing}); ${r.what} never replaces one`,
      hint: leftoverHint(r.ifname),
    });
  }
  const x = libxdp();
  const fd = x.progLoad(BPF_PROG_TYPE_XDP, r.name, 'GPL', r.insns, r.insns.length / 8, null) as number;
  if (fd < 0) {
    const log = takeLibxdpLog();
    throw new SystemError('bpf_prog_load', fd, `loading ${r.what}`, log.length ? log.join('; ') : undefined);
  }
  try {
    const id = programId(fd, r.what);
    const rc = x.xdpAttach(r.ifindex, fd, modeFlag(r.mode) | XDP_FLAGS_UPDATE_IF_NOEXIST, null) as number;
    if (rc < 0) {
      takeLibxdpLog();
      throw new SystemError('bpf_xdp_attach', rc, `attaching ${r.what} to '${r.ifname}' in ${r.mode} mode`,
        rc === -95 ? `'${r.ifname}' does not support ${r.mode} mode; use mode=skb` : undefined);
    }
    return { fd, id };
  } catch (err) {
    libc().close(fd);
    throw err;
  }
}

/** A program loaded and attached by loadAndAttach; detaches only itself. */
export abstract class AttachedXdpProgram {
  private attached = true;
  private readonly netns = NetnsHandle.current();

  protected constructor(readonly ifname: string, readonly ifindex: number, readonly mode: XdpMode, readonly fd: number, readonly id: number) {}

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
      try {
        this.released();
      } finally {
        libc().close(this.fd);
        this.netns.close();
        takeLibxdpLog();
      }
    }
    return done;
  }

  /** Runs once at detach, after the program is off the interface: close what it owns besides its fd. */
  protected released(): void { /* nothing by default */ }
}
