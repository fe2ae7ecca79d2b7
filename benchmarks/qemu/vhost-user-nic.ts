// A guest NIC on vhost-user: the netdev (validated by the netdev model) and the QEMU arguments
// it needs beside it: guest RAM in a shared memfd (the back end maps it from the fds
// SET_MEM_TABLE passes; private RAM would leave it a copy that never changes) and the unix
// socket chardev. QEMU's chardev is the client with reconnect-ms (the back end listens, and
// may restart under a running guest) unless the back end is the one that connects.
import { invalidOption } from '../contracts/errors.js';
import type { Netdev } from './netdev.js';
import { MEMORY_MIB } from './vm.js';

export const VHOST_USER_CHARDEV = 'xlvhost';

/**
 * The guest NIC's device properties on a vhost-user row: no checksum or segmentation offload,
 * as QEMU's af-xdp guest has none. xdplab's back end does not offer them anyway; testpmd's
 * vhost PMD would, and the same traffic for both is what makes the rows comparable.
 */
export const VIRTIO_NO_OFFLOADS = ['csum', 'guest_csum', 'gso', 'host_tso4', 'host_tso6', 'host_ecn', 'host_ufo', 'guest_tso4', 'guest_tso6', 'guest_ecn', 'guest_ufo'].map((p) => `${p}=off`).join(',');

export function vhostUserNetdev(id = 'n0'): Netdev {
  return { type: 'vhost-user', id, chardev: VHOST_USER_CHARDEV };
}

export function vhostUserVmArgs(o: { socketPath: string; memoryMiB?: number; qemuListens?: boolean }): string[] {
  const mib = o.memoryMiB ?? MEMORY_MIB.default;
  if (!Number.isInteger(mib) || mib < MEMORY_MIB.min || mib > MEMORY_MIB.max) throw invalidOption('memoryMiB', `expected an integer from ${MEMORY_MIB.min} to ${MEMORY_MIB.max}, got ${mib}`);
  if (/[,\s]/.test(o.socketPath)) throw invalidOption('socketPath', `'${o.socketPath}' has a comma or a space, which QEMU's option syntax cannot carry here`);
  return [
    '-object', `memory-backend-memfd,id=xlmem,size=${mib}M,share=on`, '-numa', 'node,memdev=xlmem',
    '-chardev', `socket,id=${VHOST_USER_CHARDEV},path=${o.socketPath}${o.qemuListens ? ',server=on' : ',reconnect-ms=1000'}`,
  ];
}
