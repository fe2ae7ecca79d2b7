// The vhost-user back ends a VM row can have on the other end of its socket: xdplab's own
// (xdplab vhost serve) and dpdk-testpmd's as the reference, both bridging to a veth end
// through AF_XDP. One place that maps a backend name to the process that serves it.
import { cpus } from 'node:os';
import type { Lab } from '../lab/lab.js';
import { startTestpmdVhost } from './testpmd-switch.js';
import { startXdplabVhost, type VhostBackendProcess } from './xdplab-switch.js';

export const VHOST_USER_BACKENDS = ['vhost-user', 'vhost-user-testpmd'] as const;
export type VhostUserBackend = (typeof VHOST_USER_BACKENDS)[number];

export function isVhostUserBackend(b: string): b is VhostUserBackend {
  return (VHOST_USER_BACKENDS as readonly string[]).includes(b);
}

/** testpmd runs with -l 0-1: its forwarding lcore is CPU 1; xdplab's back end gets the same CPU. */
const FORWARDING_CPU = 1;

/** Starts the backend's process in the lab; resolves once QEMU may connect to socketPath. */
export function startVhostBackend(backend: VhostUserBackend, lab: Lab, o: { socketPath: string; netns: string; ifname: string }): Promise<VhostBackendProcess> {
  return backend === 'vhost-user' ? startXdplabVhost(lab, { ...o, ...(cpus().length > FORWARDING_CPU ? { cpu: FORWARDING_CPU } : {}) }) : startTestpmdVhost(lab, o);
}

export type { VhostBackendProcess };
