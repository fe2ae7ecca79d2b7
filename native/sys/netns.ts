// Network namespaces entered by the calling thread only (setns), so one process can open
// AF_XDP ports on interfaces in different namespaces. Sockets keep the namespace they were
// created in, so switching back afterwards is safe. `fn` must be synchronous: an await would
// let other work run on this thread inside the wrong namespace.
import { openSync, closeSync, fstatSync, statSync } from 'node:fs';
import { libc, check } from './libc.js';
import { LabError } from '../../benchmarks/contracts/errors.js';

const CLONE_NEWNET = 0x40000000;

export function netnsPath(name: string): string {
  return `/run/netns/${name}`;
}

function enter<T>(target: number, label: string, fn: () => T): T {
  const home = openSync('/proc/thread-self/ns/net', 'r');
  try {
    check(libc().setns(target, CLONE_NEWNET), 'setns', `entering network namespace ${label}`);
    try {
      return fn();
    } finally {
      check(libc().setns(home, CLONE_NEWNET), 'setns', 'returning to the original network namespace');
    }
  } finally {
    closeSync(home);
  }
}

/** Runs fn inside the named namespace (ip netns), or here when no name is given. */
export function withNetns<T>(name: string | undefined, fn: () => T): T {
  if (!name) return fn();
  let target: number;
  try {
    target = openSync(netnsPath(name), 'r');
  } catch {
    throw new LabError({ code: 'ENONETNS', field: 'netns', message: `netns: no network namespace '${name}' (ip netns list)` });
  }
  try {
    return enter(target, `'${name}'`, fn);
  } finally {
    closeSync(target);
  }
}

/** A hold on the namespace the thread is in now, to come back to it later (e.g. at teardown). */
export class NetnsHandle {
  private fd: number;
  private constructor(fd: number) { this.fd = fd; }

  static current(): NetnsHandle {
    return new NetnsHandle(openSync('/proc/thread-self/ns/net', 'r'));
  }

  run<T>(fn: () => T): T {
    // Already there: no setns, which also keeps this working without CAP_SYS_ADMIN.
    if (this.fd < 0 || fstatSync(this.fd).ino === statSync('/proc/thread-self/ns/net').ino) return fn();
    return enter(this.fd, 'of the port', fn);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
