// The Netdev union of QEMU's qapi/net.json, one declaration per driver: its members (names,
// QAPI types, ranges, doc comments) and the rules QEMU enforces beyond the types, in QEMU's
// order and with QEMU's words (net/slirp.c, tap.c, socket.c, stream.c, dgram.c, l2tpv3.c,
// vhost-user.c, vhost-vdpa.c, af-xdp.c, vmnet-*.c). Everything else is derived from this file.
import { z } from 'zod';
import { NetdevAFXDPOptionsSchema } from '../../../native/index.js';
import { IDENTIFIER_RULE, hostAndPortProblem, hostPortProblem, inetAton, inetPton6, isIdentifier, isIpv4Multicast, ipv4ToString, leadingCInteger, numericHost, sameIpv6Prefix, unixPathProblem } from './addr.js';
import { bool, documented, integer, str, stringList, type Integer } from './fields.js';
import { SocketAddressSchema, type SocketAddress } from './socket-address.js';

/** A broken rule: the member it is about, QEMU's message, and what to do. */
export interface Problem { field: string; message: string; hint?: string }
export type Rule<O> = (o: O) => Problem | undefined;

export interface DriverDef<S extends z.ZodObject = z.ZodObject> {
  /** The NetClientDriver name (the -netdev type). */
  type: string;
  /** The QAPI struct of its options. */
  struct: string;
  description: string;
  since: string;
  /** The schema's 'if': present only in QEMU built with this. */
  condition?: string;
  /** How QEMU's -netdev parses this type: QemuOpts ("legacy") or keyval with dotted keys. */
  syntax: 'opts' | 'keyval';
  /** What a QEMU build needs for this driver, as in "built without <requires>". */
  requires: string;
  options: S;
  rules: Rule<z.infer<S>>[];
}

function driver<S extends z.ZodObject>(d: DriverDef<S>): DriverDef<S> {
  return d;
}

const num = (v: Integer | undefined): number | undefined => (v === undefined ? undefined : Number(v));
const present = (o: object, keys: string[]): string[] => keys.filter((k) => (o as Record<string, unknown>)[k] !== undefined);
const IFNAMSIZ = 16;

function ifnameProblem(field: string, name: string | undefined): Problem | undefined {
  if (name === undefined || Buffer.byteLength(name) < IFNAMSIZ) return undefined;
  return { field, message: `'${name}' is longer than ${IFNAMSIZ - 1} characters (IFNAMSIZ); the kernel would truncate it`, hint: 'use an interface name of at most 15 characters' };
}

/** monitor_fd_param(): a number, or the name of an fd passed with getfd. */
function fdProblem(field: string, value: string | undefined): Problem | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value) || isIdentifier(value)) return undefined;
  return { field, message: `'${value}' is neither a file descriptor number nor the name of one passed with getfd (${IDENTIFIER_RULE})` };
}

function fdListProblem(field: string, value: string | undefined): Problem | undefined {
  if (value === undefined) return undefined;
  for (const part of value.split(':')) {
    if (part === '') return { field, message: `'${value}' has an empty entry; expected fds separated by ':' (3:4:5)` };
    const p = fdProblem(field, part);
    if (p) return p;
  }
  return undefined;
}

// ---- user (net/slirp.c) ---------------------------------------------------------------------

const HOSTFWD_FORMAT = 'hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport, or unix:/absolute/path-[guestaddr]:guestport';
const GUESTFWD_FORMAT = 'guestfwd=[tcp]:[server]:port-dev or [tcp]:[server]:port-cmd:command';

/** get_str_sep(): the text before `sep` and the rest after it, or undefined without `sep`. */
function splitAt(s: string, sep: string): [string, string] | undefined {
  const i = s.indexOf(sep);
  return i < 0 ? undefined : [s.slice(0, i), s.slice(i + 1)];
}

/** slirp_hostfwd()'s syntax checks; returns QEMU's fail_reason. */
export function hostfwdProblem(rule: string): string | undefined {
  let p = rule;
  const proto = splitAt(p, ':');
  if (!proto) return 'No : separators';
  p = proto[1];
  if (!['', 'tcp', 'udp', 'unix'].includes(proto[0])) return 'Bad protocol name';
  if (proto[0] === 'unix') {
    // QEMU built against libslirp >= 4.7 only; others answer 'Bad protocol name'.
    const path = splitAt(p, '-');
    if (!path) return 'Missing - separator';
    if (path[0] === '') return 'Missing unix socket path';
    if (!path[0].startsWith('/')) return 'unix socket path must be absolute';
    if (Buffer.byteLength(path[0]) > 107) return 'Unix socket path is too long';
    p = path[1];
  } else {
    const host = splitAt(p, ':');
    if (!host) return 'Missing : separator';
    if (host[0] !== '' && inetAton(host[0]) === undefined) return 'Bad host address';
    const port = splitAt(host[1], '-');
    if (!port) return 'Bad host port separator';
    const hostPort = leadingCInteger(port[0]);
    if (hostPort === undefined || hostPort < 0 || hostPort > 65535) return 'Bad host port';
    p = port[1];
  }
  const guest = splitAt(p, ':');
  if (!guest) return 'Missing guest address';
  if (guest[0] !== '' && inetAton(guest[0]) === undefined) return 'Bad guest address';
  const guestPort = leadingCInteger(guest[1]);
  if (guestPort === undefined || guestPort < 1 || guestPort > 65535) return 'Bad guest port';
  return undefined;
}

/** slirp_guestfwd()'s syntax checks: true when QEMU would accept the rule's syntax. */
export function guestfwdOk(rule: string): boolean {
  const proto = splitAt(rule, ':');
  if (!proto || (proto[0] !== '' && proto[0] !== 'tcp')) return false;
  const server = splitAt(proto[1], ':');
  if (!server || (server[0] !== '' && inetAton(server[0]) === undefined)) return false;
  const port = splitAt(server[1], '-');
  if (!port || !/^\s*[+-]?\d+$/.test(port[0])) return false; // strtol(buf, &end, 10) with nothing after
  const n = Number(port[0]);
  // An empty device makes QEMU fail to open it ("Could not open guest forwarding device").
  return n >= 1 && n <= 65535 && port[1] !== '';
}

