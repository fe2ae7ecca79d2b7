// The XDP program that steers a device queue's packets into the AF_XDP socket bound to it:
// libxdp's default XSK program (the one QEMU's af-xdp backend loads through libxdp), with its
// XSKMAP indexed by queue id. This module attaches it in the mode asked for, fills the map, and
// detaches exactly the program it attached, never one that was there before it.
import { readdirSync, readFileSync } from 'node:fs';
import { SystemError } from '../errors.js';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { XDP_MODE_NATIVE, XDP_MODE_SKB, XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE } from '../afxdp/constants.js';
import { libxdp, programName, queryXdp, takeLibxdpLog } from './libxdp.js';
import { NetnsHandle } from '../sys/netns.js';
import { closeFd } from '../sys/libc.js';
import type { AfXdpMode } from '../../benchmarks/contracts/datapath.js';

/** The attach mode: the one declaration lives in the contracts. */
export type XdpMode = AfXdpMode;

const OBJECT_FILE = 'xsk_def_xdp_prog_5.3.o';

function isErrPtr(p: unknown): boolean {
  return p === null || (libxdp().getError(p) as number) !== 0;
}

/** Says what is attached to an interface, for errors and for doctor. */
export function describeAttached(ifindex: number): string | null {
  const q = queryXdp(ifindex);
  const parts: string[] = [];
  for (const [mode, id] of [['native', q.drvProgId], ['skb', q.skbProgId], ['hw', q.hwProgId]] as const) {
    if (id) parts.push(`program id ${id}${programName(id) ? ` '${programName(id)}'` : ''} in ${mode} mode`);
  }
  return parts.length ? parts.join(', ') : null;
}

/**
 * What to do about a program found on an interface. xsk_def_prog is also what QEMU's af-xdp
 * backend leaves behind when QEMU exits during device setup.
 */
export function leftoverHint(ifname: string): string {
  return `if a killed xdplab run left it, xdplab doctor --cleanup removes it; if QEMU's af-xdp backend or another tool left it: ip link set ${ifname} xdp off (xdpgeneric off for skb mode)`;
}

/** This process's fds that refer to BPF program `progId` (from /proc/self/fdinfo). */
function fdsOfProgram(progId: number): Set<number> {
  const out = new Set<number>();
  if (!progId) return out;
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      if (new RegExp(`^prog_id:\\s+${progId}$`, 'm').test(readFileSync(`/proc/self/fdinfo/${name}`, 'utf8'))) out.add(Number(name));
    } catch { /* closed meanwhile, or the readdir's own fd */ }
  }
  return out;
}

/**
 * Runs libxdp's xdp_program__detach and closes the fd it leaks. libxdp 1.3.1 opens the
 * dispatcher program attached on the interface (`progId`) to detach it and never closes that
 * fd: every attach/detach cycle kept one dispatcher program loaded in the kernel, and one fd
 * open, until the process exited (1000 port open/close cycles: 1000 fds; bench:leaks). Only fds
 * to that program which the detach itself opened are closed.
 */
function detachClosingLeak(progId: number, detach: () => number): number {
  const before = fdsOfProgram(progId);
  const rc = detach();
  for (const fd of fdsOfProgram(progId)) if (!before.has(fd)) closeFd(fd);
  return rc;
}

export class XskProgram {
  private detached = false;
  /** Detaching must happen in the namespace the program was attached in. */
  private readonly netns = NetnsHandle.current();

  private constructor(
    private readonly prog: unknown,
    private readonly mapFd: number,
    readonly ifname: string,
    readonly ifindex: number,
    readonly mode: XdpMode,
    readonly id: number,
  ) {}

  /** QEMU's rule: the mode asked for, or with none, native first and then skb. */
  static attachAsQemuDoes(ifname: string, ifindex: number, mode: XdpMode | undefined, maxQueueId: number): XskProgram {
    if (mode) return XskProgram.attach(ifname, ifindex, mode, maxQueueId);
    try {
      return XskProgram.attach(ifname, ifindex, 'native', maxQueueId);
    } catch (err) {
      if (!(err instanceof SystemError)) throw err;
      return XskProgram.attach(ifname, ifindex, 'skb', maxQueueId);
    }
  }

