// Each backend's topology: which VMs, the -netdev of each (built from the Netdev model, so that
// every string is validated before QEMU sees it), the lab resources around them (namespaces, taps,
// bridges, a vde_switch, veth pairs), and where iperf3's server and client run. The server is
// always in a guest (every backend reaches one); the client is on the host side (the host, or
// the lab namespace that holds the tap) or in a second VM for backends that join two VMs.
// A lone VM (the VMs page) is the first VM alone: a pair's listening side (stream server, ...).
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { LabError } from '../contracts/errors.js';
import type { Lab } from '../lab/lab.js';
import { formatNetdevArg, type Netdev } from './netdev.js';
import type { NicConfig } from './vm.js';
import type { VmBackendName } from './backends.js';
import { freeTcpPort, freeUdpPort } from '../lab/ports.js';
import type { AfXdpMode } from '../contracts/datapath.js';
import { startVhostBackend } from '../vhost/back-ends.js';
import { vhostUserNetdev, vhostUserVmArgs, VIRTIO_NO_OFFLOADS } from './vhost-user-nic.js';

/** A socket some VM must be listening on before the next one starts (socket connect=, stream client). */
export type Listener = { kind: 'tcp'; port: number } | { kind: 'unix'; path: string };

export interface VmSpec {
  name: string;
  nic: NicConfig;
  /** Further NICs after `nic` (eth1, eth2, ... in the guest), e.g. the PVP forwarder's second port. */
  extraNics?: NicConfig[];
  /** Netdevs besides the NIC's (hubport's user side), in command-line order. */
  extraNetdevs: string[];
  netns?: string;
  gateway?: string;
  /** Start this VM only once the listener exists (the VMs before it are already starting). */
  after?: Listener;
  kernelArgs?: string[];
  /** More QEMU arguments (shared guest memory and the chardev of a vhost-user NIC). */
  extraArgs?: string[];
}

export type ClientSide = { kind: 'host'; netns?: string; address: string; port: number } | { kind: 'guest'; vm: number; address: string; port: number };

export interface Topology {
  backend: VmBackendName;
  vms: VmSpec[];
  /** The guest that runs `iperf3 -s`, and the address it listens on in the guest. */
  server: { vm: number };
  /** Where the iperf3 client runs and the address and port it connects to. */
  client: ClientSide;
  /** The commands that built the lab around the VMs, for the report. */
  setupCommands: string[];
}

export interface TopologyEnv {
  /** The trial's lab: everything created here goes when it closes. */
  lab: Lab;
  /** A directory the lab removes: unix sockets, the vde switch. */
  dir: string;
  nicModel: string;
  /** VM names start with it (QEMU's -name, temp dirs). */
  namePrefix: string;
  /** The guest's iperf3 server port. */
  serverPort: number;
  /** Only the first VM: no peer VM (its iperf3 roles then name a VM that is not started). */
  lone?: boolean;
}

/** TEST-NET-1 for lab links: .1 the host side, .2 and .3 the guests. */
const NET = { host: '192.0.2.1', a: '192.0.2.2', b: '192.0.2.3', prefix: 24 } as const;
const SLIRP = { guest: '10.0.2.15', gateway: '10.0.2.2' } as const;

const nd = (n: Netdev): string => formatNetdevArg(n);

function nic(env: TopologyEnv, netdev: Netdev, ip: string): NicConfig {
  return { netdev: nd(netdev), ip, model: env.nicModel };
}

/** Runs `ip` through the lab and records the command. */
function ipCmd(env: Pick<TopologyEnv, 'lab'>, cmds: string[], netns: string | undefined, args: string[]): void {
  env.lab.ip(netns, args);
  cmds.push(`ip ${netns ? `-n ${netns} ` : ''}${args.join(' ')}`);
}

function namespace(env: Pick<TopologyEnv, 'lab'>, cmds: string[], suffix: string): string {
  const ns = env.lab.addNetns(suffix);
  cmds.push(`ip netns add ${ns}`, `ip -n ${ns} link set lo up`);
  return ns;
}