const UserOptions = z.object({
  hostname: str('client hostname reported by the builtin DHCP server').optional(),
  restrict: bool('isolate the guest from the host').optional(),
  ipv4: bool('whether to support IPv4, default true for enabled', { since: '2.6' }).optional(),
  ipv6: bool('whether to support IPv6, default true for enabled', { since: '2.6' }).optional(),
  ip: str('legacy parameter, use net= instead').optional(),
  net: str('IP network address that the guest will see, in the form addr[/netmask] The netmask is optional, and can be either in the form a.b.c.d or as a number of valid top-most bits. Default is 10.0.2.0/24.').optional(),
  host: str('guest-visible address of the host').optional(),
  tftp: str('root directory of the built-in TFTP server').optional(),
  bootfile: str('BOOTP filename, for use with tftp=').optional(),
  dhcpstart: str('the first of the 16 IPs the built-in DHCP server can assign').optional(),
  dns: str('guest-visible address of the virtual nameserver').optional(),
  dnssearch: stringList('list of DNS suffixes to search, passed as DHCP option to the guest').optional(),
  domainname: str('guest-visible domain name of the virtual nameserver', { since: '3.0' }).optional(),
  'ipv6-prefix': str('IPv6 network prefix (default is fec0::). The network prefix is given in the usual hexadecimal IPv6 address notation.', { since: '2.6', default: 'fec0::' }).optional(),
  'ipv6-prefixlen': integer('int', 'IPv6 network prefix length (default is 64)', { since: '2.6', default: '64' }).optional(),
  'ipv6-host': str('guest-visible IPv6 address of the host', { since: '2.6' }).optional(),
  'ipv6-dns': str('guest-visible IPv6 address of the virtual nameserver', { since: '2.6' }).optional(),
  smb: str('root directory of the built-in SMB server').optional(),
  smbserver: str('IP address of the built-in SMB server').optional(),
  hostfwd: stringList('redirect incoming TCP or UDP host connections to guest endpoints').optional(),
  guestfwd: stringList('forward guest TCP connections').optional(),
  'tftp-server-name': str('RFC2132 "TFTP server name" string', { since: '3.1' }).optional(),
}).strict();

type UserOpts = z.infer<typeof UserOptions>;

/** net_slirp_init(): the network, its mask and the addresses derived from it, or a problem. */
function userAddressProblem(o: UserOpts): Problem | undefined {
  // net_init_slirp: ipv6=on alone turns IPv4 off, and ipv4=on alone turns IPv6 off.
  const ipv4 = !((o.ipv6 === true && o.ipv4 === undefined) || o.ipv4 === false);
  const ipv6 = !((o.ipv4 === true && o.ipv6 === undefined) || o.ipv6 === false);
  const vnetField = o.net !== undefined ? 'net' : 'ip';
  const vnet = o.net ?? (o.ip !== undefined ? `${o.ip}/24` : undefined);
  if (!ipv4 && (vnet !== undefined || o.host !== undefined || o.dns !== undefined)) {
    return { field: present(o, ['net', 'ip', 'host', 'dns'])[0]!, message: 'IPv4 disabled but netmask/host/dns provided', hint: o.ipv4 === undefined ? 'ipv6=on without ipv4= turns IPv4 off; add ipv4=on' : 'drop the IPv4 options or set ipv4=on' };
  }
  if (!ipv6 && (o['ipv6-prefix'] !== undefined || o['ipv6-host'] !== undefined || o['ipv6-dns'] !== undefined)) {
    return { field: present(o, ['ipv6-prefix', 'ipv6-host', 'ipv6-dns'])[0]!, message: 'IPv6 disabled but prefix/host6/dns6 provided', hint: o.ipv6 === undefined ? 'ipv4=on without ipv6= turns IPv6 off; add ipv6=on' : 'drop the IPv6 options or set ipv6=on' };
  }
  if (!ipv4 && !ipv6) return { field: 'ipv4', message: 'IPv4 and IPv6 disabled', hint: 'enable at least one of ipv4 and ipv6' };

  let net = 0x0a000200;
  let mask = 0xffffff00;
  let host = 0x0a000202;
  let dhcp = 0x0a00020f;
  let dns = 0x0a000203;
  if (vnet !== undefined) {
    const slash = vnet.indexOf('/');
    if (slash < 0) {
      const a = inetAton(vnet);
      if (a === undefined) return { field: vnetField, message: 'Failed to parse netmask', hint: 'expected addr[/netmask], e.g. 10.0.2.0/24' };
      net = a;
      if (a < 0x80000000) mask = 0xff000000;
      else if ((a & 0xfff00000) >>> 0 === 0xac100000) mask = 0xfff00000;
      else if ((a & 0xc0000000) >>> 0 === 0x80000000) mask = 0xffff0000;
      else if ((a & 0xffff0000) >>> 0 === 0xc0a80000) mask = 0xffff0000;
      else if ((a & 0xffff0000) >>> 0 === 0xc6120000) mask = 0xfffe0000;
      else if ((a & 0xe0000000) >>> 0 === 0xe0000000) mask = 0xffffff00;
      else mask = 0xfffffff0;
    } else {
      const a = inetAton(vnet.slice(0, slash));
      if (a === undefined) return { field: vnetField, message: 'Failed to parse netmask', hint: 'expected addr[/netmask], e.g. 10.0.2.0/24' };
      net = a;
      const m = vnet.slice(slash + 1);
      // strtol(mask, &end, 10): a number that ends the string, else a dotted mask.
      const bits = /^\s*[+-]?\d+/.exec(m)?.[0] ?? '';
      if (bits.length !== m.length) {
        const dotted = inetAton(m);
        if (dotted === undefined) return { field: vnetField, message: 'Failed to parse netmask (trailing chars)', hint: 'the netmask is a number of bits (4 to 32) or dotted (255.255.255.0)' };
        mask = dotted;
      } else {
        const shift = bits === '' ? 0 : Number(bits);
        if (shift < 4 || shift > 32) return { field: vnetField, message: 'Invalid netmask provided (must be in range 4-32)' };
        mask = shift === 32 ? 0xffffffff : (0xffffffff - (2 ** (32 - shift) - 1));
      }
    }
    net = (net & mask) >>> 0;
    host = (net | (0x0202 & ~mask)) >>> 0;
    dhcp = (net | (0x020f & ~mask)) >>> 0;
    dns = (net | (0x0203 & ~mask)) >>> 0;
  }
  const inNet = (a: number) => ((a & mask) >>> 0) === net;
  const netText = `${ipv4ToString(net)}/${ipv4ToString(mask)}`;
  if (o.host !== undefined) {
    const a = inetAton(o.host);
    if (a === undefined) return { field: 'host', message: 'Failed to parse host' };
    host = a;
  }
  if (!inNet(host)) return { field: 'host', message: "Host doesn't belong to network", hint: `the network is ${netText}` };
  if (o.dns !== undefined) {
    const a = inetAton(o.dns);
    if (a === undefined) return { field: 'dns', message: 'Failed to parse DNS' };
    dns = a;
  }
  if (o.restrict && !inNet(dns)) return { field: 'dns', message: "DNS doesn't belong to network", hint: `with restrict=on the DNS address must be in ${netText}` };
  if (dns === host) return { field: 'dns', message: 'DNS must be different from host', hint: `host is ${ipv4ToString(host)}` };
  if (o.dhcpstart !== undefined) {
    const a = inetAton(o.dhcpstart);
    if (a === undefined) return { field: 'dhcpstart', message: 'Failed to parse DHCP start address' };
    dhcp = a;
  }
  if (!inNet(dhcp)) return { field: 'dhcpstart', message: "DHCP doesn't belong to network", hint: `the network is ${netText}` };
  if (dhcp === host || dhcp === dns) return { field: 'dhcpstart', message: 'DHCP must be different from host and DNS', hint: `host is ${ipv4ToString(host)}, DNS ${ipv4ToString(dns)}` };
  if (o.smbserver !== undefined && inetAton(o.smbserver) === undefined) return { field: 'smbserver', message: 'Failed to parse SMB address' };

  const prefix = inetPton6(o['ipv6-prefix'] ?? 'fec0::');
  if (!prefix) return { field: 'ipv6-prefix', message: 'Failed to parse IPv6 prefix' };
  let prefixLen = num(o['ipv6-prefixlen']) ?? 0;
  if (prefixLen === 0) prefixLen = 64;
  if (prefixLen < 0 || prefixLen > 126) return { field: 'ipv6-prefixlen', message: 'Invalid IPv6 prefix provided (IPv6 prefix length must be between 0 and 126)' };
  if (o['ipv6-host'] !== undefined) {
    const a = inetPton6(o['ipv6-host']);
    if (!a) return { field: 'ipv6-host', message: 'Failed to parse IPv6 host' };
    if (!sameIpv6Prefix(prefix, a, prefixLen)) return { field: 'ipv6-host', message: "IPv6 Host doesn't belong to network", hint: `the prefix is ${o['ipv6-prefix'] ?? 'fec0::'}/${prefixLen}` };
  }
  if (o['ipv6-dns'] !== undefined) {
    const a = inetPton6(o['ipv6-dns']);
    if (!a) return { field: 'ipv6-dns', message: 'Failed to parse IPv6 DNS' };
    if (o.restrict && !sameIpv6Prefix(prefix, a, prefixLen)) return { field: 'ipv6-dns', message: "IPv6 DNS doesn't belong to network", hint: `the prefix is ${o['ipv6-prefix'] ?? 'fec0::'}/${prefixLen}` };
  }
  return undefined;
}

