// Can this process create an AF_XDP socket at all? (doctor's first question.)
import { errnoName } from '../errors.js';
import { errno, libc } from '../sys/libc.js';
import { AF_XDP, SOCK_RAW } from './constants.js';

/** undefined when socket(AF_XDP) works here, else errno's name (EAFNOSUPPORT, EPERM, ...). */
export function probeAfXdpSocket(): string | undefined {
  const fd = Number(libc().socket(AF_XDP, SOCK_RAW, 0));
  if (fd >= 0) { libc().close(fd); return undefined; }
  return errnoName(errno());
}
