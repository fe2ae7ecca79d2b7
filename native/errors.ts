// errno names and the error of a failed system or library call (a LabError with the call).
import { constants } from 'node:os';
import { LabError } from '../benchmarks/contracts/errors.js';

const errnoNames = new Map<number, string>(
  Object.entries(constants.errno).map(([name, value]) => [value, name] as [number, string]),
);

export function errnoName(errno: number): string {
  return errnoNames.get(Math.abs(errno)) ?? `errno ${Math.abs(errno)}`;
}

/** What to do about the errno values the datapath meets in practice. */
const GENERIC_HINTS: Record<string, string> = {
  EPERM: 'needs CAP_NET_ADMIN and CAP_BPF (or CAP_SYS_ADMIN), and CAP_NET_RAW for AF_XDP sockets; run as root or grant the capabilities',
  EACCES: 'needs CAP_NET_ADMIN and CAP_BPF (or CAP_SYS_ADMIN); run as root or grant the capabilities',
  ENODEV: 'no such network interface in this network namespace (ip link show)',
  EOPNOTSUPP: 'the device or its driver does not support this XDP mode or option; try mode=skb',
  ENOBUFS: 'locked memory is over RLIMIT_MEMLOCK: raise it (ulimit -l, prlimit --memlock) or grant CAP_IPC_LOCK',
  ENOMEM: 'out of memory or over RLIMIT_MEMLOCK: raise it (ulimit -l, prlimit --memlock) or grant CAP_IPC_LOCK',
  EBUSY: 'the queue is already bound by another AF_XDP socket, or another XDP program is attached',
  EEXIST: 'another XDP program is already attached to this interface',
  EINVAL: 'the kernel rejected a parameter (queue id past the device channels, ring size not a power of two, or frame size)',
  EAFNOSUPPORT: 'the kernel has no AF_XDP support (CONFIG_XDP_SOCKETS)',
  ENOENT: 'not found',
};

/** A failed system or library call: the call's name, errno's name, a hint. */
export class SystemError extends LabError {
  readonly call: string;
  readonly errno: number;
  readonly errnoName: string;

  constructor(call: string, errno: number, what: string, hint?: string, field?: string) {
    const name = errnoName(errno);
    const h = hint ?? GENERIC_HINTS[name];
    super({ code: name, message: `${field ? `${field}: ` : ''}${what}: ${call} failed with ${name}`, ...(h ? { hint: h } : {}), ...(field ? { field } : {}) });
    this.name = 'SystemError';
    this.call = call;
    this.errno = Math.abs(errno);
    this.errnoName = name;
  }
}