const userRules: Rule<UserOpts>[] = [
  userAddressProblem,
  (o) => (o.domainname === '' ? { field: 'domainname', message: "'domainname' parameter cannot be empty" } : undefined),
  (o) => (o.domainname !== undefined && Buffer.byteLength(o.domainname) > 255 ? { field: 'domainname', message: "'domainname' parameter cannot exceed 255 bytes" } : undefined),
  (o) => (o.hostname !== undefined && Buffer.byteLength(o.hostname) > 255 ? { field: 'hostname', message: "'vhostname' parameter cannot exceed 255 bytes" } : undefined),
  (o) => (o['tftp-server-name'] !== undefined && Buffer.byteLength(o['tftp-server-name']) > 255 ? { field: 'tftp-server-name', message: "'tftp-server-name' parameter cannot exceed 255 bytes" } : undefined),
  // QEMU prepends each rule to one list, so it sets them up guestfwd last-to-first, then
  // hostfwd last-to-first: the first failure it reports is the one we report.
  (o) => {
    for (const rule of [...(o.guestfwd ?? [])].reverse()) {
      if (!guestfwdOk(rule)) return { field: 'guestfwd', message: `Invalid guest forwarding rule '${rule}'`, hint: `expected ${GUESTFWD_FORMAT}` };
    }
    for (const rule of [...(o.hostfwd ?? [])].reverse()) {
      const why = hostfwdProblem(rule);
      if (why) return { field: 'hostfwd', message: `Invalid host forwarding rule '${rule}' (${why})`, hint: `expected ${HOSTFWD_FORMAT}` };
    }
    return undefined;
  },
];

// ---- tap and bridge (net/tap.c) -------------------------------------------------------------

const TapOptions = z.object({
  ifname: str('interface name').optional(),
  fd: str('file descriptor of an already opened tap').optional(),
  fds: str('multiple file descriptors of already opened multiqueue capable tap').optional(),
  script: str('script to initialize the interface').optional(),
  downscript: str('script to shut down the interface').optional(),
  br: str('bridge name', { since: '2.8' }).optional(),
  helper: str('command to execute to configure bridge').optional(),
  sndbuf: integer('size', 'send buffer limit. Understands [TGMKkb] suffixes.').optional(),
  vnet_hdr: bool('enable the IFF_VNET_HDR flag on the tap interface').optional(),
  vhost: bool('enable vhost-net network accelerator').optional(),
  vhostfd: str('file descriptor of an already opened vhost net device').optional(),
  vhostfds: str('file descriptors of multiple already opened vhost net devices').optional(),
  vhostforce: bool('vhost on for non-MSIX virtio guests').optional(),
  queues: integer('uint32', 'number of queues to be created for multiqueue capable tap').optional(),
  'poll-us': integer('uint32', 'maximum number of microseconds that could be spent on busy polling for tap', { since: '2.7' }).optional(),
}).strict();

type TapOpts = z.infer<typeof TapOptions>;
const MAX_TAP_QUEUES = 1024;

