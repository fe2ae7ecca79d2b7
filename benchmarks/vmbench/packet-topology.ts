// The wire of the VM packet tests: VM <-> backend <-> veth <-> xdplab's AF_XDP engine.
//
//   namespace V: QEMU, its tap T, a bridge B joining T and veth end Q      (backend tap)
//                QEMU's af-xdp netdev directly on veth end Q               (backend af-xdp)
//                QEMU's vhost-user NIC; xdplab's vhost-user back end with an AF_XDP port
//                on veth end Q                                             (backend vhost-user)
//   namespace P: veth end P, where xdplab's worker opens its AF_XDP port
//
// Why a bridge and not a route: the frames keep the addresses the test gives them (the
// guest's MAC from the peer, the peer's MAC from pktgen), as on a wire; no ARP, no TTL
// change, no forwarding decision per packet, and the host stack in V never sees them as its
// own. With two ports the bridge floods to the only other port until it learns the guest's
// MAC, which is the same thing. The tap is created by the lab (not by QEMU) so that it is on
// the bridge, with offloads off, before QEMU opens it, and so that the lab removes it.
//
// The tap and the bridge go with namespace V when the lab deletes it.
//
// IPv6 is off in both namespaces (and in the guest, by the caller): its neighbour discovery
// and MLD frames would otherwise be counted with the test's frames.
import type { Lab } from '../lab/lab.js';
import { formatNetdevArg, type Netdev } from '../qemu/netdev.js';
import { macOf, type Endpoint } from '../lab/topology.js';

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PacketBackend } from '../qemu/backends.js';
import { vhostUserNetdev, vhostUserVmArgs } from '../qemu/vhost-user-nic.js';
import type { AfXdpMode } from '../contracts/datapath.js';

export interface VmPacketTopology {
  backend: PacketBackend;
  /** Where QEMU runs. */
  vmNetns: string;
  /** The veth end on the VM's side (on the bridge for tap; QEMU's af-xdp attaches to it). */
  vmSide: Endpoint;
  /** The veth end of xdplab's engine. */
  peer: Endpoint;
  peerMac: string;
  /** tap backend: the tap QEMU opens and the bridge. */
  tap?: string;
  bridge?: string;
  /** vhost-user: the back end's socket (in a directory the lab removes) and the VM's extra arguments. */
  vhost?: { socketPath: string; vmArgs: string[] };
  /** The Netdev, validated by the netdev model, and its -netdev argument. */
  netdev: Netdev;
  netdevArg: string;
  /** The setup commands, as typed by hand (for the report). */
  commandLines: string[];
}

/** The af-xdp netdev for veth end `ifname` (one queue; QEMU's default mode: native, then skb). */
export function afXdpNetdev(id: string, ifname: string, mode?: AfXdpMode): Netdev {
  return { type: 'af-xdp', id, ifname, ...(mode ? { mode } : {}), queues: 1, 'start-queue': 0 };
}

export function tapNetdev(id: string, ifname: string): Netdev {
  // vnet_hdr=off: nothing to offload between a guest and AF_XDP (which has no offloads).
  return { type: 'tap', id, ifname, script: 'no', downscript: 'no', vnet_hdr: false };
}

let seq = 0;

/**
 * Creates the namespaces, links and (for tap) the bridge in `lab`; the caller closes the lab.
 * Names are lab names with a per-process sequence, so several topologies can share one lab.
 */
export function createVmPacketTopology(lab: Lab, backend: PacketBackend, opts: { afXdpMode?: AfXdpMode } = {}): VmPacketTopology {
  const n = (seq++ % 100).toString();
  const lines: string[] = [];
  const ip = (netns: string, args: string[]) => { lab.ip(netns, args); lines.push(`ip -n ${netns} ${args.join(' ')}`); };
  const sh = (netns: string, cmd: string, args: string[]) => { lab.exec(netns, cmd, args); lines.push(`ip netns exec ${netns} ${cmd} ${args.join(' ')}`); };
  const noIpv6 = (netns: string) => sh(netns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);

  const vmNetns = lab.addNetns(`v${n}`);
  const peerNetns = lab.addNetns(`p${n}`);
  lines.push(`ip netns add ${vmNetns}`, `ip netns add ${peerNetns}`);
  noIpv6(vmNetns);
  noIpv6(peerNetns);
  const [q, p] = lab.addVethPair({ netns: vmNetns, suffix: `q${n}` }, { netns: peerNetns, suffix: `w${n}` });
  lines.push(`ip link add ${q} netns ${vmNetns} type veth peer name ${p} netns ${peerNetns}`);
  // Offloads off at both ends, as in the bench: AF_XDP frames carry no checksum offload metadata.
  for (const [ns, ifname] of [[vmNetns, q], [peerNetns, p]] as const) {
    lab.disableOffloads(ns, ifname);
    lines.push(`ip netns exec ${ns} ethtool -K ${ifname} tx off rx off tso off gso off gro off`);
  }
  const vmSide: Endpoint = { netns: vmNetns, ifname: q };
  const peer: Endpoint = { netns: peerNetns, ifname: p };
  const peerMac = macOf(lab, peer);

  if (backend === 'af-xdp') {
    const netdev = afXdpNetdev('n0', q, opts.afXdpMode);
    return { backend, vmNetns, vmSide, peer, peerMac, netdev, netdevArg: formatNetdevArg(netdev), commandLines: lines };
  }
  if (backend === 'vhost-user' || backend === 'vhost-user-testpmd') {
    const dir = mkdtempSync(join(tmpdir().length < 60 ? tmpdir() : '/tmp', 'xl-vhost-'));
    lab.trackFile(dir);
    const socketPath = join(dir, 'vhost.sock');
    const netdev = vhostUserNetdev('n0');
    return { backend, vmNetns, vmSide, peer, peerMac, vhost: { socketPath, vmArgs: vhostUserVmArgs({ socketPath }) }, netdev, netdevArg: formatNetdevArg(netdev), commandLines: lines };
  }
  const tap = lab.name(`t${n}`);
  const bridge = lab.name(`b${n}`);
  ip(vmNetns, ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
  ip(vmNetns, ['link', 'add', bridge, 'type', 'bridge']);
  for (const ifname of [tap, q]) ip(vmNetns, ['link', 'set', ifname, 'master', bridge]);
  ip(vmNetns, ['link', 'set', tap, 'up']);
  ip(vmNetns, ['link', 'set', bridge, 'up']);
  const netdev = tapNetdev('n0', tap);
  return { backend, vmNetns, vmSide, peer, peerMac, tap, bridge, netdev, netdevArg: formatNetdevArg(netdev), commandLines: lines };
}
