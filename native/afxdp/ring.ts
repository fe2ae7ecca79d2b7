// The four AF_XDP rings as typed arrays over the memory the kernel maps for them.
// Producer/consumer indices are read and published with Atomics (the ordering the kernel
// expects: descriptors written before the producer index moves); descriptors are plain
// typed-array accesses. Nothing here allocates or calls into native code per packet.
import { mapMemory, unmapMemory, MAP_POPULATE, MAP_SHARED, PROT_READ, PROT_WRITE, type Pointer } from '../sys/libc.js';
import { XDP_RING_NEED_WAKEUP } from './constants.js';

/** struct xdp_ring_offset as read from XDP_MMAP_OFFSETS. */
export interface RingOffsets { producer: number; consumer: number; desc: number; flags: number }

/** A mapped ring. Descriptor words are u32: fill/completion entries are 2 words, rx/tx 4. */
export class RingMemory {
  readonly producer: Uint32Array;
  readonly consumer: Uint32Array;
  readonly flags: Uint32Array;
  readonly words: Uint32Array;
  readonly mask: number;
  private readonly ptr: Pointer;
  private readonly length: number;

  constructor(fd: number, pgoff: number, off: RingOffsets, readonly size: number, descBytes: number, name: string) {
    this.length = off.desc + size * descBytes;
    const { ptr, buffer } = mapMemory(this.length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, pgoff, `mapping the ${name} ring`);
    this.ptr = ptr;
    this.producer = new Uint32Array(buffer, off.producer, 1);
    this.consumer = new Uint32Array(buffer, off.consumer, 1);
    this.flags = new Uint32Array(buffer, off.flags, 1);
    this.words = new Uint32Array(buffer, off.desc, (size * descBytes) / 4);
    this.mask = size - 1;
  }

  needsWakeup(): boolean {
    return (this.flags[0]! & XDP_RING_NEED_WAKEUP) !== 0;
  }

  unmap(): void {
    unmapMemory(this.ptr, this.length);
  }
}

/** Userspace produces (fill, tx): reserve free slots, write, then publish the producer index. */
export class ProducerRing {
  private prod: number;
  private cachedCons: number;

  constructor(readonly mem: RingMemory) {
    this.prod = Atomics.load(mem.producer, 0);
    this.cachedCons = Atomics.load(mem.consumer, 0) + mem.size;
  }

  /** Free slots, re-reading the kernel's consumer only when the cached view is short. */
  free(wanted: number): number {
    let free = (this.cachedCons - this.prod) >>> 0;
    if (free >= wanted) return free;
    this.cachedCons = (Atomics.load(this.mem.consumer, 0) + this.mem.size) >>> 0;
    free = (this.cachedCons - this.prod) >>> 0;
    return free;
  }

  /** Index of the i-th slot after the current producer position. */
  slot(i: number): number {
    return (this.prod + i) & this.mem.mask;
  }

  submit(n: number): void {
    this.prod = (this.prod + n) >>> 0;
    Atomics.store(this.mem.producer, 0, this.prod);
  }

  /** Entries the kernel has not consumed yet. */
  outstanding(): number {
    return (this.prod - Atomics.load(this.mem.consumer, 0)) >>> 0;
  }
}

/** Userspace consumes (rx, completion): peek available entries, read, then release them. */
export class ConsumerRing {
  private cons: number;
  private cachedProd: number;

  constructor(readonly mem: RingMemory) {
    this.cons = Atomics.load(mem.consumer, 0);
    this.cachedProd = Atomics.load(mem.producer, 0);
  }

  available(wanted: number): number {
    let n = (this.cachedProd - this.cons) >>> 0;
    if (n === 0) {
      this.cachedProd = Atomics.load(this.mem.producer, 0);
      n = (this.cachedProd - this.cons) >>> 0;
    }
    return n < wanted ? n : wanted;
  }

  slot(i: number): number {
    return (this.cons + i) & this.mem.mask;
  }

  release(n: number): void {
    this.cons = (this.cons + n) >>> 0;
    Atomics.store(this.mem.consumer, 0, this.cons);
  }
}