function conflicts(o: TapOpts, keys: (keyof TapOpts)[], message: string, hint: string): Problem | undefined {
  const given = present(o, keys as string[]);
  return given.length ? { field: given[0]!, message, hint } : undefined;
}

const tapRules: Rule<TapOpts>[] = [
  (o) => (o.fd === undefined ? undefined : conflicts(o, ['ifname', 'script', 'downscript', 'vnet_hdr', 'helper', 'queues', 'fds', 'vhostfds'],
    'ifname=, script=, downscript=, vnet_hdr=, helper=, queues=, fds=, and vhostfds= are invalid with fd=',
    'with fd= QEMU uses the tap as it is: configure it before passing it')),
  (o) => (o.fd !== undefined || o.fds === undefined ? undefined : conflicts(o, ['ifname', 'script', 'downscript', 'vnet_hdr', 'helper', 'queues', 'vhostfd'],
    'ifname=, script=, downscript=, vnet_hdr=, helper=, queues=, and vhostfd= are invalid with fds=',
    'with fds= the number of fds is the number of queues; pass vhost fds in vhostfds=')),
  (o) => {
    if (o.fd !== undefined || o.fds === undefined || o.vhostfds === undefined) return undefined;
    const nfds = o.fds.split(':').length;
    const nvhost = o.vhostfds.split(':').length;
    return nfds === nvhost ? undefined : { field: 'vhostfds', message: 'The number of fds passed does not match the number of vhostfds passed', hint: `fds= has ${nfds}, vhostfds= has ${nvhost}` };
  },
  (o) => (o.fd !== undefined || o.fds !== undefined || o.helper === undefined ? undefined : conflicts(o, ['ifname', 'script', 'downscript', 'vnet_hdr', 'queues', 'vhostfds'],
    'ifname=, script=, downscript=, vnet_hdr=, queues=, and vhostfds= are invalid with helper=',
    'the helper creates the tap and adds it to br= (default br0)')),
  (o) => (o.fd === undefined && o.fds === undefined && o.helper === undefined && o.vhostfds !== undefined
    ? { field: 'vhostfds', message: "vhostfds= is invalid if fds= wasn't specified", hint: 'use vhostfd= for a single queue' } : undefined),
  (o) => {
    const q = num(o.queues);
    if (q === undefined || (q >= 1 && q <= MAX_TAP_QUEUES)) return undefined;
    // QEMU 10.0 aborts (assertion in net_client_init1) on queues=0 instead of refusing it.
    return { field: 'queues', message: `must be 1 to ${MAX_TAP_QUEUES}, got ${q}`, hint: 'queues is the number of tap queues (IFF_MULTI_QUEUE); 1 for a single queue' };
  },
  (o) => (o.vhost === false && (o.vhostfd !== undefined || o.vhostfds !== undefined)
    ? { field: o.vhostfd !== undefined ? 'vhostfd' : 'vhostfds', message: 'vhostfd(s)= is not valid without vhost', hint: 'drop vhost=off or the vhost fds' } : undefined),
  (o) => ifnameProblem('ifname', o.ifname),
  (o) => ifnameProblem('br', o.br),
  (o) => fdProblem('fd', o.fd),
  (o) => fdListProblem('fds', o.fds),
  (o) => fdProblem('vhostfd', o.vhostfd),
  (o) => fdListProblem('vhostfds', o.vhostfds),
];

const BridgeOptions = z.object({
  br: str('bridge name', { default: 'br0' }).optional(),
  helper: str('command to execute to configure bridge', { default: '/usr/lib/qemu/qemu-bridge-helper (the build\'s libexecdir)' }).optional(),
}).strict();

// ---- socket (net/socket.c) ------------------------------------------------------------------

const SocketOptions = z.object({
  fd: str('file descriptor of an already opened socket').optional(),
  listen: str('port number, and optional hostname, to listen on').optional(),
  connect: str('port number, and optional hostname, to connect to').optional(),
  mcast: str('UDP multicast address and port number').optional(),
  localaddr: str('source address and port for multicast and udp packets').optional(),
  udp: str('UDP unicast address and port number').optional(),
}).strict();

type SocketOpts = z.infer<typeof SocketOptions>;

const socketRules: Rule<SocketOpts>[] = [
  (o) => {
    const given = present(o, ['fd', 'listen', 'connect', 'mcast', 'udp']);
    if (given.length === 1) return undefined;
    return {
      field: given.length === 0 ? 'fd, listen, connect, mcast, udp' : given[1]!,
      message: 'exactly one of listen=, connect=, mcast= or udp= is required',
      hint: given.length === 0 ? 'give one of fd=, listen=, connect=, mcast=, udp=' : `got ${given.join(', ')}; fd= counts as one too`,
    };
  },
  (o) => (o.localaddr !== undefined && o.mcast === undefined && o.udp === undefined ? { field: 'localaddr', message: 'localaddr= is only valid with mcast= or udp=' } : undefined),
  (o) => fdProblem('fd', o.fd),
  (o) => {
    for (const k of ['listen', 'connect'] as const) {
      const v = o[k];
      const why = v === undefined ? undefined : hostPortProblem(v);
      if (why) return { field: k, message: why, hint: `expected [host]:port, e.g. ${k}=127.0.0.1:5555` };
    }
    return undefined;
  },
  (o) => {
    if (o.mcast === undefined) return undefined;
    const why = hostPortProblem(o.mcast);
    if (why) return { field: 'mcast', message: why, hint: 'expected maddr:port, e.g. mcast=230.0.0.1:1234' };
    const hostText = o.mcast.slice(0, o.mcast.indexOf(':'));
    const host = hostText === '' ? 0 : numericHost(hostText); // an empty host is INADDR_ANY
    if (host !== undefined && !isIpv4Multicast(host)) {
      return { field: 'mcast', message: `specified mcastaddr ${ipv4ToString(host)} (0x${host.toString(16).padStart(8, '0')}) does not contain a multicast address`, hint: 'IPv4 multicast addresses are 224.0.0.0 to 239.255.255.255' };
    }
    if (o.localaddr !== undefined && inetAton(o.localaddr) === undefined) return { field: 'localaddr', message: `localaddr '${o.localaddr}' is not a valid IPv4 address`, hint: 'with mcast=, localaddr= is the address of the interface to join from (no port)' };
    return undefined;
  },
  (o) => {
    if (o.udp === undefined) return undefined;
    if (o.localaddr === undefined) return { field: 'localaddr', message: 'localaddr= is mandatory with udp=', hint: 'e.g. udp=127.0.0.1:5556,localaddr=127.0.0.1:5555' };
    for (const k of ['localaddr', 'udp'] as const) {
      const why = hostPortProblem(o[k]!);
      if (why) return { field: k, message: why, hint: 'expected host:port' };
    }
    return undefined;
  },
];

