// The guest's memory as SET_MEM_TABLE describes it: each region mapped from the fd QEMU passed
// (MAP_SHARED, so the guest's writes are ours and ours are the guest's), and translation of
// guest-physical addresses (descriptors) and front-end virtual addresses (SET_VRING_ADDR) to a
// region's bytes. Every translation is bounds-checked: an address or length outside the table
// is refused, never read. Translation allocates nothing: the result is left in `region` and
// `offset` (the hot path calls it per descriptor).
import { ProtocolError, type MemRegion } from './protocol.js';

export interface MappedRegion {
  guestAddr: number;
  userAddr: number;
  size: number;
  /** The region's bytes (from mmap_offset on). */
  bytes: Uint8Array;
}

export class GuestMemory {
  /** The last translation's result. */
  region = 0;
  offset = 0;

  constructor(readonly regions: readonly MappedRegion[], private readonly release: () => void = () => {}) {}

  /** Guest-physical [addr, addr+len) -> this.region, this.offset; false when not inside one region. */
  fromGuest(addr: number, len: number): boolean {
    const rs = this.regions;
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i]!;
      const off = addr - r.guestAddr;
      if (off >= 0 && off + len <= r.size) { this.region = i; this.offset = off; return true; }
    }
    return false;
  }

  /** Front-end virtual [addr, addr+len) -> this.region, this.offset. */
  fromUser(addr: number, len: number): boolean {
    const rs = this.regions;
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i]!;
      const off = addr - r.userAddr;
      if (off >= 0 && off + len <= r.size) { this.region = i; this.offset = off; return true; }
    }
    return false;
  }

  /** Unmaps every region. */
  unmap(): void { this.release(); }
}

/** Table entries as numbers; a region past 2^53 (unaddressable here) is refused. */
export function checkedRegions(regions: readonly MemRegion[]): Array<{ guestAddr: number; userAddr: number; size: number; mmapOffset: number }> {
  const lim = BigInt(Number.MAX_SAFE_INTEGER);
  return regions.map((r, i) => {
    for (const [k, v] of [['guest_phys_addr', r.guestAddr + r.size], ['userspace_addr', r.userAddr + r.size]] as const) {
      if (v > lim) throw new ProtocolError('SET_MEM_TABLE', `regions[${i}].${k}`, `ends at 0x${v.toString(16)}, past 2^53`);
    }
    return { guestAddr: Number(r.guestAddr), userAddr: Number(r.userAddr), size: Number(r.size), mmapOffset: Number(r.mmapOffset) };
  });
}