/** A persistent tap in the namespace (QEMU attaches to it with ifname=, script=no). */
function tapIn(env: Pick<TopologyEnv, 'lab'>, cmds: string[], ns: string, suffix: string): string {
  const tap = env.lab.name(suffix);
  ipCmd(env, cmds, ns, ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
  return tap;
}

const vmName = (env: Pick<TopologyEnv, 'namePrefix'>, role: string) => `${env.namePrefix}-${role}`;

/** host<->guest over a tap in a lab namespace; the host end (or a bridge) has the address. */
function tapTopology(env: TopologyEnv, backend: VmBackendName, cmds: string[], o: { bridge: boolean; vhost: boolean }): Topology {
  const ns = namespace(env, cmds, 'vm');
  const tap = tapIn(env, cmds, ns, 'tap');
  let hostIf = tap;
  if (o.bridge) {
    hostIf = env.lab.name('br');
    ipCmd(env, cmds, ns, ['link', 'add', hostIf, 'type', 'bridge']);
    ipCmd(env, cmds, ns, ['link', 'set', tap, 'master', hostIf]);
    ipCmd(env, cmds, ns, ['link', 'set', tap, 'up']);
  }
  ipCmd(env, cmds, ns, ['addr', 'add', `${NET.host}/${NET.prefix}`, 'dev', hostIf]);
  ipCmd(env, cmds, ns, ['link', 'set', hostIf, 'up']);
  const netdev: Netdev = { type: 'tap', id: 'n0', ifname: tap, script: 'no', downscript: 'no', ...(o.vhost ? { vhost: true } : {}) };
  return {
    backend, setupCommands: cmds,
    vms: [{ name: vmName(env, 'a'), nic: nic(env, netdev, `${NET.a}/${NET.prefix}`), extraNetdevs: [], netns: ns }],
    server: { vm: 0 },
    client: { kind: 'host', netns: ns, address: NET.a, port: env.serverPort },
  };
}

/** -netdev bridge: QEMU's helper creates the tap and adds it to the lab's bridge. */
function bridgeTopology(env: TopologyEnv, cmds: string[]): Topology {
  const ns = namespace(env, cmds, 'vm');
  const br = env.lab.name('br');
  ipCmd(env, cmds, ns, ['link', 'add', br, 'type', 'bridge']);
  ipCmd(env, cmds, ns, ['addr', 'add', `${NET.host}/${NET.prefix}`, 'dev', br]);
  ipCmd(env, cmds, ns, ['link', 'set', br, 'up']);
  return {
    backend: 'bridge', setupCommands: cmds,
    vms: [{ name: vmName(env, 'a'), nic: nic(env, { type: 'bridge', id: 'n0', br }, `${NET.a}/${NET.prefix}`), extraNetdevs: [], netns: ns }],
    server: { vm: 0 },
    client: { kind: 'host', netns: ns, address: NET.a, port: env.serverPort },
  };
}

/** Two VMs whose NICs are joined by the backend; A runs the client, B the server. */
function pairTopology(env: TopologyEnv, backend: VmBackendName, cmds: string[], a: Netdev, b: Netdev, after?: Listener): Topology {
  return {
    backend, setupCommands: cmds,
    vms: [
      { name: vmName(env, 'a'), nic: nic(env, a, `${NET.a}/${NET.prefix}`), extraNetdevs: [] },
      { name: vmName(env, 'b'), nic: nic(env, b, `${NET.b}/${NET.prefix}`), extraNetdevs: [], ...(after ? { after } : {}) },
    ],
    server: { vm: 1 },
    client: { kind: 'guest', vm: 0, address: NET.b, port: env.serverPort },
  };
}

/** The af-xdp netdev of a topology: built and validated here even where QEMU lacks the driver. */
export function afXdpNetdev(ifname: string): Netdev {
  return { type: 'af-xdp', id: 'n0', ifname, mode: 'skb', queues: 1 };
}

/** Creates the lab resources of a backend and returns its topology. */
export async function buildTopology(backend: VmBackendName, env: TopologyEnv): Promise<Topology> {
  const t = await wire(backend, env);
  return env.lone ? { ...t, vms: t.vms.slice(0, 1) } : t;
}

async function wire(backend: VmBackendName, env: TopologyEnv): Promise<Topology> {
  const cmds: string[] = [];
  switch (backend) {
    case 'user': {
      const port = await freeTcpPort();
      const netdev: Netdev = { type: 'user', id: 'n0', hostfwd: [`tcp:127.0.0.1:${port}-:${env.serverPort}`] };
      return {
        backend, setupCommands: cmds,
        vms: [{ name: vmName(env, 'a'), nic: nic(env, netdev, `${SLIRP.guest}/24`), extraNetdevs: [], gateway: SLIRP.gateway }],
        server: { vm: 0 },
        client: { kind: 'host', address: '127.0.0.1', port },
      };
    }
    case 'hubport': {
      // NIC -> hubport h0 -> hub 0 -> hubport h1 (netdev=u0) -> user u0: the hub carries every
      // frame between the guest and slirp, and hostfwd shows traffic went through it.
      const port = await freeTcpPort();
      const user: Netdev = { type: 'user', id: 'u0', hostfwd: [`tcp:127.0.0.1:${port}-:${env.serverPort}`] };
      const spec: VmSpec = {
        name: vmName(env, 'a'), nic: nic(env, { type: 'hubport', id: 'h0', hubid: 0 }, `${SLIRP.guest}/24`),
        extraNetdevs: [nd(user), nd({ type: 'hubport', id: 'h1', hubid: 0, netdev: 'u0' })], gateway: SLIRP.gateway,
      };
      return { backend, setupCommands: cmds, vms: [spec], server: { vm: 0 }, client: { kind: 'host', address: '127.0.0.1', port } };
    }
    case 'tap': return tapTopology(env, backend, cmds, { bridge: false, vhost: false });
    case 'tap-bridge': return tapTopology(env, backend, cmds, { bridge: true, vhost: false });
    case 'tap-vhost': return tapTopology(env, backend, cmds, { bridge: false, vhost: true });
    case 'bridge': return bridgeTopology(env, cmds);
    case 'socket': {
      const port = await freeTcpPort();
      return pairTopology(env, backend, cmds,
        { type: 'socket', id: 'n0', listen: `127.0.0.1:${port}` },
        { type: 'socket', id: 'n0', connect: `127.0.0.1:${port}` },
        { kind: 'tcp', port });
    }
    case 'stream-inet': {
      const port = await freeTcpPort();
      const addr = { type: 'inet' as const, host: '127.0.0.1', port: String(port) };
      return pairTopology(env, backend, cmds,
        { type: 'stream', id: 'n0', server: true, addr },
        { type: 'stream', id: 'n0', server: false, addr },
        { kind: 'tcp', port });
    }
    case 'stream-unix': {
      const path = join(env.dir, 'stream.sock');
      const addr = { type: 'unix' as const, path };
      return pairTopology(env, backend, cmds,
        { type: 'stream', id: 'n0', server: true, addr },
        { type: 'stream', id: 'n0', server: false, addr },
        { kind: 'unix', path });
    }
    case 'dgram-inet': {
      const [pa, pb] = [await freeUdpPort(), await freeUdpPort()];
      const inet = (port: number) => ({ type: 'inet' as const, host: '127.0.0.1', port: String(port) });
      return pairTopology(env, backend, cmds,
        { type: 'dgram', id: 'n0', local: inet(pa), remote: inet(pb) },
        { type: 'dgram', id: 'n0', local: inet(pb), remote: inet(pa) });
    }
    case 'dgram-unix': {
      const unix = (n: string) => ({ type: 'unix' as const, path: join(env.dir, `${n}.sock`) });
      return pairTopology(env, backend, cmds,
        { type: 'dgram', id: 'n0', local: unix('a'), remote: unix('b') },
        { type: 'dgram', id: 'n0', local: unix('b'), remote: unix('a') });
    }
    case 'l2tpv3': {
      const [pa, pb] = [await freeUdpPort(), await freeUdpPort()];
      const side = (src: number, dst: number, tx: number, rx: number): Netdev => ({
        type: 'l2tpv3', id: 'n0', src: '127.0.0.1', dst: '127.0.0.1', udp: true, srcport: String(src), dstport: String(dst), txsession: tx, rxsession: rx,
      });
      return pairTopology(env, backend, cmds, side(pa, pb, 1, 2), side(pb, pa, 2, 1));
    }
    case 'vde': {
      const sock = join(env.dir, 'vde');
      // vde_switch runs until its stdin closes: a pipe the lab's kill closes with it.
      env.lab.spawn(undefined, 'vde_switch', ['-s', sock], { stdio: ['pipe', 'ignore', 'ignore'] });
      cmds.push(`vde_switch -s ${sock}`);
      await waitFor(() => existsSync(join(sock, 'ctl')), 5000, `vde_switch did not create ${sock}/ctl within 5 s`);
      return pairTopology(env, backend, cmds, { type: 'vde', id: 'n0', sock }, { type: 'vde', id: 'n0', sock });
    }
    case 'af-xdp': {
      // QEMU (in namespace vm) owns one veth end through AF_XDP; the other end, in namespace
      // peer, has the address and runs the client. AF_XDP has no checksum or segmentation
      // offload, so the peer sends complete frames (offloads off), as the lab recipes found.
      const vmNs = namespace(env, cmds, 'vm');
      const peerNs = namespace(env, cmds, 'peer');
      const [xdpIf, peerIf] = env.lab.addVethPair({ netns: vmNs, suffix: 'vx' }, { netns: peerNs, suffix: 'vp' });
      cmds.push(`ip link add ${xdpIf} netns ${vmNs} type veth peer name ${peerIf} netns ${peerNs}`);
      env.lab.disableOffloads(peerNs, peerIf);
      cmds.push(`ip netns exec ${peerNs} ethtool -K ${peerIf} tx off rx off tso off gso off gro off`);
      ipCmd(env, cmds, peerNs, ['addr', 'add', `${NET.host}/${NET.prefix}`, 'dev', peerIf]);
      // An XDP program QEMU might leave on xdpIf goes with the veth pair when the lab deletes
      // the namespaces.
      return {
        backend, setupCommands: cmds,
        vms: [{ name: vmName(env, 'a'), nic: nic(env, afXdpNetdev(xdpIf), `${NET.a}/${NET.prefix}`), extraNetdevs: [], netns: vmNs }],
        server: { vm: 0 },
        client: { kind: 'host', netns: peerNs, address: NET.a, port: env.serverPort },
      };
    }
    case 'vhost-user': case 'vhost-user-testpmd': {
      // The vhost-user back end (xdplab vhost serve, or testpmd's vhost + AF_XDP PMDs as the
      // reference; in namespace vm) bridges the guest's virtio-net queues to one veth end
      // through AF_XDP; the other end, in namespace peer, has the address and runs the client
      // (offloads off: AF_XDP has none).
      const vmNs = namespace(env, cmds, 'vm');
      const peerNs = namespace(env, cmds, 'peer');
      const [xdpIf, peerIf] = env.lab.addVethPair({ netns: vmNs, suffix: 'vx' }, { netns: peerNs, suffix: 'vp' });
      cmds.push(`ip link add ${xdpIf} netns ${vmNs} type veth peer name ${peerIf} netns ${peerNs}`);
      env.lab.disableOffloads(peerNs, peerIf);
      cmds.push(`ip netns exec ${peerNs} ethtool -K ${peerIf} tx off rx off tso off gso off gro off`);
      ipCmd(env, cmds, peerNs, ['addr', 'add', `${NET.host}/${NET.prefix}`, 'dev', peerIf]);
      ipCmd(env, cmds, vmNs, ['link', 'set', xdpIf, 'up']);
      const socketPath = join(env.dir, 'vhost.sock');
      const backendProcess = await startVhostBackend(backend, env.lab, { socketPath, netns: vmNs, ifname: xdpIf });
      cmds.push(backendProcess.commandLine);
      return {
        backend, setupCommands: cmds,
        vms: [{ name: vmName(env, 'a'), nic: { ...nic(env, vhostUserNetdev('n0'), `${NET.a}/${NET.prefix}`), ...(env.nicModel.startsWith('virtio-net') ? { deviceProps: VIRTIO_NO_OFFLOADS } : {}) }, extraNetdevs: [], netns: vmNs, extraArgs: vhostUserVmArgs({ socketPath }) }],
        server: { vm: 0 },
        client: { kind: 'host', netns: peerNs, address: NET.a, port: env.serverPort },
      };
    }
    case 'vhost-vdpa': case 'netmap':
      throw new LabError({ code: 'ENOTOOL', message: `${backend}: xdplab has no topology for this backend yet` });
  }
}

export async function waitFor(ok: () => boolean, timeoutMs: number, message: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new LabError({ code: 'ETIMEDOUT', message });
    await new Promise((r) => setTimeout(r, 25));
  }
}