// ---- stream and dgram (net/stream.c, net/dgram.c) -------------------------------------------

const ONLY_INET_UNIX_FD = "Only SocketAddress types 'unix', 'inet' and 'fd' are supported";

function addressProblems(field: string, a: SocketAddress | undefined): Problem | undefined {
  if (!a) return undefined;
  if (a.type === 'vsock') return { field: `${field}.type`, message: `${ONLY_INET_UNIX_FD}, got 'vsock'`, hint: 'the schema allows inet, unix and fd here' };
  if (a.type === 'unix') {
    const why = unixPathProblem(a.path);
    if (why) return { field: `${field}.path`, message: why };
  }
  if (a.type === 'fd') return fdProblem(`${field}.str`, a.str);
  return undefined;
}

const StreamOptions = z.object({
  addr: SocketAddressSchema.meta({ description: 'socket address to listen on (server=true) or connect to (server=false)', qapi: 'SocketAddress' }),
  server: bool('create server socket', { default: 'false' }).optional(),
  reconnect: integer('uint32', 'For a client socket, if a socket is disconnected, then attempt a reconnect after the given number of seconds. Setting this to zero disables this function. (deprecated since 9.2: use reconnect-ms)', { since: '8.0', default: '0' }).optional(),
  'reconnect-ms': integer('uint32', 'For a client socket, if a socket is disconnected, then attempt a reconnect after the given number of milliseconds. Setting this to zero disables this function.', { since: '9.2', default: '0' }).optional(),
}).strict();

type StreamOpts = z.infer<typeof StreamOptions>;

const streamRules: Rule<StreamOpts>[] = [
  (o) => (o.server === true || o.reconnect === undefined || o['reconnect-ms'] === undefined ? undefined
    : { field: 'reconnect-ms', message: "'reconnect' and 'reconnect-ms' are mutually exclusive", hint: 'use reconnect-ms (reconnect is deprecated)' }),
  (o) => (o.server === true && (o.reconnect !== undefined || o['reconnect-ms'] !== undefined)
    ? { field: o.reconnect !== undefined ? 'reconnect' : 'reconnect-ms', message: "'reconnect' and 'reconnect-ms' options are incompatible with socket in server mode", hint: 'reconnecting applies to a client (server=off)' } : undefined),
  (o) => addressProblems('addr', o.addr),
];

const DgramOptions = z.object({
  local: SocketAddressSchema.meta({ description: 'local address', qapi: 'SocketAddress' }).optional(),
  remote: SocketAddressSchema.meta({ description: 'remote address', qapi: 'SocketAddress' }).optional(),
}).strict();

type DgramOpts = z.infer<typeof DgramOptions>;

const DGRAM_TABLE = 'valid: remote absent + local fd; remote multicast + local absent or present; remote not multicast + local present';

function inetProblem(field: string, a: SocketAddress): Problem | undefined {
  if (a.type !== 'inet') return undefined;
  const why = hostAndPortProblem(a.host, a.port);
  if (!why) return undefined;
  return { field: why.startsWith('port') ? `${field}.port` : `${field}.host`, message: why };
}

/** net_init_dgram(): the remote/local combination table of the schema, in QEMU's order. */
function dgramProblem(o: DgramOpts): Problem | undefined {
  const { local, remote } = o;
  const p = addressProblems('remote', remote) ?? addressProblems('local', local);
  if (p) return p;
  if (remote?.type === 'inet') {
    const r = inetProblem('remote', remote);
    if (r) return r;
    const host = numericHost(remote.host);
    if (host !== undefined && isIpv4Multicast(host)) {
      if (!local || local.type === 'fd') return undefined;
      if (local.type === 'inet') {
        return inetAton(local.host) === undefined ? { field: 'local.host', message: `localaddr '${local.host}' is not a valid IPv4 address`, hint: 'with a multicast remote, local.host is the address of the interface to join from' } : undefined;
      }
      return { field: 'local.type', message: 'only support inet or fd type for local', hint: 'a multicast remote takes an inet or fd local address' };
    }
  }
  if (!local) return { field: 'local', message: 'dgram requires local= parameter', hint: DGRAM_TABLE };
  if (remote) {
    if (local.type === 'fd') return { field: 'remote', message: "don't set remote with local.fd", hint: DGRAM_TABLE };
    if (remote.type !== local.type) return { field: 'remote.type', message: 'remote and local types must be the same', hint: `local is ${local.type}, remote is ${remote.type}` };
  } else if (local.type !== 'fd') {
    return { field: 'remote', message: 'type=inet or type=unix requires remote parameter', hint: DGRAM_TABLE };
  }
  if (local.type === 'inet' && remote) return inetProblem('local', local) ?? inetProblem('remote', remote);
  return undefined;
}

// ---- the rest --------------------------------------------------------------------------------

const L2TPv3Options = z.object({
  src: str('source address'),
  dst: str('destination address'),
  srcport: str('source port - mandatory for udp, optional for ip').optional(),
  dstport: str('destination port - mandatory for udp, optional for ip').optional(),
  ipv6: bool('force the use of ipv6').optional(),
  udp: bool('use the udp version of l2tpv3 encapsulation').optional(),
  cookie64: bool('use 64 bit cookies').optional(),
  counter: bool('have sequence counter').optional(),
  pincounter: bool('pin sequence counter to zero - workaround for buggy implementations or networks with packet reorder').optional(),
  txcookie: integer('uint64', '32 or 64 bit transmit cookie').optional(),
  rxcookie: integer('uint64', '32 or 64 bit receive cookie').optional(),
  txsession: integer('uint32', '32 bit transmit session'),
  rxsession: integer('uint32', '32 bit receive session - if not specified set to the same value as transmit').optional(),
  offset: integer('uint32', 'additional offset - allows the insertion of additional application-specific data before the packet payload').optional(),
}).strict();

