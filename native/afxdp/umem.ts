// UMEM: the packet memory shared with the kernel, and the pool of its free frames.
import koffi from 'koffi';
import { invalidOption } from '../../benchmarks/contracts/errors.js';
import { mapMemory, unmapMemory, MAP_ANONYMOUS, MAP_POPULATE, MAP_PRIVATE, PROT_READ, PROT_WRITE, type Pointer } from '../sys/libc.js';

/** A batch of frames passed between the datapath and an engine: preallocated, reused. */
export class FrameBatch {
  readonly addr: Uint32Array;
  readonly len: Uint32Array;
  count = 0;
  constructor(readonly capacity: number) {
    this.addr = new Uint32Array(capacity);
    this.len = new Uint32Array(capacity);
  }
}

export interface UmemGeometry { frameSize: number; frameCount: number }

export function checkGeometry(g: UmemGeometry): void {
  // Aligned chunk mode: a power of two between 2 KiB and the page size.
  if (g.frameSize !== 2048 && g.frameSize !== 4096) {
    throw invalidOption('frameSize', `must be 2048 or 4096, got ${g.frameSize}`);
  }
  if (!Number.isInteger(g.frameCount) || g.frameCount < 64 || g.frameCount * g.frameSize > 2 ** 32) {
    throw invalidOption('frameCount', `must be an integer from 64 up to 4 GiB of frames, got ${g.frameCount}`);
  }
}

/** Frame-aligned anonymous memory plus a LIFO stack of free frame addresses. */
export class Umem {
  readonly bytes: Uint8Array;
  readonly size: number;
  readonly ptr: Pointer;
  readonly frameMask: number;
  private readonly free: Uint32Array;
  private top: number;

  constructor(readonly geometry: UmemGeometry) {
    checkGeometry(geometry);
    this.size = geometry.frameSize * geometry.frameCount;
    const { ptr, buffer } = mapMemory(this.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0, 'allocating UMEM');
    this.ptr = ptr;
    this.bytes = new Uint8Array(buffer);
    this.frameMask = ~(geometry.frameSize - 1);
    this.free = new Uint32Array(geometry.frameCount);
    // Highest address at the bottom so that frame 0 comes out first (LIFO).
    for (let i = 0; i < geometry.frameCount; i++) this.free[i] = (geometry.frameCount - 1 - i) * geometry.frameSize;
    this.top = geometry.frameCount;
  }

  get address(): bigint {
    return BigInt(koffi.address(this.ptr));
  }

  get freeFrames(): number {
    return this.top;
  }

  /** Takes one free frame's address, or -1. */
  take(): number {
    return this.top > 0 ? this.free[--this.top]! : -1;
  }

  /** Returns a frame by any address inside it. */
  give(addr: number): void {
    this.free[this.top++] = (addr & this.frameMask) >>> 0;
  }

  unmap(): void {
    unmapMemory(this.ptr, this.size);
  }
}