  /**
   * Attaches a fresh instance of the default XSK program in `mode`. `maxQueueId` sizes the
   * XSKMAP. Throws SystemError (EOPNOTSUPP for a mode the driver lacks) with libxdp's log.
   */
  static attach(ifname: string, ifindex: number, mode: XdpMode, maxQueueId: number): XskProgram {
    const x = libxdp();
    const existing = describeAttached(ifindex);
    if (existing) {
      throw new LabError({
        code: 'EEXIST', field: 'ifname',
        message: `ifname: '${ifname}' already has an XDP program attached (${existing}); xdplab never replaces a program it did not attach`,
        hint: `${leftoverHint(ifname)}; or use inhibit=on with sock-fds to use it`,
      });
    }
    const prog = x.programFindFile(OBJECT_FILE, null, null);
    if (isErrPtr(prog)) {
      const err = prog === null ? -2 : (x.getError(prog) as number);
      throw new SystemError('xdp_program__find_file', err, `loading libxdp's default XSK program (${OBJECT_FILE})`,
        'install libxdp1 (its BPF objects live in /usr/lib/<arch>/bpf), or point LIBXDP_OBJECT_PATH at them');
    }
    let attached = false;
    try {
      const obj = x.programBpfObj(prog);
      const map = x.findMapByName(obj, 'xsks_map');
      if (!map) throw new LabError({ code: 'EPROG', message: `${OBJECT_FILE} has no xsks_map` });
      x.mapSetMaxEntries(map, Math.max(64, maxQueueId + 1));
      const rc = x.programAttach(prog, ifindex, mode === 'native' ? XDP_MODE_NATIVE : XDP_MODE_SKB, 0) as number;
      if (rc < 0) {
        // libxdp's own warnings explain the failure; keep the last ones with the error.
        const said = takeLibxdpLog().filter((l) => l.startsWith('warn')).slice(-2).map((l) => l.slice(6)).join('; ');
        throw new SystemError('xdp_program__attach', rc, `attaching the XSK program to '${ifname}' in ${mode} mode${said ? ` (libxdp: ${said.slice(0, 300)})` : ''}`,
          rc === -95 ? `'${ifname}' does not support ${mode} mode (its driver has no native XDP); allowed here: skb, or leave mode unset to fall back` : undefined,
          rc === -95 ? 'mode' : undefined);
      }
      attached = true;
      takeLibxdpLog();
      const mapFd = x.mapFd(map) as number;
      return new XskProgram(prog, mapFd, ifname, ifindex, mode, x.programId(prog) as number);
    } catch (err) {
      if (attached) {
        const q = queryXdp(ifindex);
        detachClosingLeak(mode === 'native' ? q.drvProgId : q.skbProgId, () => x.programDetach(prog, ifindex, mode === 'native' ? XDP_MODE_NATIVE : XDP_MODE_SKB, 0) as number);
      }
      x.programClose(prog);
      throw err;
    }
  }

  /** Steers queue `queueId` to socket `fd`. */
  insert(queueId: number, fd: number): void {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(queueId, 0);
    const value = Buffer.alloc(4);
    value.writeInt32LE(fd, 0);
    const rc = libxdp().mapUpdateElem(this.mapFd, key, value, 0) as number;
    if (rc < 0) throw new SystemError('bpf_map_update_elem', rc, `adding the socket for queue ${queueId} to the XSKMAP of '${this.ifname}'`);
  }

  remove(queueId: number): void {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(queueId, 0);
    libxdp().mapDeleteElem(this.mapFd, key);
  }

  /** Detaches this program if it is still the one attached; returns whether it did. */
  detach(): boolean {
    if (this.detached) return false;
    this.detached = true;
    try {
      return this.netns.run(() => this.detachHere());
    } finally {
      this.netns.close();
    }
  }

  private detachHere(): boolean {
    const x = libxdp();
    const q = queryXdp(this.ifindex);
    const current = this.mode === 'native' ? q.drvProgId : q.skbProgId;
    let done = false;
    // With bpffs, libxdp attaches a dispatcher that runs our program: libxdp detaches it.
    // Without bpffs, ours is attached directly: detach only if it is still ours.
    if (current !== 0) {
      const rc = detachClosingLeak(current, () => x.programDetach(this.prog, this.ifindex, this.mode === 'native' ? XDP_MODE_NATIVE : XDP_MODE_SKB, 0) as number);
      done = rc === 0;
      if (!done && current === this.id) {
        done = (x.xdpDetach(this.ifindex, this.mode === 'native' ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE, null) as number) === 0;
      }
    }
    takeLibxdpLog();
    x.programClose(this.prog);
    return done;
  }
}