type L2tpOpts = z.infer<typeof L2TPv3Options>;

/** getaddrinfo() with the family ipv6= picks: a numeric address of the other family fails. */
function l2tpFamilyProblem(field: 'src' | 'dst', value: string, ipv6: boolean): Problem | undefined {
  const isV6 = inetPton6(value) !== undefined;
  const isV4 = /^\d+(\.\d+){3}$/.test(value) && inetAton(value) !== undefined;
  if ((ipv6 && isV4) || (!ipv6 && isV6)) {
    return {
      field, message: `could not resolve ${field}, ${field === 'src' ? 'errno' : 'error'} = Address family for hostname not supported`,
      hint: ipv6 ? `ipv6=on takes IPv6 addresses; '${value}' is IPv4` : `'${value}' is IPv6: add ipv6=on`,
    };
  }
  return undefined;
}

const l2tpRules: Rule<L2tpOpts>[] = [
  (o) => ((num(o.offset) ?? 0) > 256 ? { field: 'offset', message: `offset must be less than 256 bytes (at most 256), got ${o.offset}` } : undefined),
  (o) => ((o.rxcookie === undefined) !== (o.txcookie === undefined)
    ? { field: o.rxcookie === undefined ? 'rxcookie' : 'txcookie', message: "require both 'rxcookie' and 'txcookie' or neither" } : undefined),
  (o) => (o.udp === true && (o.srcport === undefined || o.dstport === undefined)
    ? { field: o.srcport === undefined ? 'srcport' : 'dstport', message: 'need both src and dst port for udp', hint: 'e.g. udp=on,srcport=1701,dstport=1701' } : undefined),
  (o) => l2tpFamilyProblem('src', o.src, o.ipv6 === true) ?? l2tpFamilyProblem('dst', o.dst, o.ipv6 === true),
];

const VdeOptions = z.object({
  sock: str('socket path').optional(),
  port: integer('uint16', 'port number').optional(),
  group: str('group owner of socket').optional(),
  mode: integer('uint16', 'permissions for socket', { default: '0700' }).optional(),
}).strict();

const HubPortOptions = z.object({
  hubid: integer('int32', 'hub identifier number'),
  netdev: str('used to connect hub to a netdev instead of a device', { since: '2.12' }).optional(),
}).strict();

const NetmapOptions = z.object({
  ifname: str("Either the name of an existing network interface supported by netmap, or the name of a VALE port (created on the fly). A VALE port name is in the form 'valeXXX:YYY', where XXX and YYY are non-negative integers. XXX identifies a switch and YYY identifies a port of the switch. VALE ports having the same XXX are therefore connected to the same switch."),
  devname: str("path of the netmap device (default: '/dev/netmap')", { default: '/dev/netmap' }).optional(),
}).strict();

/** NetdevAFXDPOptions: the schema native/afxdp declares, with the doc comments of net.json. */
const AFXDPOptions = documented(NetdevAFXDPOptionsSchema, {
  ifname: { description: 'The name of an existing network interface.', qapi: 'str' },
  mode: { description: "Attach mode for a default XDP program. If not specified, then 'native' will be tried first, then 'skb'.", qapi: 'enum' },
  'force-copy': { description: 'Force XDP copy mode even if device supports zero-copy.', qapi: 'bool', default: 'false' },
  queues: { description: 'number of queues to be used for multiqueue interfaces', qapi: 'int', default: '1' },
  'start-queue': { description: 'Use @queues starting from this queue number', qapi: 'int', default: '0' },
  inhibit: { description: "Don't load a default XDP program, use one already loaded to the interface. Requires @sock-fds.", qapi: 'bool', default: 'false' },
  'sock-fds': { description: 'A colon (:) separated list of file descriptors for already open but not bound AF_XDP sockets in the queue order. One fd per queue. These descriptors should already be added into XDP socket map for corresponding queues. Requires @inhibit.', qapi: 'str' },
});

type AfXdpOpts = z.infer<typeof AFXDPOptions>;

const afXdpRules: Rule<AfXdpOpts>[] = [
  (o) => ifnameProblem('ifname', o.ifname),
  (o) => ((o.queues ?? 1) < 1 ? { field: 'queues', message: `invalid number of queues (${o.queues}) for '${o.ifname}'`, hint: 'queues must be 1 or more' } : undefined),
  (o) => ((o['start-queue'] ?? 0) < 0 ? { field: 'start-queue', message: `must be 0 or more, got ${o['start-queue']}` } : undefined),
  (o) => ((o.inhibit ?? false) !== (o['sock-fds'] !== undefined)
    ? { field: o.inhibit ? 'sock-fds' : 'inhibit', message: "'inhibit=on' requires 'sock-fds' and vice versa", hint: 'with inhibit=on, pass one already created AF_XDP socket per queue in sock-fds (fd:fd:...)' } : undefined),
  (o) => {
    if (o['sock-fds'] === undefined) return undefined;
    const n = o['sock-fds'].split(':').length;
    const queues = o.queues ?? 1;
    if (n !== queues) return { field: 'sock-fds', message: `expected ${queues} socket fds, got ${n}`, hint: 'one fd per queue' };
    return fdListProblem('sock-fds', o['sock-fds']);
  },
];

const VhostUserOptions = z.object({
  chardev: str('name of a unix socket chardev'),
  vhostforce: bool('vhost on for non-MSIX virtio guests', { default: 'false' }).optional(),
  queues: integer('int', 'number of queues to be created for multiqueue vhost-user', { default: '1', since: '2.5' }).optional(),
}).strict();

const MAX_QUEUE_NUM = 1024;

const VhostVDPAOptions = z.object({
  vhostdev: str('path of vhost-vdpa device', { default: '/dev/vhost-vdpa-0' }).optional(),
  vhostfd: str('file descriptor of an already opened vhost vdpa device').optional(),
  queues: integer('int', 'number of queues to be created for multiqueue vhost-vdpa', { default: '1' }).optional(),
  'x-svq': bool('Start device with (experimental) shadow virtqueue.', { since: '7.1', default: 'false', unstable: true }).optional(),
}).strict();

const RFC1918 = 'Must be in the private IP range (RFC 1918): 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16';