// ---- PVP: one VM with two NICs on the backend under test, forwarding between them --------------
//
//   generator -> host end G -> backend -> guest eth0 -> forwarder (guest/forwarder.ts) -> guest eth1
//             -> backend -> host end R -> receiver
//
// G and R are network interfaces on the host side where xdplab's AF_XDP ports sit: only backends
// whose NIC has such a host end can be the path. Everything is built in lab namespaces; the lab
// removes them (with the taps, bridges and veths inside) when the path is taken down, or on close,
// SIGINT and crash recovery.

/** A host end of the path: where an AF_XDP port opens (its namespace, its interface). */
export interface HostEnd { netns?: string; ifname: string }

export interface PvpTopology {
  backend: PvpBackend;
  /** The forwarding VM: `nic` is eth0 (from G), extraNics[0] is eth1 (to R). No addresses. */
  vm: VmSpec;
  /** Where the generator sends, and where the receiver counts. */
  gen: HostEnd;
  recv: HostEnd;
  /** The AF_XDP attach mode the host ends take: skb on taps, native on veth ends. */
  hostEndMode: AfXdpMode;
  /** Namespaces built for the path, in creation order (removing them removes every link in them). */
  namespaces: string[];
  /** The commands that built it, as typed by hand, for the report. */
  setupCommands: string[];
}

