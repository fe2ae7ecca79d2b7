// AfXdpPort: an AF_XDP port on one interface with QEMU's af-xdp semantics (NetdevAFXDPOptions).
//  - mode native|skb; none given: try native, fall back to skb; `mode` says which attached.
//  - zero-copy when the driver offers it, copy otherwise or with force-copy; `zeroCopy` is what
//    the kernel reports (XDP_OPTIONS) for every queue.
//  - queues N from start-queue M: one socket (and UMEM) per queue.
//  - inhibit + sock-fds: sockets and the XSK program come from another process; nothing is
//    loaded or detached here.
import { LabError, invalidOption } from '../../benchmarks/contracts/errors.js';
import { getChannels, rxQueueCount } from '../sys/ethtool.js';
import { ifNameToIndex } from '../sys/libc.js';
import { NetnsHandle } from '../sys/netns.js';
import { queryXdp } from '../xdp/libxdp.js';
import { XskProgram, type XdpMode } from '../xdp/xsk-program.js';
import { resolveAfXdpOptions, resolveTuning, type AfXdpTuning, type ResolvedAfXdpOptions } from './options.js';
import { FrameBatch } from './umem.js';
import { XskQueue, type XskStatistics } from './xsk-queue.js';

export interface PortStatistics extends XskStatistics {
  perQueue: XskStatistics[];
}

export function resolveIfindex(ifname: string): number {
  const ifindex = ifNameToIndex(ifname);
  if (!ifindex) {
    throw new LabError({ code: 'ENODEV', field: 'ifname', message: `ifname: failed to get ifindex for '${ifname}': no such interface in this network namespace`, hint: 'ip link show lists the interfaces' });
  }
  return ifindex;
}

/** Checks that queues [start, start+n) exist on the device, when the driver reports channels. */
export function checkQueueRange(ifname: string, startQueue: number, queues: number): void {
  const ch = getChannels(ifname);
  if (!ch) return;
  const have = rxQueueCount(ch);
  if (startQueue + queues > have) {
    const field = startQueue >= have ? 'start-queue' : 'queues';
    throw invalidOption(field, `queues ${startQueue}..${startQueue + queues - 1} do not exist: '${ifname}' has ${have} queue${have === 1 ? '' : 's'} (0..${have - 1})`,
      `ethtool -L ${ifname} rx N tx N raises the count up to ${Math.max(ch.maxRx, ch.maxCombined)}`);
  }
}

export class AfXdpPort {
  readonly ifname: string;
  readonly ifindex: number;
  readonly mode: XdpMode;
  readonly zeroCopy: boolean;
  readonly queues: readonly XskQueue[];
  readonly options: ResolvedAfXdpOptions;
  readonly tuning: AfXdpTuning;
  private readonly program: XskProgram | null;
  /** The namespace the port was opened in: teardown must query and detach there. */
  private readonly netns = NetnsHandle.current();
  private closed = false;

  private constructor(options: ResolvedAfXdpOptions, tuning: AfXdpTuning, ifindex: number, mode: XdpMode, program: XskProgram | null, queues: XskQueue[]) {
    this.options = options;
    this.tuning = tuning;
    this.ifname = options.ifname;
    this.ifindex = ifindex;
    this.mode = mode;
    this.program = program;
    this.queues = queues;
    this.zeroCopy = queues.every((q) => q.zeroCopy);
  }

  /** Opens the port in the calling thread's network namespace (see withNetns). */
  static open(options: unknown, tuning?: unknown): AfXdpPort {
    const o = resolveAfXdpOptions(options);
    const t = resolveTuning(tuning);
    const ifindex = resolveIfindex(o.ifname);
    checkQueueRange(o.ifname, o.startQueue, o.queues);
    return o.inhibit ? AfXdpPort.openInhibited(o, t, ifindex) : AfXdpPort.openOwned(o, t, ifindex);
  }