function privateIpv4(a: number): boolean {
  return (a & 0xff000000) >>> 0 === 0x0a000000 || (a & 0xfff00000) >>> 0 === 0xac100000 || (a & 0xffff0000) >>> 0 === 0xc0a80000;
}

function vmnetRangeRules<O extends { 'start-address'?: string; 'end-address'?: string; 'subnet-mask'?: string }>(): Rule<O>[] {
  return [
    (o) => {
      const given = present(o, ['start-address', 'end-address', 'subnet-mask']);
      return given.length === 0 || given.length === 3 ? undefined
        : { field: ['start-address', 'end-address', 'subnet-mask'].find((k) => !given.includes(k))!, message: "'start-address', 'end-address', 'subnet-mask' should be provided together" };
    },
    (o) => {
      for (const k of ['start-address', 'end-address'] as const) {
        const v = o[k];
        if (v === undefined) continue;
        const a = inetAton(v);
        if (a === undefined || !privateIpv4(a)) return { field: k, message: `'${v}' is not a private IPv4 address`, hint: RFC1918 };
      }
      if (o['subnet-mask'] !== undefined && inetAton(o['subnet-mask']) === undefined) return { field: 'subnet-mask', message: `'${o['subnet-mask']}' is not an IPv4 subnet mask` };
      return undefined;
    },
  ];
}

const VmnetHostOptions = z.object({
  'start-address': str('The starting IPv4 address to use for the interface. Must be in the private IP range (RFC 1918). Must be specified along with @end-address and @subnet-mask. This address is used as the gateway address. The subsequent address up to and including end-address are placed in the DHCP pool.').optional(),
  'end-address': str('The DHCP IPv4 range end address to use for the interface. Must be in the private IP range (RFC 1918). Must be specified along with @start-address and @subnet-mask.').optional(),
  'subnet-mask': str('The IPv4 subnet mask to use on the interface. Must be specified along with @start-address and @subnet-mask.').optional(),
  isolated: bool('Enable isolation for this interface. Interface isolation ensures that vmnet interface is not able to communicate with any other vmnet interfaces. Only communication with host is allowed. Requires at least macOS Big Sur 11.0.').optional(),
  'net-uuid': str('The identifier (UUID) to uniquely identify the isolated network vmnet interface should be added to. If set, no DHCP service is provided for this interface and network communication is allowed only with other interfaces added to this network identified by the UUID. Requires at least macOS Big Sur 11.0.').optional(),
}).strict();

const VmnetSharedOptions = z.object({
  'start-address': str('The starting IPv4 address to use for the interface. Must be in the private IP range (RFC 1918). Must be specified along with @end-address and @subnet-mask. This address is used as the gateway address. The subsequent address up to and including end-address are placed in the DHCP pool.').optional(),
  'end-address': str('The DHCP IPv4 range end address to use for the interface. Must be in the private IP range (RFC 1918). Must be specified along with @start-address and @subnet-mask.').optional(),
  'subnet-mask': str('The IPv4 subnet mask to use on the interface. Must be specified along with @start-address and @subnet-mask.').optional(),
  isolated: bool('Enable isolation for this interface. Interface isolation ensures that vmnet interface is not able to communicate with any other vmnet interfaces. Only communication with host is allowed. Requires at least macOS Big Sur 11.0.').optional(),
  'nat66-prefix': str('The IPv6 prefix to use into guest network. Must be a unique local address i.e. start with fd00::/8 and have length of 64.').optional(),
}).strict();

const VmnetBridgedOptions = z.object({
  ifname: str('The name of the physical interface to be bridged.'),
  isolated: bool('Enable isolation for this interface. Interface isolation ensures that vmnet interface is not able to communicate with any other vmnet interfaces. Only communication with host is allowed. Requires at least macOS Big Sur 11.0.').optional(),
}).strict();

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

// ---- the union --------------------------------------------------------------------------------

