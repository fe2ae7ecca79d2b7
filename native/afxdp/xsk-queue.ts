// One AF_XDP socket bound to one device queue, with its own UMEM and four rings.
//
// Why one UMEM per queue rather than a shared one: it is QEMU's choice too (each queue is an
// independent NetClientState), it keeps every queue free of cross-queue frame accounting, and
// it is the only layout that works for sock-fds, where each passed-in socket must carry its own
// UMEM registration. Its cost is locked memory per queue, which the caller sizes.
//
// Sockets are set up with raw syscalls (not libxdp's xsk_socket__create) so that one code path
// serves both sockets we create and sockets another process created and passed in: libxdp 1.3
// cannot build a UMEM on a given fd (xsk_umem__create_with_fd arrived in 1.4).
import { SystemError } from '../errors.js';
import { invalidOption } from '../../benchmarks/contracts/errors.js';
import { libc, check, errno } from '../sys/libc.js';
import * as C from './constants.js';
import { ConsumerRing, ProducerRing, RingMemory, type RingOffsets } from './ring.js';
import { FrameBatch, Umem, type UmemGeometry } from './umem.js';

const EBUSY = 16;
const POLLIN = 1;
/** How long a bind waits for a just-closed socket's queue to become free. */
const BIND_BUSY_RETRY_MS = 500;
const SLEEPER = new Int32Array(new SharedArrayBuffer(4));

export interface XskQueueConfig extends UmemGeometry {
  ifname: string;
  ifindex: number;
  queueId: number;
  /** Ring sizes (power of two). Fill and completion hold twice as many entries. */
  ringSize: number;
  forceCopy: boolean;
  /** An AF_XDP socket created elsewhere (sock-fds), not bound; -1 to create one. */
  fd: number;
  /** SO_BUSY_POLL_BUDGET; 0 leaves busy polling off. */
  busyPollBudget: number;
}

export interface XskStatistics {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  /** XDP_STATISTICS from the kernel. */
  rxDropped: number;
  rxInvalidDescs: number;
  txInvalidDescs: number;
  rxRingFull: number;
  rxFillRingEmpty: number;
  txRingEmpty: number;
  /** sendto kicks that the kernel answered with an error (EAGAIN, EBUSY, ENOBUFS, ...). */
  txKickErrors: number;
}

function sockoptInt(fd: number, level: number, name: number, value: number, what: string): void {
  const buf = Buffer.alloc(4);
  buf.writeInt32LE(value, 0);
  check(libc().setsockopt(fd, level, name, buf, 4), 'setsockopt', what);
}

function getsockopt(fd: number, level: number, name: number, size: number, what: string): Buffer {
  const buf = Buffer.alloc(size);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(size, 0);
  check(libc().getsockopt(fd, level, name, buf, len), 'getsockopt', what);
  return buf;
}

function readOffsets(buf: Buffer, base: number): RingOffsets {
  const n = (i: number) => Number(buf.readBigUInt64LE(base + i * 8));
  return { producer: n(0), consumer: n(1), desc: n(2), flags: n(3) };
}

export class XskQueue {
  readonly fd: number;
  readonly umem: Umem;
  readonly zeroCopy: boolean;
  readonly ownsFd: boolean;
  private readonly fillMem: RingMemory;
  private readonly compMem: RingMemory;
  private readonly rxMem: RingMemory;
  private readonly txMem: RingMemory;
  private readonly fill: ProducerRing;
  private readonly comp: ConsumerRing;
  private readonly rx: ConsumerRing;
  private readonly tx: ProducerRing;
  private readonly desc: { fill: Uint32Array; comp: Uint32Array; rx: Uint32Array; tx: Uint32Array };
  private readonly counters = { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, txKickErrors: 0 };
  private closed = false;
  private readonly pollFd = Buffer.alloc(8);
  /** SO_PREFER_BUSY_POLL is on: every rxBurst drives the device's NAPI with a recvfrom. */
  private readonly busyPoll: boolean;

