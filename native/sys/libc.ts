// libc through koffi, declared once. Loaded on first use so that importing the datapath on a
// machine without it (or in the renderer's type-check) costs nothing.
import koffi from 'koffi';
import { SystemError } from '../errors.js';

export type Pointer = unknown;

function bind() {
  const lib = koffi.load('libc.so.6');
  return {
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    close: lib.func('int close(int fd)'),
    bind: lib.func('int bind(int fd, void *addr, uint32_t addrlen)'),
    connect: lib.func('int connect(int fd, void *addr, uint32_t addrlen)'),
    listen: lib.func('int listen(int fd, int backlog)'),
    accept: lib.func('int accept(int fd, void *addr, void *addrlen)'),
    setsockopt: lib.func('int setsockopt(int fd, int level, int optname, void *optval, uint32_t optlen)'),
    getsockopt: lib.func('int getsockopt(int fd, int level, int optname, void *optval, void *optlen)'),
    mmap: lib.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)'),
    munmap: lib.func('int munmap(void *addr, size_t len)'),
    sendto: lib.func('intptr_t sendto(int fd, void *buf, size_t len, int flags, void *addr, uint32_t alen)'),
    recvfrom: lib.func('intptr_t recvfrom(int fd, void *buf, size_t len, int flags, void *addr, void *alen)'),
    sendmsg: lib.func('intptr_t sendmsg(int fd, void *msg, int flags)'),
    recvmsg: lib.func('intptr_t recvmsg(int fd, void *msg, int flags)'),
    poll: lib.func('int poll(void *fds, uint64_t nfds, int timeout)'),
    setns: lib.func('int setns(int fd, int nstype)'),
    ifNameToIndex: lib.func('unsigned int if_nametoindex(const char *ifname)'),
    getrlimit: lib.func('int getrlimit(int resource, void *rlim)'),
    setrlimit: lib.func('int setrlimit(int resource, void *rlim)'),
    fcntl: lib.func('int fcntl(int fd, int cmd, int arg)'),
    ioctl: lib.func('int ioctl(int fd, unsigned long req, void *arg)'),
    vsnprintf: lib.func('int vsnprintf(void *buf, size_t size, const char *fmt, void *ap)'),
    read: lib.func('intptr_t read(int fd, void *buf, size_t count)'),
    write: lib.func('intptr_t write(int fd, void *buf, size_t count)'),
    lseek: lib.func('int64_t lseek(int fd, int64_t offset, int whence)'),
    eventfd: lib.func('int eventfd(unsigned int initval, int flags)'),
    memfdCreate: lib.func('int memfd_create(const char *name, unsigned int flags)'),
    ftruncate: lib.func('int ftruncate(int fd, int64_t length)'),
    dup: lib.func('int dup(int fd)'),
  };
}

let cached: ReturnType<typeof bind> | undefined;
export function libc(): ReturnType<typeof bind> {
  if (!cached) cached = bind();
  return cached;
}

export function errno(): number {
  return koffi.errno();
}

/** Throws a SystemError when a libc call returned -1. */
export function check(rc: number | bigint, call: string, what: string, hint?: string): number {
  const n = Number(rc);
  if (n < 0) throw new SystemError(call, errno(), what, hint);
  return n;
}

export const RLIMIT_MEMLOCK = 8;
const RLIM_INFINITY = 0xffffffffffffffffn;

export interface Rlimit { soft: bigint | 'unlimited'; hard: bigint | 'unlimited' }

export function getMemlockLimit(): Rlimit {
  const buf = Buffer.alloc(16);
  check(libc().getrlimit(RLIMIT_MEMLOCK, buf), 'getrlimit', 'reading RLIMIT_MEMLOCK');
  const soft = buf.readBigUInt64LE(0);
  const hard = buf.readBigUInt64LE(8);
  return { soft: soft === RLIM_INFINITY ? 'unlimited' : soft, hard: hard === RLIM_INFINITY ? 'unlimited' : hard };
}

export function ifNameToIndex(ifname: string): number {
  return libc().ifNameToIndex(ifname) as number;
}

export function closeFd(fd: number): void {
  libc().close(fd);
}

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_ANONYMOUS = 0x20;
export const MAP_POPULATE = 0x8000;
export const MAP_FAILED = -1;

/** mmap that throws; returns the pointer and an ArrayBuffer over it. */
export function mapMemory(len: number, prot: number, flags: number, fd: number, offset: number, what: string): { ptr: Pointer; buffer: ArrayBuffer } {
  const ptr = libc().mmap(null, len, prot, flags, fd, offset);
  if (ptr === null || koffi.address(ptr) === BigInt.asUintN(64, -1n)) {
    throw new SystemError('mmap', errno(), what);
  }
  return { ptr, buffer: koffi.view(ptr, len) as ArrayBuffer };
}

export function unmapMemory(ptr: Pointer, len: number): void {
  libc().munmap(ptr, len);
}
