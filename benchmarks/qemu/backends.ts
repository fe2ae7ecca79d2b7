// The backends xdplab knows (vm bench rows, the VMs page): one name per way of wiring a guest's NIC,
// the QEMU netdev type behind it, and which end the iperf3 client sits at. Short names the user may
// type expand to their variants (stream -> stream-unix, stream-inet). The wiring of each is in
// backend-topology.ts, what each needs of this machine in vmbench/prerequisites.ts.
import { LabError } from '../contracts/errors.js';
import type { NetdevType } from './netdev.js';

export interface BackendInfo {
  name: string;
  netdev: NetdevType;
  /** host<->guest: the iperf3 client on the host (or a lab namespace); guest<->guest: in a second VM. */
  pair: 'host<->guest' | 'guest<->guest';
  summary: string;
  /** The name a lone VM (the VMs page) offers it under, where the topology's first VM alone
   *  makes sense and needs nothing beyond QEMU and the lab's links. */
  lone?: string;
}

export const VM_BACKENDS = [
  { name: 'user', netdev: 'user', pair: 'host<->guest', summary: 'slirp; iperf3 from the host through hostfwd to the guest', lone: 'user' },
  { name: 'tap', netdev: 'tap', pair: 'host<->guest', summary: 'tap in a lab namespace, the host end addressed (no bridge)', lone: 'tap' },
  { name: 'tap-bridge', netdev: 'tap', pair: 'host<->guest', summary: 'tap enslaved to a Linux bridge that has the address, in a lab namespace' },
  { name: 'tap-vhost', netdev: 'tap', pair: 'host<->guest', summary: 'tap with vhost=on (vhost-net in the host kernel)' },
  { name: 'bridge', netdev: 'bridge', pair: 'host<->guest', summary: '-netdev bridge: qemu-bridge-helper creates the tap on a lab bridge' },
  { name: 'socket', netdev: 'socket', pair: 'guest<->guest', summary: 'two VMs, socket listen= / connect= on 127.0.0.1', lone: 'socket' },
  { name: 'stream-unix', netdev: 'stream', pair: 'guest<->guest', summary: 'two VMs, stream server and client on a unix socket', lone: 'stream' },
  { name: 'stream-inet', netdev: 'stream', pair: 'guest<->guest', summary: 'two VMs, stream server and client on 127.0.0.1' },
  { name: 'dgram-unix', netdev: 'dgram', pair: 'guest<->guest', summary: 'two VMs, unix datagram sockets pointing at each other' },
  { name: 'dgram-inet', netdev: 'dgram', pair: 'guest<->guest', summary: 'two VMs, UDP on 127.0.0.1 pointing at each other', lone: 'dgram' },
  { name: 'hubport', netdev: 'hubport', pair: 'host<->guest', summary: 'the NIC on a QEMU hub whose other port is a user netdev (hubport netdev=)', lone: 'hubport' },
  { name: 'vde', netdev: 'vde', pair: 'guest<->guest', summary: 'two VMs on one vde_switch' },
  { name: 'l2tpv3', netdev: 'l2tpv3', pair: 'guest<->guest', summary: 'two VMs, Ethernet over L2TPv3 (UDP encapsulation) on 127.0.0.1' },
  { name: 'af-xdp', netdev: 'af-xdp', pair: 'host<->guest', summary: 'QEMU\'s AF_XDP socket on one end of a veth pair; iperf3 from the other end\'s namespace', lone: 'af-xdp' },
  { name: 'vhost-user', netdev: 'vhost-user', pair: 'host<->guest', summary: 'xdplab\'s vhost-user back end (xdplab vhost serve) bridging the guest to a veth end through AF_XDP; iperf3 from the other end\'s namespace' },
  { name: 'vhost-user-testpmd', netdev: 'vhost-user', pair: 'host<->guest', summary: 'the reference for vhost-user: dpdk-testpmd\'s vhost PMD and AF_XDP PMD in io mode on the same veth end' },
  { name: 'vhost-vdpa', netdev: 'vhost-vdpa', pair: 'host<->guest', summary: 'a vDPA device (/dev/vhost-vdpa-N)' },
  { name: 'netmap', netdev: 'netmap', pair: 'guest<->guest', summary: 'a netmap VALE switch port' },
] as const satisfies readonly BackendInfo[];

export type VmBackendName = (typeof VM_BACKENDS)[number]['name'];
export const VM_BACKEND_NAMES = VM_BACKENDS.map((b): VmBackendName => b.name);

/** Names that stand for several backends. */
export const BACKEND_ALIASES: Record<string, VmBackendName[]> = {
  stream: ['stream-unix', 'stream-inet'],
  dgram: ['dgram-unix', 'dgram-inet'],
  all: [...VM_BACKEND_NAMES],
};

const LONE = VM_BACKENDS.flatMap((b) => ('lone' in b ? [b] : []));
export type LoneBackendName = (typeof LONE)[number]['lone'];
/** The backends a lone VM is started with (startVm's enum), by the names the VMs page offers. */
export const LONE_BACKEND_NAMES = LONE.map((b): LoneBackendName => b.lone);

/** The backend a lone VM of this name is wired as. */
export function loneBackend(name: LoneBackendName): VmBackendName {
  const b = LONE.find((x) => x.lone === name);
  if (!b) throw unknownBackend(name);
  return b.name;
}

/** Backends whose guest NIC has a host interface an AF_XDP peer can sit on (txonly/rxonly). */
export const PACKET_BACKENDS = ['tap', 'af-xdp', 'vhost-user', 'vhost-user-testpmd'] as const satisfies readonly VmBackendName[];
export type PacketBackend = (typeof PACKET_BACKENDS)[number];

export function isPacketBackend(b: string): b is PacketBackend {
  return (PACKET_BACKENDS as readonly string[]).includes(b);
}

export function backendInfo(name: string): BackendInfo {
  const b = VM_BACKENDS.find((x) => x.name === name);
  if (!b) throw unknownBackend(name);
  return b;
}

function unknownBackend(name: string): LabError {
  return new LabError({
    code: 'EINVALIDOPTION', field: 'backends',
    message: `backends: unknown backend '${name}'; allowed: ${[...VM_BACKEND_NAMES, ...Object.keys(BACKEND_ALIASES)].join(', ')}`,
  });
}

/** "user,stream,tap" -> the backends in order, aliases expanded, duplicates dropped. */
export function expandBackends(names: readonly string[]): VmBackendName[] {
  if (names.length === 0) throw new LabError({ code: 'EINVALIDOPTION', field: 'backends', message: `backends: the list is empty; allowed: ${VM_BACKEND_NAMES.join(', ')}` });
  const out: VmBackendName[] = [];
  for (const n of names) {
    const expanded = BACKEND_ALIASES[n] ?? VM_BACKEND_NAMES.filter((b) => b === n);
    if (!expanded.length) throw unknownBackend(n);
    for (const b of expanded) if (!out.includes(b)) out.push(b);
  }
  return out;
}