  constructor(readonly config: XskQueueConfig) {
    const { ifname, queueId } = config;
    const what = (step: string) => `AF_XDP socket for ${ifname} queue ${queueId}: ${step}`;
    this.ownsFd = config.fd < 0;
    this.busyPoll = config.busyPollBudget > 0;
    this.fd = this.ownsFd ? check(libc().socket(C.AF_XDP, C.SOCK_RAW, 0), 'socket', what('creating the socket')) : config.fd;
    const cleanups: Array<() => void> = [];
    try {
      if (!this.ownsFd) this.checkPassedFd();
      this.umem = new Umem(config);
      cleanups.push(() => this.umem.unmap());
      this.registerUmem(what);
      const ring = config.ringSize;
      sockoptInt(this.fd, C.SOL_XDP, C.XDP_UMEM_FILL_RING, ring * 2, what('sizing the fill ring'));
      sockoptInt(this.fd, C.SOL_XDP, C.XDP_UMEM_COMPLETION_RING, ring * 2, what('sizing the completion ring'));
      sockoptInt(this.fd, C.SOL_XDP, C.XDP_RX_RING, ring, what('sizing the rx ring'));
      sockoptInt(this.fd, C.SOL_XDP, C.XDP_TX_RING, ring, what('sizing the tx ring'));
      const off = getsockopt(this.fd, C.SOL_XDP, C.XDP_MMAP_OFFSETS, 128, what('reading ring offsets'));
      this.rxMem = new RingMemory(this.fd, C.XDP_PGOFF_RX_RING, readOffsets(off, 0), ring, C.XDP_DESC_BYTES, 'rx');
      cleanups.push(() => this.rxMem.unmap());
      this.txMem = new RingMemory(this.fd, C.XDP_PGOFF_TX_RING, readOffsets(off, 32), ring, C.XDP_DESC_BYTES, 'tx');
      cleanups.push(() => this.txMem.unmap());
      this.fillMem = new RingMemory(this.fd, C.XDP_UMEM_PGOFF_FILL_RING, readOffsets(off, 64), ring * 2, C.ADDR_BYTES, 'fill');
      cleanups.push(() => this.fillMem.unmap());
      this.compMem = new RingMemory(this.fd, C.XDP_UMEM_PGOFF_COMPLETION_RING, readOffsets(off, 96), ring * 2, C.ADDR_BYTES, 'completion');
      cleanups.push(() => this.compMem.unmap());
      this.fill = new ProducerRing(this.fillMem);
      this.comp = new ConsumerRing(this.compMem);
      this.rx = new ConsumerRing(this.rxMem);
      this.tx = new ProducerRing(this.txMem);
      this.desc = { fill: this.fillMem.words, comp: this.compMem.words, rx: this.rxMem.words, tx: this.txMem.words };
      // Stock the fill ring with half the frames; the rest serve transmission.
      this.refill(Math.min(ring * 2, config.frameCount >>> 1));
      this.bindSocket(what);
      if (config.busyPollBudget > 0) this.enableBusyPoll(what);
      const opts = getsockopt(this.fd, C.SOL_XDP, C.XDP_OPTIONS, 4, what('reading XDP_OPTIONS'));
      this.zeroCopy = (opts.readUInt32LE(0) & C.XDP_OPTIONS_ZEROCOPY) !== 0;
    } catch (err) {
      for (const undo of cleanups.reverse()) undo();
      if (this.ownsFd) libc().close(this.fd);
      throw err;
    }
  }

  private checkPassedFd(): void {
    const dom = Buffer.alloc(4);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(4, 0);
    if (libc().getsockopt(this.fd, C.SOL_SOCKET, C.SO_DOMAIN, dom, len) !== 0) {
      const e = errno();
      throw invalidOption('sock-fds', `fd ${this.fd} for queue ${this.config.queueId} is not an open socket (${e === 9 ? 'EBADF' : e === 88 ? 'ENOTSOCK' : `errno ${e}`})`,
        'pass AF_XDP sockets that this process inherited or received with SCM_RIGHTS');
    }
    if (dom.readInt32LE(0) !== C.AF_XDP) {
      throw invalidOption('sock-fds', `fd ${this.fd} for queue ${this.config.queueId} is a socket of family ${dom.readInt32LE(0)}, not AF_XDP (44)`);
    }
  }