export type PvpEnv = Pick<TopologyEnv, 'lab' | 'nicModel' | 'namePrefix'>;

/** Backends with a host end for both NICs: the PVP path runs over these. */
export const PVP_BACKENDS = ['tap', 'tap-vhost', 'tap-bridge', 'af-xdp'] as const satisfies readonly VmBackendName[];
export type PvpBackend = (typeof PVP_BACKENDS)[number];

const SOCKET_PEER = 'the NIC\'s frames go over a socket to another QEMU, with no network interface on the host for an AF_XDP port to open';

/** Why each other backend cannot be a PVP path (here). */
export const PVP_NOT_AVAILABLE: Record<Exclude<VmBackendName, PvpBackend>, string> = {
  user: 'slirp ends the guest\'s Ethernet inside QEMU (its own TCP/IP stack): there is no host interface for the generator or the receiver, only sockets',
  hubport: 'a QEMU hub joins netdevs inside QEMU; in xdplab\'s wiring its other port is slirp (user), which has no host interface',
  socket: SOCKET_PEER,
  'stream-unix': SOCKET_PEER,
  'stream-inet': SOCKET_PEER,
  'dgram-unix': SOCKET_PEER,
  'dgram-inet': SOCKET_PEER,
  l2tpv3: `L2TPv3 encapsulates the frames in UDP between QEMUs: ${SOCKET_PEER}`,
  vde: 'the frames stay in a vde_switch (userspace); a host end would need vde_plug2tap, which xdplab does not wire',
  bridge: '-netdev bridge runs qemu-bridge-helper, which needs an ACL for the lab\'s bridges in /etc/qemu/bridge.conf; tap-bridge is the same path with the lab creating the tap (use it)',
  'vhost-user-testpmd': 'the reference back end (testpmd) serves one NIC here; PVP over vhost-user is not wired yet (see vhost-user)',
  'vhost-user': 'the guest\'s NICs end in a userspace back end, not a kernel interface; PVP would need one xdplab vhost serve per NIC, each on a veth for the generator and the receiver, which is not wired yet',
  'vhost-vdpa': 'needs a vDPA device (/dev/vhost-vdpa-N); xdplab has no wiring for it',
  netmap: 'needs a netmap VALE switch (QEMU built with netmap); xdplab has no wiring for it',
};