  private static openOwned(o: ResolvedAfXdpOptions, t: AfXdpTuning, ifindex: number): AfXdpPort {
    const maxQueueId = o.startQueue + o.queues - 1;
    const program = XskProgram.attachAsQemuDoes(o.ifname, ifindex, o.mode, maxQueueId);
    const queues: XskQueue[] = [];
    try {
      for (let i = 0; i < o.queues; i++) {
        const q = new XskQueue({ ...t, ifname: o.ifname, ifindex, queueId: o.startQueue + i, forceCopy: o.forceCopy, fd: -1 });
        queues.push(q);
        program.insert(q.config.queueId, q.fd);
      }
    } catch (err) {
      for (const q of queues) { program.remove(q.config.queueId); q.close(0); }
      program.detach();
      throw err;
    }
    return new AfXdpPort(o, t, ifindex, program.mode, program, queues);
  }

  private static openInhibited(o: ResolvedAfXdpOptions, t: AfXdpTuning, ifindex: number): AfXdpPort {
    const queues: XskQueue[] = [];
    try {
      o.sockFds!.forEach((fd, i) => {
        queues.push(new XskQueue({ ...t, ifname: o.ifname, ifindex, queueId: o.startQueue + i, forceCopy: o.forceCopy, fd }));
      });
      const q = queryXdp(ifindex);
      const mode: XdpMode | undefined = o.mode
        ? ((o.mode === 'native' ? q.drvProgId : q.skbProgId) ? o.mode : undefined)
        : q.drvProgId ? 'native' : q.skbProgId ? 'skb' : undefined;
      if (!mode) {
        throw new LabError({
          code: 'ENOPROG', field: 'inhibit',
          message: `inhibit: no XDP program loaded on '${o.ifname}'${o.mode ? ` in ${o.mode} mode` : ''}, ifindex: ${ifindex}`,
          hint: 'with inhibit=on the process that created the sockets must attach the XSK program and add the sockets to its XSKMAP',
        });
      }
      return new AfXdpPort(o, t, ifindex, mode, null, queues);
    } catch (err) {
      // The passed-in fds are closed with the queues that took them; the rest stay the caller's.
      for (const q of queues) q.close(0);
      throw err;
    }
  }

  /**
   * inhibit + sock-fds for a process that cannot enter the interface's namespace (no
   * CAP_SYS_ADMIN): the provider that created the sockets there says the ifindex and the mode
   * it attached. Binding works regardless, since an AF_XDP socket binds in the namespace it was
   * created in; what this skips (name lookup, queue range, XDP query) the provider did there.
   */
  static openProvided(options: unknown, tuning: unknown, provided: { ifindex: number; mode: XdpMode }): AfXdpPort {
    const o = resolveAfXdpOptions(options);
    const t = resolveTuning(tuning);
    if (!o.inhibit) throw invalidOption('inhibit', 'openProvided needs inhibit=on with sock-fds');
    if (!Number.isInteger(provided.ifindex) || provided.ifindex < 1) throw invalidOption('ifindex', `expected the provider's ifindex (1 or more), got ${provided.ifindex}`);
    const queues: XskQueue[] = [];
    try {
      o.sockFds!.forEach((fd, i) => {
        queues.push(new XskQueue({ ...t, ifname: o.ifname, ifindex: provided.ifindex, queueId: o.startQueue + i, forceCopy: o.forceCopy, fd }));
      });
    } catch (err) {
      for (const q of queues) q.close(0);
      throw err;
    }
    return new AfXdpPort(o, t, provided.ifindex, provided.mode, null, queues);
  }

  /** Receives into batch from queue q. */
  rxBurst(batch: FrameBatch, q = 0): number {
    return this.queues[q]!.rxBurst(batch);
  }

  /** Transmits batch on queue q; returns how many frames were queued. */
  txBurst(batch: FrameBatch, q = 0): number {
    return this.queues[q]!.txBurst(batch);
  }

  /** Returns completed tx frames to the pools of every queue. */
  reclaim(): number {
    let n = 0;
    for (const q of this.queues) n += q.reclaim();
    return n;
  }

  stats(): PortStatistics {
    const perQueue = this.queues.map((q) => q.stats());
    const total = { ...perQueue[0]! };
    for (const s of perQueue.slice(1)) {
      for (const k of Object.keys(total) as (keyof XskStatistics)[]) total[k] += s[k];
    }
    return { ...total, perQueue };
  }

  /** Closes sockets, then detaches the XSK program if this port attached it. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.netns.run(() => {
      for (const q of this.queues) {
        this.program?.remove(q.config.queueId);
        q.close();
      }
      this.program?.detach();
    });
    this.netns.close();
  }
}