  private registerUmem(what: (s: string) => string): void {
    const reg = Buffer.alloc(32);
    reg.writeBigUInt64LE(this.umem.address, 0);
    reg.writeBigUInt64LE(BigInt(this.umem.size), 8);
    reg.writeUInt32LE(this.config.frameSize, 16);
    reg.writeUInt32LE(0, 20); // headroom
    reg.writeUInt32LE(0, 24); // flags: aligned chunks
    const rc = libc().setsockopt(this.fd, C.SOL_XDP, C.XDP_UMEM_REG, reg, reg.length);
    if (rc !== 0) {
      const e = errno();
      const mib = (this.umem.size / 2 ** 20).toFixed(0);
      const hint = e === 105 || e === 12
        ? `this UMEM needs ${mib} MiB of locked memory: raise RLIMIT_MEMLOCK (ulimit -l / prlimit --memlock), grant CAP_IPC_LOCK, or lower frameCount`
        : undefined;
      throw new SystemError('setsockopt(XDP_UMEM_REG)', e, what(`registering a ${mib} MiB UMEM`), hint, hint ? 'frameCount' : undefined);
    }
  }

  private bindSocket(what: (s: string) => string): void {
    const addr = Buffer.alloc(16);
    addr.writeUInt16LE(C.AF_XDP, 0);
    addr.writeUInt16LE(C.XDP_USE_NEED_WAKEUP | (this.config.forceCopy ? C.XDP_COPY : 0), 2);
    addr.writeUInt32LE(this.config.ifindex, 4);
    addr.writeUInt32LE(this.config.queueId, 8);
    // The kernel frees the buffer pool of a closed socket in deferred work (xp_put_pool ->
    // xp_release_deferred), and only then is the queue free: a bind right after closing a port
    // on the same queue can get EBUSY for a few milliseconds (bench:leaks saw it once in ~330
    // open/close cycles). Retry EBUSY briefly; a queue really held by another socket still fails.
    let rc = libc().bind(this.fd, addr, 16);
    for (let waitedMs = 0; rc !== 0 && errno() === EBUSY && waitedMs < BIND_BUSY_RETRY_MS; waitedMs += 5) {
      Atomics.wait(SLEEPER, 0, 0, 5);
      rc = libc().bind(this.fd, addr, 16);
    }
    if (rc !== 0) {
      const e = errno();
      const name = e === 22 ? 'EINVAL' : undefined;
      throw new SystemError('bind', e, what('binding'), name
        ? `queue ${this.config.queueId} may not exist on ${this.config.ifname} (see ethtool -l), or the socket is already bound`
        : undefined);
    }
  }

  private enableBusyPoll(what: (s: string) => string): void {
    sockoptInt(this.fd, C.SOL_SOCKET, C.SO_PREFER_BUSY_POLL, 1, what('SO_PREFER_BUSY_POLL'));
    sockoptInt(this.fd, C.SOL_SOCKET, C.SO_BUSY_POLL, 20, what('SO_BUSY_POLL'));
    sockoptInt(this.fd, C.SOL_SOCKET, C.SO_BUSY_POLL_BUDGET, this.config.busyPollBudget, what('SO_BUSY_POLL_BUDGET'));
  }

  /** Moves up to `max` free frames onto the fill ring, keeping half the UMEM for transmission. */
  refill(max: number): number {
    const umem = this.umem;
    let n = Math.min(max, umem.freeFrames, (this.config.frameCount >>> 1) - this.fill.outstanding());
    if (n <= 0) return 0;
    n = Math.min(n, this.fill.free(n));
    const words = this.desc.fill;
    for (let i = 0; i < n; i++) {
      const w = this.fill.slot(i) << 1;
      words[w] = umem.take();
      words[w + 1] = 0;
    }
    this.fill.submit(n);
    return n;
  }

