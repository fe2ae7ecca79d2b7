// SET_MEM_TABLE's regions mapped from their fds. Each fd's size is checked first: mapping past
// the end of a memfd succeeds, and the first touch of those pages would kill the process with
// SIGBUS; a table with bad offsets is refused instead. The fds are closed once mapped (the
// mappings keep the memory), and every mapping made so far is undone when one fails.
import { SystemError } from '../errors.js';
import { closeFd, libc, mapMemory, unmapMemory, MAP_SHARED, PROT_READ, PROT_WRITE, type Pointer } from '../sys/libc.js';
import { checkedRegions, GuestMemory, type MappedRegion } from './guest-memory.js';
import { ProtocolError, type MemRegion } from './protocol.js';

const SEEK_END = 2;

/** Live mappings of this process (tests count them across connect/disconnect cycles). */
let liveMappings = 0;
export const guestMappings = (): number => liveMappings;

/** Maps the table; the fds are consumed (closed) whether it succeeds or not. */
export function mapGuestMemory(table: readonly MemRegion[], fds: readonly number[]): GuestMemory {
  const maps: Array<{ ptr: Pointer; len: number }> = [];
  const unmapAll = () => {
    for (const m of maps.splice(0)) { unmapMemory(m.ptr, m.len); liveMappings--; }
  };
  try {
    const regions = checkedRegions(table);
    const mapped: MappedRegion[] = regions.map((r, i) => {
      const fileSize = Number(libc().lseek(fds[i]!, 0, SEEK_END));
      if (fileSize < 0) throw new ProtocolError('SET_MEM_TABLE', `regions[${i}] fd`, 'is not a seekable file (lseek failed): expected a memfd or a file of guest RAM');
      if (r.mmapOffset + r.size > fileSize) {
        throw new ProtocolError('SET_MEM_TABLE', `regions[${i}].mmap_offset`, `0x${r.mmapOffset.toString(16)} + size 0x${r.size.toString(16)} is past the end of its fd (0x${fileSize.toString(16)} bytes)`);
      }
      const len = r.mmapOffset + r.size;
      let m: { ptr: Pointer; buffer: ArrayBuffer };
      try {
        m = mapMemory(len, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i]!, 0, `mapping guest memory region ${i} (0x${r.size.toString(16)} bytes)`);
      } catch (err) {
        if (err instanceof SystemError) throw new ProtocolError('SET_MEM_TABLE', `regions[${i}]`, err.message);
        throw err;
      }
      maps.push({ ptr: m.ptr, len });
      liveMappings++;
      return { guestAddr: r.guestAddr, userAddr: r.userAddr, size: r.size, bytes: new Uint8Array(m.buffer, r.mmapOffset, r.size) };
    });
    return new GuestMemory(mapped, unmapAll);
  } catch (err) {
    unmapAll();
    throw err;
  } finally {
    for (const fd of fds) closeFd(fd);
  }
}

/** An eventfd's 8-byte counter: read drains it, write adds 1. Non-blocking; no allocation. */
export class EventFd {
  private static readonly one = (() => { const b = Buffer.alloc(8); b.writeBigUInt64LE(1n); return b; })();
  private static readonly sink = Buffer.alloc(8);
  private closed = false;

  constructor(readonly fd: number) {
    const c = libc();
    const F_GETFL = 3, F_SETFL = 4, O_NONBLOCK = 0o4000;
    const fl = c.fcntl(fd, F_GETFL, 0) as number;
    if (fl >= 0) c.fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  }

  /** Drains the counter; true when it was set. */
  drain(): boolean { return Number(libc().read(this.fd, EventFd.sink, 8)) === 8; }
  signal(): void { libc().write(this.fd, EventFd.one, 8); }
  close(): void { if (!this.closed) { this.closed = true; closeFd(this.fd); } }
}
