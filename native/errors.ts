// The one error type every layer throws: what was wrong, what was expected, what to do.
import { constants } from 'node:os';

export interface LabErrorInit {
  code: string;
  message: string;
  field?: string;
  hint?: string;
  cause?: unknown;
}

export class LabError extends Error {
  readonly code: string;
  readonly field?: string;
  readonly hint?: string;

  constructor(init: LabErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'LabError';
    this.code = init.code;
    if (init.field !== undefined) this.field = init.field;
    if (init.hint !== undefined) this.hint = init.hint;
  }

  toJSON(): { code: string; message: string; field?: string; hint?: string } {
    return {
      code: this.code,
      message: this.message,
      ...(this.field !== undefined ? { field: this.field } : {}),
      ...(this.hint !== undefined ? { hint: this.hint } : {}),
    };
  }
}

/** A value as an error message shows it: JSON, bigints as plain digits. Never throws: input that
 * JSON cannot write (circular, nested too deeply for the stack, a BigInt without the replacer)
 * must still end as the LabError that describes it, not as a TypeError or RangeError. */
export function valueText(value: unknown): string {
  try {
    const marked = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `\u0000bigint:${v}` : v));
    if (marked !== undefined) return marked.replace(/"\\u0000bigint:(-?\d+)"/g, '$1');
  } catch { /* below */ }
  if (value === undefined) return 'undefined';
  if (value !== null && typeof value === 'object') return Array.isArray(value) ? 'an array that cannot be written as JSON (circular or nested too deeply)' : 'an object that cannot be written as JSON (circular or nested too deeply)';
  return typeof value === 'symbol' || typeof value === 'function' ? `a ${typeof value}` : String(value);
}

/** A bad option value: names the field and what is allowed. */
export function invalidOption(field: string, message: string, hint?: string): LabError {
  return new LabError({ code: 'EINVALIDOPTION', field, message: `${field}: ${message}`, ...(hint ? { hint } : {}) });
}

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

/** Human text of any error, with its hint. */
export function describeError(err: unknown): string {
  if (err instanceof LabError) return err.hint ? `${err.message} (${err.hint})` : err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
