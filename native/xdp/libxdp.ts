// libxdp (1.3 ABI) and libbpf through koffi: loading and attaching XDP programs, XSK maps and
// the every-Nth drop program's counter map, querying what is attached. libxdp's and libbpf's
// log lines are captured instead of going to stderr, so they can be attached to the error they
// explain.
import koffi from 'koffi';
import { arch } from 'node:process';
import { libc } from '../sys/libc.js';
import type { AfXdpMode } from '../../benchmarks/contracts/datapath.js';

function bind() {
  const xdp = koffi.load('libxdp.so.1');
  const bpf = koffi.load('libbpf.so.1');
  return {
    programFindFile: xdp.func('void *xdp_program__find_file(const char *filename, const char *section, void *opts)'),
    programBpfObj: xdp.func('void *xdp_program__bpf_obj(void *prog)'),
    programAttach: xdp.func('int xdp_program__attach(void *prog, int ifindex, int mode, unsigned int flags)'),
    programDetach: xdp.func('int xdp_program__detach(void *prog, int ifindex, int mode, unsigned int flags)'),
    programClose: xdp.func('void xdp_program__close(void *prog)'),
    programId: xdp.func('uint32_t xdp_program__id(void *prog)'),
    programFd: xdp.func('int xdp_program__fd(void *prog)'),
    getError: xdp.func('long libxdp_get_error(void *ptr)'),
    setPrint: xdp.func('void *libxdp_set_print(void *fn)'),
    setBpfPrint: bpf.func('void *libbpf_set_print(void *fn)'),
    findMapByName: bpf.func('void *bpf_object__find_map_by_name(void *obj, const char *name)'),
    mapSetMaxEntries: bpf.func('int bpf_map__set_max_entries(void *map, uint32_t max)'),
    mapFd: bpf.func('int bpf_map__fd(void *map)'),
    mapUpdateElem: bpf.func('int bpf_map_update_elem(int fd, void *key, void *value, uint64_t flags)'),
    mapDeleteElem: bpf.func('int bpf_map_delete_elem(int fd, void *key)'),
    xdpQuery: bpf.func('int bpf_xdp_query(int ifindex, int flags, void *opts)'),
    xdpAttach: bpf.func('int bpf_xdp_attach(int ifindex, int prog_fd, uint32_t flags, void *opts)'),
    xdpDetach: bpf.func('int bpf_xdp_detach(int ifindex, uint32_t flags, void *opts)'),
    progGetFdById: bpf.func('int bpf_prog_get_fd_by_id(uint32_t id)'),
    objGetInfoByFd: bpf.func('int bpf_obj_get_info_by_fd(int fd, void *info, void *len)'),
    progLoad: bpf.func('int bpf_prog_load(int type, const char *name, const char *license, void *insns, size_t cnt, void *opts)'),
    mapCreate: bpf.func('int bpf_map_create(int type, const char *name, uint32_t key_size, uint32_t value_size, uint32_t max_entries, void *opts)'),
    mapLookupElem: bpf.func('int bpf_map_lookup_elem(int fd, void *key, void *value)'),
    numPossibleCpus: bpf.func('int libbpf_num_possible_cpus(void)'),
  };
}

let cached: ReturnType<typeof bind> | undefined;
let printHook: unknown;
const logLines: string[] = [];

/** The bindings; on first use, routes libxdp's log into takeLibxdpLog(). */
export function libxdp(): ReturnType<typeof bind> {
  if (cached) return cached;
  cached = bind();
  // va_list is a pointer-sized array on x86_64 only; elsewhere libxdp keeps printing to stderr.
  if (arch === 'x64') {
    const proto = koffi.proto('int xdplab_libxdp_print(int level, const char *fmt, void *args)');
    const buf = Buffer.alloc(1024);
    printHook = koffi.register((level: number, fmt: string, args: unknown) => {
      const n = libc().vsnprintf(buf, buf.length, fmt, args) as number;
      const line = buf.toString('utf8', 0, Math.max(0, Math.min(n, buf.length - 1))).trim();
      if (line) logLines.push(`${['warn', 'info', 'debug'][level] ?? 'log'}: ${line}`);
      if (logLines.length > 50) logLines.shift();
      return 0;
    }, koffi.pointer(proto));
    cached.setPrint(printHook);
    cached.setBpfPrint(printHook);
  }
  return cached;
}

/** libxdp's log lines since the last call (warnings and info; debug is not enabled). */
export function takeLibxdpLog(): string[] {
  return logLines.splice(0, logLines.length).filter((l) => !l.startsWith('debug'));
}

export const XDP_ATTACHED = { NONE: 0, DRV: 1, SKB: 2, HW: 3, MULTI: 4 } as const;

export interface AttachedXdp {
  /** Program ids per mode; 0 where none. */
  drvProgId: number;
  skbProgId: number;
  hwProgId: number;
  mode: 'none' | AfXdpMode | 'hw' | 'multi';
}

/** What XDP programs are attached to an interface (in the thread's network namespace). */
export function queryXdp(ifindex: number): AttachedXdp {
  const opts = Buffer.alloc(32);
  opts.writeBigUInt64LE(32n, 0);
  const rc = libxdp().xdpQuery(ifindex, 0, opts) as number;
  if (rc < 0) return { drvProgId: 0, skbProgId: 0, hwProgId: 0, mode: 'none' };
  const mode = (['none', 'native', 'skb', 'hw', 'multi'] as const)[opts.readUInt8(24)] ?? 'none';
  return { drvProgId: opts.readUInt32LE(12), hwProgId: opts.readUInt32LE(16), skbProgId: opts.readUInt32LE(20), mode };
}

/** A loaded BPF program's name by id, or '' when it cannot be read. */
export function programName(id: number): string {
  const fd = libxdp().progGetFdById(id) as number;
  if (fd < 0) return '';
  try {
    const info = Buffer.alloc(96);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(info.length, 0);
    if ((libxdp().objGetInfoByFd(fd, info, len) as number) !== 0) return '';
    return info.toString('utf8', 64, 80).replace(/\0.*$/s, '');
  } finally {
    libc().close(fd);
  }
}

/**
 * Whether libxdp and libbpf load here, and whether libxdp has xsk_umem__create_with_fd (added
 * in 1.4; QEMU's af-xdp netdev needs it, xdplab's own datapath does not). For doctor.
 */
export function probeLibxdp(): { ok: true; hasCreateWithFd: boolean } | { ok: false; error: string } {
  try {
    const lib = koffi.load('libxdp.so.1');
    koffi.load('libbpf.so.1');
    try {
      lib.func('int xsk_umem__create_with_fd(void *umem, int fd, void *area, uint64_t size, void *fill, void *comp, void *config)');
      return { ok: true, hasCreateWithFd: true };
    } catch {
      return { ok: true, hasCreateWithFd: false };
    }
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}