export function isPvpBackend(b: string): b is PvpBackend {
  return (PVP_BACKENDS as readonly string[]).includes(b);
}

/** undefined when `backend` can be a PVP path, else "not available: <why>". */
export function pvpUnavailable(backend: VmBackendName): string | undefined {
  return isPvpBackend(backend) ? undefined : `not available: ${PVP_NOT_AVAILABLE[backend]}`;
}

let pvpSeq = 0;

/**
 * Creates the host side of a PVP path in the lab and returns it. Throws a LabError saying
 * "not available: ..." for a backend without host ends. On failure it removes what it created.
 */
export function buildPvpTopology(backend: VmBackendName, env: PvpEnv): PvpTopology {
  const why = pvpUnavailable(backend);
  if (why || !isPvpBackend(backend)) throw new LabError({ code: 'ENOTAVAILABLE', field: 'backend', message: `PVP over ${backend}: ${why ?? 'not available'}`, hint: `PVP runs over ${PVP_BACKENDS.join(', ')}` });
  const n = String(pvpSeq++ % 100);
  const cmds: string[] = [];
  const namespaces: string[] = [];
  const ns = (suffix: string) => {
    const name = namespace(env, cmds, `${suffix}${n}`);
    namespaces.push(name);
    // No IPv6: the host ends' neighbour discovery and MLD frames would go through the guest
    // and be counted with the generator's.
    env.lab.exec(name, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    cmds.push(`ip netns exec ${name} sysctl -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1`);
    return name;
  };
  const e = env;
  const offloadsOff = (netns: string, ifname: string) => {
    env.lab.disableOffloads(netns, ifname);
    cmds.push(`ip netns exec ${netns} ethtool -K ${ifname} tx off rx off tso off gso off gro off`);
  };
  try {
    const vmNs = ns('pv');
    const netdevs: Netdev[] = [];
    const ends: HostEnd[] = [];
    if (backend === 'af-xdp') {
      // QEMU's af-xdp netdevs on one end of each veth pair (namespace pv), the AF_XDP ports of
      // xdplab on the other ends (namespace pp): one socket per veth end, as AF_XDP allows.
      const peerNs = ns('pp');
      ['g', 'r'].forEach((side, i) => {
        const [xdpIf, peerIf] = env.lab.addVethPair({ netns: vmNs, suffix: `x${side}${n}` }, { netns: peerNs, suffix: `p${side}${n}` });
        cmds.push(`ip link add ${xdpIf} netns ${vmNs} type veth peer name ${peerIf} netns ${peerNs}`);
        offloadsOff(vmNs, xdpIf);
        offloadsOff(peerNs, peerIf);
        netdevs.push({ ...afXdpNetdev(xdpIf), id: `n${i}` });
        ends.push({ netns: peerNs, ifname: peerIf });
      });
    } else if (backend === 'tap-bridge') {
      // Each tap on a bridge of its own with one end of a veth pair; the AF_XDP ports sit on the
      // veth's other ends (namespace pp), where native mode works (veth has native XDP).
      const peerNs = ns('pp');
      ['g', 'r'].forEach((side, i) => {
        const tap = tapIn(e, cmds, vmNs, `t${side}${n}`);
        const br = env.lab.name(`b${side}${n}`);
        const [q, p] = env.lab.addVethPair({ netns: vmNs, suffix: `q${side}${n}` }, { netns: peerNs, suffix: `p${side}${n}` });
        cmds.push(`ip link add ${q} netns ${vmNs} type veth peer name ${p} netns ${peerNs}`);
        offloadsOff(vmNs, q);
        offloadsOff(peerNs, p);
        ipCmd(e, cmds, vmNs, ['link', 'add', br, 'type', 'bridge']);
        for (const ifname of [tap, q]) ipCmd(e, cmds, vmNs, ['link', 'set', ifname, 'master', br]);
        ipCmd(e, cmds, vmNs, ['link', 'set', tap, 'up']);
        ipCmd(e, cmds, vmNs, ['link', 'set', br, 'up']);
        netdevs.push(pvpTapNetdev(`n${i}`, tap, false));
        ends.push({ netns: peerNs, ifname: p });
      });
    } else {
      // tap, tap-vhost: the AF_XDP ports open the taps themselves (generic XDP, skb mode: a
      // tap's native XDP runs only on frames QEMU writes, and AF_XDP's native tx needs driver
      // support tun lacks).
      ['g', 'r'].forEach((side, i) => {
        const tap = tapIn(e, cmds, vmNs, `t${side}${n}`);
        ipCmd(e, cmds, vmNs, ['link', 'set', tap, 'up']);
        netdevs.push(pvpTapNetdev(`n${i}`, tap, backend === 'tap-vhost'));
        ends.push({ netns: vmNs, ifname: tap });
      });
    }
    const [g, r] = netdevs as [Netdev, Netdev];
    return {
      backend,
      vm: {
        name: vmName(e, 'pvp'), netns: vmNs, extraNetdevs: [],
        nic: { netdev: nd(g), model: env.nicModel },
        extraNics: [{ netdev: nd(r), model: env.nicModel }],
        // No IPv6 in the guest: its router solicitations and MLD reports would go out of both NICs.
        kernelArgs: ['ipv6.disable=1'],
      },
      gen: ends[0]!, recv: ends[1]!, hostEndMode: backend === 'tap' || backend === 'tap-vhost' ? 'skb' : 'native', namespaces, setupCommands: cmds,
    };
  } catch (err) {
    for (const name of [...namespaces].reverse()) { try { env.lab.removeNetns(name); } catch { /* the lab's close removes it */ } }
    throw err;
  }
}

/** A tap the lab created; vnet_hdr off: nothing to offload between a guest and AF_XDP. */
function pvpTapNetdev(id: string, ifname: string, vhost: boolean): Netdev {
  return { type: 'tap', id, ifname, script: 'no', downscript: 'no', vnet_hdr: false, ...(vhost ? { vhost: true } : {}) };
}