export const DRIVERS = {
  user: driver({
    type: 'user', struct: 'NetdevUserOptions', since: '1.2', syntax: 'opts',
    description: 'Use the user mode network stack which requires no administrator privilege to run.',
    requires: 'libslirp (configure --enable-slirp; since QEMU 7.2 user networking needs the system libslirp)',
    options: UserOptions, rules: userRules,
  }),
  tap: driver({
    type: 'tap', struct: 'NetdevTapOptions', since: '1.2', syntax: 'opts',
    description: 'Used to configure a host TAP network interface backend.',
    requires: 'tap support (built on Linux, the BSDs, Solaris, AIX, Haiku and Windows)',
    options: TapOptions, rules: tapRules,
  }),
  l2tpv3: driver({
    type: 'l2tpv3', struct: 'NetdevL2TPv3Options', since: '2.1', syntax: 'opts',
    description: 'Configure an Ethernet over L2TPv3 tunnel.',
    requires: 'l2tpv3 support (built on Linux hosts only)',
    options: L2TPv3Options, rules: l2tpRules,
  }),
  socket: driver({
    type: 'socket', struct: 'NetdevSocketOptions', since: '1.2', syntax: 'opts',
    description: 'Socket netdevs are used to establish a network connection to another QEMU virtual machine via a TCP socket.',
    requires: 'socket support (always built)',
    options: SocketOptions, rules: socketRules,
  }),
  stream: driver({
    type: 'stream', struct: 'NetdevStreamOptions', since: '7.2', syntax: 'keyval',
    description: 'Configuration info for stream socket netdev. Only SocketAddress types \'unix\', \'inet\' and \'fd\' are supported.',
    requires: 'stream support (QEMU 7.2 or later)',
    options: StreamOptions, rules: streamRules,
  }),
  dgram: driver({
    type: 'dgram', struct: 'NetdevDgramOptions', since: '7.2', syntax: 'keyval',
    description: 'Configuration info for datagram socket netdev. Only SocketAddress types \'unix\', \'inet\' and \'fd\' are supported. If remote address is present and it\'s a multicast address, local address is optional. Otherwise local address is required and remote address is optional.',
    requires: 'dgram support (QEMU 7.2 or later)',
    options: DgramOptions, rules: [dgramProblem],
  }),
  vde: driver({
    type: 'vde', struct: 'NetdevVdeOptions', since: '1.2', syntax: 'opts',
    description: 'Connect to a vde switch running on the host.',
    requires: 'libvdeplug (configure --enable-vde)',
    options: VdeOptions, rules: [],
  }),
  bridge: driver({
    type: 'bridge', struct: 'NetdevBridgeOptions', since: '1.2', syntax: 'opts',
    description: 'Connect a host TAP network interface to a host bridge device.',
    requires: 'tap support (POSIX hosts)',
    options: BridgeOptions, rules: [(o) => ifnameProblem('br', o.br)],
  }),
  hubport: driver({
    type: 'hubport', struct: 'NetdevHubPortOptions', since: '1.2', syntax: 'opts',
    description: 'Connect two or more net clients through a software hub.',
    requires: 'hubport support (always built)',
    options: HubPortOptions, rules: [],
  }),
  netmap: driver({
    type: 'netmap', struct: 'NetdevNetmapOptions', since: '2.0', syntax: 'opts',
    description: 'Connect a client to a netmap-enabled NIC or to a VALE switch port',
    requires: 'netmap (configure --enable-netmap, with the netmap headers and kernel module: FreeBSD has them, Linux needs the out-of-tree module)',
    options: NetmapOptions, rules: [],
  }),
  'af-xdp': driver({
    type: 'af-xdp', struct: 'NetdevAFXDPOptions', since: '8.2', condition: 'CONFIG_AF_XDP', syntax: 'opts',
    description: 'AF_XDP network backend',
    requires: 'libxdp >= 1.4 (QEMU 8.2 or later, configure --enable-af-xdp; Debian bookworm has libxdp 1.3.1)',
    options: AFXDPOptions, rules: afXdpRules,
  }),
  'vhost-user': driver({
    type: 'vhost-user', struct: 'NetdevVhostUserOptions', since: '2.1', syntax: 'opts',
    description: 'Vhost-user network backend',
    requires: 'vhost-user (configure --enable-vhost-user, the default on Linux)',
    options: VhostUserOptions,
    rules: [(o) => {
      const q = num(o.queues) ?? 1;
      return q < 1 || q > MAX_QUEUE_NUM ? { field: 'queues', message: `vhost-user number of queues must be in range [1, ${MAX_QUEUE_NUM}]` } : undefined;
    }],
  }),
  'vhost-vdpa': driver({
    type: 'vhost-vdpa', struct: 'NetdevVhostVDPAOptions', since: '5.1', syntax: 'opts',
    description: 'Vhost-vdpa network backend. vDPA device is a device that uses a datapath which complies with the virtio specifications with a vendor specific control path.',
    requires: 'vhost-vdpa (configure --enable-vhost-vdpa, the default on Linux)',
    options: VhostVDPAOptions,
    rules: [
      (o) => (o.vhostdev === undefined && o.vhostfd === undefined ? { field: 'vhostdev', message: 'vhost-vdpa: neither vhostdev= nor vhostfd= was specified', hint: 'e.g. vhostdev=/dev/vhost-vdpa-0' } : undefined),
      (o) => (o.vhostdev !== undefined && o.vhostfd !== undefined ? { field: 'vhostfd', message: 'vhost-vdpa: vhostdev= and vhostfd= are mutually exclusive' } : undefined),
      (o) => fdProblem('vhostfd', o.vhostfd),
    ],
  }),
  'vmnet-host': driver({
    type: 'vmnet-host', struct: 'NetdevVmnetHostOptions', since: '7.1', condition: 'CONFIG_VMNET', syntax: 'opts',
    description: 'vmnet (host mode) network backend. Allows the vmnet interface to communicate with other vmnet interfaces that are in host mode and also with the host.',
    requires: 'vmnet.framework (QEMU for macOS 11 or later)',
    options: VmnetHostOptions,
    rules: [
      (o) => (o['net-uuid'] !== undefined && !UUID.test(o['net-uuid']) ? { field: 'net-uuid', message: "Invalid UUID provided in 'net-uuid'", hint: 'expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx' } : undefined),
      ...vmnetRangeRules<z.infer<typeof VmnetHostOptions>>(),
    ],
  }),
  'vmnet-shared': driver({
    type: 'vmnet-shared', struct: 'NetdevVmnetSharedOptions', since: '7.1', condition: 'CONFIG_VMNET', syntax: 'opts',
    description: 'vmnet (shared mode) network backend. Allows traffic originating from the vmnet interface to reach the Internet through a network address translator (NAT).',
    requires: 'vmnet.framework (QEMU for macOS 11 or later)',
    options: VmnetSharedOptions,
    rules: [
      ...vmnetRangeRules<z.infer<typeof VmnetSharedOptions>>(),
      (o) => {
        const v = o['nat66-prefix'];
        if (v === undefined) return undefined;
        const [addr, len] = v.split('/');
        const a = inetPton6(addr!);
        if (!a || a[0] !== 0xfd || (len !== undefined && len !== '64')) return { field: 'nat66-prefix', message: `'${v}' is not a unique local IPv6 prefix of length 64`, hint: 'Must be a unique local address i.e. start with fd00::/8 and have length of 64' };
        return undefined;
      },
    ],
  }),
  'vmnet-bridged': driver({
    type: 'vmnet-bridged', struct: 'NetdevVmnetBridgedOptions', since: '7.1', condition: 'CONFIG_VMNET', syntax: 'opts',
    description: 'vmnet (bridged mode) network backend. Bridges the vmnet interface with a physical network interface.',
    requires: 'vmnet.framework (QEMU for macOS 11 or later)',
    options: VmnetBridgedOptions, rules: [],
  }),
} as const;

export type NetdevType = keyof typeof DRIVERS;
export const NETDEV_TYPES = Object.keys(DRIVERS) as NetdevType[];

export type NetdevOptions<T extends NetdevType> = z.infer<(typeof DRIVERS)[T]['options']>;

/** One -netdev / netdev_add: the Netdev union of qapi/net.json (nic is a device, not a netdev). */
export type Netdev = { [T in NetdevType]: { type: T; id: string } & NetdevOptions<T> }[NetdevType];

export function driverOf(type: NetdevType): DriverDef {
  return DRIVERS[type] as unknown as DriverDef;
}

export function isNetdevType(t: unknown): t is NetdevType {
  return typeof t === 'string' && Object.prototype.hasOwnProperty.call(DRIVERS, t);
}