  /**
   * Receives up to batch.capacity frames into `batch` (addresses point at the packet data in
   * umem.bytes). The frames are the caller's until it transmits them or gives them back with
   * release(). Refills the fill ring and wakes the kernel when it asks to be woken.
   */
  rxBurst(batch: FrameBatch, max = batch.capacity): number {
    // Preferred busy polling: the receive work (the driver's NAPI poll: XDP, redirect, copy into
    // the UMEM) runs here, inside recvfrom, on this thread's CPU and in its time, as DPDK's
    // AF_XDP PMD does with busy_budget. The fill ring is stocked first so the poll can deliver.
    if (this.busyPoll) {
      this.refill(this.config.ringSize);
      libc().recvfrom(this.fd, null, 0, C.MSG_DONTWAIT, null, null);
    }
    const n = this.rx.available(max < batch.capacity ? max : batch.capacity);
    const words = this.desc.rx;
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const w = this.rx.slot(i) << 2;
      const len = words[w + 2]!;
      batch.addr[i] = words[w]!;
      batch.len[i] = len;
      bytes += len;
    }
    if (n > 0) {
      this.rx.release(n);
      this.counters.rxPackets += n;
      this.counters.rxBytes += bytes;
    }
    batch.count = n;
    this.refill(this.config.ringSize);
    if (n === 0 && !this.busyPoll && this.fillMem.needsWakeup()) libc().recvfrom(this.fd, null, 0, C.MSG_DONTWAIT, null, null);
    return n;
  }

  /**
   * Sleeps in poll() until the rx ring has frames or `timeoutMs` passes (one FFI call). For
   * receivers that would otherwise spin on an idle ring: a sleeping process is woken promptly by
   * the kernel, a spinning one on a busy host waits for its next time slice.
   */
  waitReadable(timeoutMs: number): boolean {
    const pfd = this.pollFd;
    pfd.writeInt32LE(this.fd, 0);
    pfd.writeInt16LE(POLLIN, 4);
    pfd.writeInt16LE(0, 6);
    return libc().poll(pfd, 1, timeoutMs) > 0;
  }

  /** Gives frames back to the pool (after rxBurst, or unsent after txBurst). */
  release(batch: FrameBatch, from = 0, to = batch.count): void {
    for (let i = from; i < to; i++) this.umem.give(batch.addr[i]!);
  }

  /** Takes up to `n` free frames for transmission into batch (count set). */
  allocate(batch: FrameBatch, n = batch.capacity): number {
    const umem = this.umem;
    const k = Math.min(n, batch.capacity, umem.freeFrames);
    for (let i = 0; i < k; i++) batch.addr[i] = umem.take();
    batch.count = k;
    return k;
  }

  /**
   * Queues batch.count frames for transmission and kicks the kernel if it asks to be kicked.
   * Returns how many were queued; frames [result, count) remain the caller's.
   */
  txBurst(batch: FrameBatch): number {
    const n = this.tx.free(batch.count) < batch.count ? this.tx.free(batch.count) : batch.count;
    const words = this.desc.tx;
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const w = this.tx.slot(i) << 2;
      const len = batch.len[i]!;
      words[w] = batch.addr[i]!;
      words[w + 1] = 0;
      words[w + 2] = len;
      words[w + 3] = 0;
      bytes += len;
    }
    if (n > 0) {
      this.tx.submit(n);
      this.counters.txBytes += bytes;
    }
    this.kick();
    return n;
  }

  /** Lets the kernel send what sits on the tx ring (copy mode sends only inside this call). */
  kick(): void {
    if (this.txMem.needsWakeup() && this.tx.outstanding() > 0) {
      if (Number(libc().sendto(this.fd, null, 0, C.MSG_DONTWAIT, null, 0)) < 0) this.counters.txKickErrors++;
    }
  }

  /**
   * Returns completed transmissions' frames to the pool; returns how many completed. Kicks the
   * kernel again while frames wait on the tx ring (copy mode sends a bounded batch per kick).
   */
  reclaim(): number {
    this.kick();
    const n = this.comp.available(this.config.ringSize * 2);
    if (n === 0) return 0;
    const words = this.desc.comp;
    for (let i = 0; i < n; i++) this.umem.give(words[this.comp.slot(i) << 1]!);
    this.comp.release(n);
    this.counters.txPackets += n;
    return n;
  }

  stats(): XskStatistics {
    const k = getsockopt(this.fd, C.SOL_XDP, C.XDP_STATISTICS, 48, `AF_XDP socket for ${this.config.ifname} queue ${this.config.queueId}: XDP_STATISTICS`);
    const u = (i: number) => Number(k.readBigUInt64LE(i * 8));
    return {
      ...this.counters,
      rxDropped: u(0), rxInvalidDescs: u(1), txInvalidDescs: u(2), rxRingFull: u(3), rxFillRingEmpty: u(4), txRingEmpty: u(5),
    };
  }

  /** Waits (bounded) for queued transmissions to complete, then unmaps and closes. */
  close(drainMs = 200): void {
    if (this.closed) return;
    this.closed = true;
    const deadline = Date.now() + drainMs;
    while (this.tx.outstanding() > 0 && Date.now() < deadline) { this.kick(); this.reclaim(); }
    this.reclaim();
    // Closing the socket first makes the kernel drop its references to the rings and UMEM.
    libc().close(this.fd);
    this.rxMem.unmap(); this.txMem.unmap(); this.fillMem.unmap(); this.compMem.unmap();
    this.umem.unmap();
  }
}
