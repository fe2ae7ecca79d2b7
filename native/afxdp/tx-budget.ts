// XDP_MAX_TX_SKB_BUDGET (linux/if_xdp.h, Linux 6.17+): how many frames the kernel sends per
// sendto in copy mode (its default is 32). A larger budget sends a burst in one system call.
import { errnoName } from '../errors.js';
import { errno, libc } from '../sys/libc.js';
import { SOL_XDP } from './constants.js';

const XDP_MAX_TX_SKB_BUDGET = 9;

/** Raises the copy-mode frames-per-sendto budget of one socket; says whether the kernel took it. */
export function setTxBudget(fd: number, budget: number): { applied: boolean; error?: string } {
  const v = Buffer.alloc(4);
  v.writeUInt32LE(budget, 0);
  if ((libc().setsockopt(fd, SOL_XDP, XDP_MAX_TX_SKB_BUDGET, v, 4) as number) === 0) return { applied: true };
  const name = errnoName(errno());
  return {
    applied: false,
    error: name === 'ENOPROTOOPT' ? 'this kernel has no XDP_MAX_TX_SKB_BUDGET (Linux 6.17+)'
      : name === 'EACCES' ? `budget ${budget} outside [32, tx ring size]` : name,
  };
}
