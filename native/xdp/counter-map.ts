// What xdplab's hand-assembled counting programs share: writing struct bpf_insn, the per-CPU
// array of u64 counters they count in (one slot per CPU: no atomics), and reading one key of it.
import { SystemError } from '../errors.js';
import { libxdp } from './libxdp.js';

const BPF_MAP_TYPE_PERCPU_ARRAY = 6;

/** An instruction buffer of `count` struct bpf_insn (u8 code, u8 dst:4|src:4, s16 off, s32 imm). */
export function insnWriter(count: number): { out: Buffer; insn(code: number, dst: number, src: number, off: number, imm: number): void } {
  const out = Buffer.alloc(count * 8);
  let i = 0;
  return {
    out,
    insn(code, dst, src, off, imm) {
      out.writeUInt8(code, i * 8);
      out.writeUInt8((src << 4) | dst, i * 8 + 1);
      out.writeInt16LE(off, i * 8 + 2);
      out.writeInt32LE(imm, i * 8 + 4);
      i++;
    },
  };
}

/** A per-CPU array of `entries` u64 counters (u32 keys); its fd. `what`: for the error. */
export function createCounterMap(name: string, entries: number, what: string): number {
  const mapFd = libxdp().mapCreate(BPF_MAP_TYPE_PERCPU_ARRAY, name, 4, 8, entries, null) as number;
  if (mapFd < 0) throw new SystemError('bpf_map_create', mapFd, `creating the counter map of ${what}`);
  return mapFd;
}

/** Counter `key` of a per-CPU map, one value per possible CPU. */
export function readPerCpuCounter(mapFd: number, key: number, what: string): number[] {
  const x = libxdp();
  const cpus = x.numPossibleCpus() as number;
  if (cpus < 1) throw new SystemError('libbpf_num_possible_cpus', cpus, `reading the counters of ${what}`);
  const k = Buffer.alloc(4);
  k.writeUInt32LE(key, 0);
  const values = Buffer.alloc(8 * cpus);
  const rc = x.mapLookupElem(mapFd, k, values) as number;
  if (rc !== 0) throw new SystemError('bpf_map_lookup_elem', rc, `reading the counters of ${what}`);
  return Array.from({ length: cpus }, (_, c) => Number(values.readBigUInt64LE(c * 8)));
}
