// The netdev model without QEMU: every rule's message and field, -netdev strings both ways
// (QemuOpts, keyval, JSON, legacy forms), QMP arguments, the schema listing, and the pure parts
// of capabilities.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { NetdevAFXDPOptionsSchema } from '../../native/afxdp/options.js';
import { NETDEV_TYPES, describeNetdevSchema, formatNetdevArg, fromQmpArguments, jsonText, parseNetdevArg, parseNetdevArgRaw, parseSize, toQmpArguments, validateNetdev, type Netdev } from '../../benchmarks/qemu/netdev.js';
import { inetAton, inetPton6 } from '../../benchmarks/qemu/netdev/addr.js';
import { dataDirsFor, driverAvailability, lackReason, netdevUnionFromSchema, parseAccelHelp, type QemuFacts } from '../../benchmarks/qemu/capabilities.js';
import type { QmpSchemaEntry } from '../../benchmarks/qemu/qmp.js';
import { run as netdevCli } from '../../benchmarks/cli/commands/netdev.js';

function errorOf(fn: () => unknown): LabError {
  try { fn(); } catch (e) { if (e instanceof LabError) return e; throw e; }
  throw new Error('expected a LabError');
}

const inet = (host: string, port: string) => ({ type: 'inet', host, port });

describe('validateNetdev: type, id, member types and ranges', () => {
  it.each([
    [{ id: 'n0' }, 'type', /Parameter 'type' is missing/],
    [{ type: 'foo', id: 'n0' }, 'type', /Parameter 'type' does not accept value 'foo'/],
    [{ type: 'nic', id: 'n0' }, 'type', /'nic' is a guest network card/],
    [{ type: 'user' }, 'id', /Parameter 'id' is missing/],
    [{ type: 'user', id: '0n' }, 'id', /Parameter 'id' expects an identifier/],
    [{ type: 'user', id: 'n0', bogus: 1 }, 'bogus', /Parameter 'bogus' is unexpected/],
    [{ type: 'user', id: 'n0', restrict: 'yes' }, 'restrict', /expects a boolean .*got "yes"/],
    [{ type: 'user', id: 'n0', hostfwd: 'tcp::1-:2' }, 'hostfwd', /expects a list of strings/],
    [{ type: 'user', id: 'n0', hostfwd: ['tcp::1-:2', 3] }, 'hostfwd[1]', /expects a string, got 3/],
    [{ type: 'tap', id: 't0', queues: 4294967296 }, 'queues', /expects uint32_t, an integer from 0 to 4294967295, got 4294967296/],
    [{ type: 'tap', id: 't0', queues: 1.5 }, 'queues', /expects uint32_t/],
    [{ type: 'tap', id: 't0', sndbuf: -1 }, 'sndbuf', /expects a size in bytes/],
    [{ type: 'l2tpv3', id: 'l0', src: 'a', dst: 'b' }, 'txsession', /Parameter 'txsession' is missing/],
    [{ type: 'l2tpv3', id: 'l0', src: 'a', dst: 'b', txsession: 1, txcookie: -1, rxcookie: 1 }, 'txcookie', /expects uint64_t, an integer from 0 to 18446744073709551615, got -1/],
    [{ type: 'vde', id: 'v0', port: 65536 }, 'port', /expects uint16_t, an integer from 0 to 65535, got 65536/],
    [{ type: 'hubport', id: 'h0', hubid: 2 ** 31 }, 'hubid', /expects int32_t, an integer from -2147483648 to 2147483647/],
    [{ type: 'stream', id: 's0' }, 'addr', /Parameter 'addr' is missing/],
    [{ type: 'stream', id: 's0', addr: { type: 'inet', host: 'h' } }, 'addr.port', /Parameter 'addr.port' is missing/],
    [{ type: 'stream', id: 's0', addr: { type: 'bogus' } }, 'addr.type', /Parameter 'addr.type' does not accept value 'bogus'/],
    [{ type: 'stream', id: 's0', addr: { host: 'h', port: '1' } }, 'addr.type', /Parameter 'addr.type' is missing/],
    [{ type: 'stream', id: 's0', addr: { type: 'unix', path: '/x', zz: 1 } }, 'addr.zz', /Parameter 'addr.zz' is unexpected/],
    [{ type: 'stream', id: 's0', addr: { type: 'inet', host: 'h', port: '1', to: 70000 } }, 'addr.to', /uint16_t/],
    [{ type: 'af-xdp', id: 'a0', ifname: 'eth0', mode: 'turbo' }, 'mode', /expects one of native, skb, got "turbo"/],
    [{ type: 'af-xdp', id: 'a0', ifname: '' }, 'ifname', /interface name of 1 to 15 characters/],
    [{ type: 'af-xdp', id: 'a0' }, 'ifname', /Parameter 'ifname' is missing/],
    [{ type: 'vhost-user', id: 'v0' }, 'chardev', /Parameter 'chardev' is missing/],
    [{ type: 'netmap', id: 'n0' }, 'ifname', /Parameter 'ifname' is missing/],
    [{ type: 'vmnet-bridged', id: 'v0' }, 'ifname', /Parameter 'ifname' is missing/],
  ])('rejects %j naming %s', (input, field, message) => {
    const e = errorOf(() => validateNetdev(input));
    expect(e.code).toBe('EINVALIDOPTION');
    expect(e.field).toBe(field);
    expect(e.message).toMatch(message);
  });

  it('rejects a uint64 above 2^64-1 given as a bigint', () => {
    const e = errorOf(() => validateNetdev({ type: 'l2tpv3', id: 'l0', src: 'a', dst: 'b', txsession: 1, txcookie: 2n ** 64n, rxcookie: 1 }));
    expect(e.field).toBe('txcookie');
    expect(e.message).toMatch(/expects uint64_t.*got 18446744073709551616/);
  });

  it('names what an unexpected member could have been', () => {
    expect(errorOf(() => validateNetdev({ type: 'vde', id: 'v', socket: '/x' })).hint).toBe('NetdevVdeOptions accepts: sock, port, group, mode');
  });

  it('normalizes integers: bigints that fit a number become numbers, larger ones stay bigints', () => {
    const n = validateNetdev({ type: 'l2tpv3', id: 'l', src: 'a', dst: 'b', txsession: 7n, txcookie: 2n ** 64n - 1n, rxcookie: 5n }) as Record<string, unknown>;
    expect(n.txsession).toBe(7);
    expect(n.rxcookie).toBe(5);
    expect(n.txcookie).toBe(2n ** 64n - 1n);
  });
});

describe('validateNetdev: the rules QEMU enforces beyond types', () => {
  it.each([
    // user (net/slirp.c)
    [{ type: 'user', id: 'u', ipv4: false, ipv6: false }, 'ipv4', /^ipv4: IPv4 and IPv6 disabled$/],
    [{ type: 'user', id: 'u', ipv4: false, net: '10.0.2.0/24' }, 'net', /IPv4 disabled but netmask\/host\/dns provided/],
    [{ type: 'user', id: 'u', ipv6: true, dns: '10.0.2.3' }, 'dns', /IPv4 disabled but netmask\/host\/dns provided/],
    [{ type: 'user', id: 'u', ipv4: true, 'ipv6-host': 'fec0::2' }, 'ipv6-host', /IPv6 disabled but prefix\/host6\/dns6 provided/],
    [{ type: 'user', id: 'u', net: '10.0.2.0/33' }, 'net', /Invalid netmask provided \(must be in range 4-32\)/],
    [{ type: 'user', id: 'u', net: '10.0.2.0/' }, 'net', /Invalid netmask provided/],
    [{ type: 'user', id: 'u', net: '10.0.2.0/255.255.x' }, 'net', /Failed to parse netmask \(trailing chars\)/],
    [{ type: 'user', id: 'u', net: '300.0.2.0' }, 'net', /Failed to parse netmask/],
    [{ type: 'user', id: 'u', ip: '300.1.1.1' }, 'ip', /Failed to parse netmask/],
    [{ type: 'user', id: 'u', host: 'x' }, 'host', /Failed to parse host/],
    [{ type: 'user', id: 'u', net: '10.0.2.0/24', host: '10.0.3.2' }, 'host', /Host doesn't belong to network/],
    [{ type: 'user', id: 'u', dns: '10.0.2.2' }, 'dns', /DNS must be different from host/],
    [{ type: 'user', id: 'u', restrict: true, dns: '8.8.8.8' }, 'dns', /DNS doesn't belong to network/],
    [{ type: 'user', id: 'u', net: '10.0.3.0/24', dhcpstart: '10.0.2.15' }, 'dhcpstart', /DHCP doesn't belong to network/],
    [{ type: 'user', id: 'u', dhcpstart: '10.0.2.3' }, 'dhcpstart', /DHCP must be different from host and DNS/],
    [{ type: 'user', id: 'u', smbserver: 'x' }, 'smbserver', /Failed to parse SMB address/],
    [{ type: 'user', id: 'u', 'ipv6-prefix': 'zz' }, 'ipv6-prefix', /Failed to parse IPv6 prefix/],
    [{ type: 'user', id: 'u', 'ipv6-prefixlen': 127 }, 'ipv6-prefixlen', /IPv6 prefix length must be between 0 and 126/],
    [{ type: 'user', id: 'u', 'ipv6-host': 'fd00::2' }, 'ipv6-host', /IPv6 Host doesn't belong to network/],
    [{ type: 'user', id: 'u', restrict: true, 'ipv6-dns': 'fd00::3' }, 'ipv6-dns', /IPv6 DNS doesn't belong to network/],
    [{ type: 'user', id: 'u', domainname: '' }, 'domainname', /'domainname' parameter cannot be empty/],
    [{ type: 'user', id: 'u', hostname: 'h'.repeat(256) }, 'hostname', /cannot exceed 255 bytes/],
    [{ type: 'user', id: 'u', 'tftp-server-name': 't'.repeat(256) }, 'tftp-server-name', /cannot exceed 255 bytes/],
    [{ type: 'user', id: 'u', hostfwd: ['bogus'] }, 'hostfwd', /Invalid host forwarding rule 'bogus' \(No : separators\)/],
    [{ type: 'user', id: 'u', hostfwd: ['sctp::1-:2'] }, 'hostfwd', /\(Bad protocol name\)/],
    [{ type: 'user', id: 'u', hostfwd: ['tcp:1.2.3:1'] }, 'hostfwd', /\(Bad host port separator\)/],
    [{ type: 'user', id: 'u', hostfwd: ['tcp:x:1-:2'] }, 'hostfwd', /\(Bad host address\)/],
    [{ type: 'user', id: 'u', hostfwd: ['tcp::70000-:22'] }, 'hostfwd', /\(Bad host port\)/],
    [{ type: 'user', id: 'u', hostfwd: ['tcp::2222-22'] }, 'hostfwd', /\(Missing guest address\)/],
    [{ type: 'user', id: 'u', hostfwd: ['tcp::2222-x:22'] }, 'hostfwd', /\(Bad guest address\)/],
    [{ type: 'user', id: 'u', hostfwd: ['tcp::2222-:0'] }, 'hostfwd', /\(Bad guest port\)/],
    [{ type: 'user', id: 'u', hostfwd: ['unix:relative-:22'] }, 'hostfwd', /\(unix socket path must be absolute\)/],
    [{ type: 'user', id: 'u', guestfwd: ['tcp:10.0.2.100:99999-cmd:cat'] }, 'guestfwd', /Invalid guest forwarding rule/],
    [{ type: 'user', id: 'u', guestfwd: ['udp:10.0.2.100:1234-cmd:cat'] }, 'guestfwd', /Invalid guest forwarding rule/],
    [{ type: 'user', id: 'u', guestfwd: ['tcp:10.0.2.100:1234-'] }, 'guestfwd', /Invalid guest forwarding rule/],
    // tap (net/tap.c)
    [{ type: 'tap', id: 't', fd: '3', ifname: 'x' }, 'ifname', /ifname=, script=, downscript=, vnet_hdr=, helper=, queues=, fds=, and vhostfds= are invalid with fd=/],
    [{ type: 'tap', id: 't', fd: '3', vhostfds: '4' }, 'vhostfds', /are invalid with fd=/],
    [{ type: 'tap', id: 't', fds: '3:4', queues: 2 }, 'queues', /helper=, queues=, and vhostfd= are invalid with fds=/],
    [{ type: 'tap', id: 't', fds: '3:4', vhostfds: '5' }, 'vhostfds', /The number of fds passed does not match the number of vhostfds passed/],
    [{ type: 'tap', id: 't', helper: '/h', script: 'no' }, 'script', /queues=, and vhostfds= are invalid with helper=/],
    [{ type: 'tap', id: 't', vhostfds: '3:4' }, 'vhostfds', /vhostfds= is invalid if fds= wasn't specified/],
    [{ type: 'tap', id: 't', queues: 0 }, 'queues', /must be 1 to 1024, got 0/],
    [{ type: 'tap', id: 't', vhost: false, vhostfd: '3' }, 'vhostfd', /vhostfd\(s\)= is not valid without vhost/],
    [{ type: 'tap', id: 't', ifname: 'xl-0123456789abc' }, 'ifname', /longer than 15 characters/],
    [{ type: 'tap', id: 't', fd: '3 4' }, 'fd', /neither a file descriptor number nor the name/],
    [{ type: 'tap', id: 't', fds: '3::4' }, 'fds', /empty entry/],
    [{ type: 'bridge', id: 'b', br: 'xl-0123456789abc' }, 'br', /longer than 15 characters/],
    // socket (net/socket.c)
    [{ type: 'socket', id: 's' }, 'fd, listen, connect, mcast, udp', /exactly one of listen=, connect=, mcast= or udp= is required/],
    [{ type: 'socket', id: 's', listen: ':1', connect: '127.0.0.1:2' }, 'connect', /exactly one of/],
    [{ type: 'socket', id: 's', fd: '3', listen: ':1' }, 'listen', /exactly one of/],
    [{ type: 'socket', id: 's', listen: ':1', localaddr: '127.0.0.1:0' }, 'localaddr', /localaddr= is only valid with mcast= or udp=/],
    [{ type: 'socket', id: 's', udp: '127.0.0.1:1' }, 'localaddr', /localaddr= is mandatory with udp=/],
    [{ type: 'socket', id: 's', connect: '127.0.0.1' }, 'connect', /host address '127.0.0.1' doesn't contain ':' separating host from port/],
    [{ type: 'socket', id: 's', connect: '300.1.1.1:5' }, 'connect', /host address '300.1.1.1' is not a valid IPv4 address/],
    [{ type: 'socket', id: 's', listen: '127.0.0.1:x' }, 'listen', /port number 'x' is invalid/],
    [{ type: 'socket', id: 's', mcast: '127.0.0.1:5000' }, 'mcast', /specified mcastaddr 127.0.0.1 \(0x7f000001\) does not contain a multicast address/],
    [{ type: 'socket', id: 's', mcast: '230.0.0.1:5000', localaddr: 'nothing' }, 'localaddr', /localaddr 'nothing' is not a valid IPv4 address/],
    [{ type: 'socket', id: 's', udp: '127.0.0.1:1', localaddr: '127.0.0.1' }, 'localaddr', /doesn't contain ':'/],
    // stream (net/stream.c)
    [{ type: 'stream', id: 's', server: true, reconnect: 1, addr: inet('127.0.0.1', '1') }, 'reconnect', /'reconnect' and 'reconnect-ms' options are incompatible with socket in server mode/],
    [{ type: 'stream', id: 's', server: true, 'reconnect-ms': 5, addr: inet('127.0.0.1', '1') }, 'reconnect-ms', /incompatible with socket in server mode/],
    [{ type: 'stream', id: 's', reconnect: 1, 'reconnect-ms': 5, addr: inet('127.0.0.1', '1') }, 'reconnect-ms', /'reconnect' and 'reconnect-ms' are mutually exclusive/],
    [{ type: 'stream', id: 's', addr: { type: 'vsock', cid: '2', port: '5' } }, 'addr.type', /Only SocketAddress types 'unix', 'inet' and 'fd' are supported/],
    [{ type: 'stream', id: 's', addr: { type: 'unix', path: `/${'p'.repeat(120)}` } }, 'addr.path', /UNIX socket path '.*' is too long/],
    // dgram (net/dgram.c): the schema's remote/local table
    [{ type: 'dgram', id: 'd' }, 'local', /dgram requires local= parameter/],
    [{ type: 'dgram', id: 'd', local: { type: 'unix', path: '/tmp/l' } }, 'remote', /type=inet or type=unix requires remote parameter/],
    [{ type: 'dgram', id: 'd', local: inet('127.0.0.1', '1') }, 'remote', /type=inet or type=unix requires remote parameter/],
    [{ type: 'dgram', id: 'd', remote: inet('127.0.0.1', '7') }, 'local', /dgram requires local= parameter/],
    [{ type: 'dgram', id: 'd', local: { type: 'fd', str: '3' }, remote: inet('127.0.0.1', '7') }, 'remote', /don't set remote with local.fd/],
    [{ type: 'dgram', id: 'd', local: inet('127.0.0.1', '1'), remote: { type: 'unix', path: '/tmp/r' } }, 'remote.type', /remote and local types must be the same/],
    [{ type: 'dgram', id: 'd', remote: inet('239.1.2.3', '5000'), local: { type: 'unix', path: '/tmp/l' } }, 'local.type', /only support inet or fd type for local/],
    [{ type: 'dgram', id: 'd', remote: inet('239.1.2.3', '5000'), local: inet('nothing', '0') }, 'local.host', /localaddr 'nothing' is not a valid IPv4 address/],
    [{ type: 'dgram', id: 'd', local: inet('300.0.0.1', '1'), remote: inet('127.0.0.1', '5') }, 'local.host', /host address '300.0.0.1' is not a valid IPv4 address/],
    [{ type: 'dgram', id: 'd', local: inet('127.0.0.1', 'x'), remote: inet('127.0.0.1', '5') }, 'local.port', /port number 'x' is invalid/],
    [{ type: 'dgram', id: 'd', remote: inet('239.1.2.3', 'x') }, 'remote.port', /port number 'x' is invalid/],
    [{ type: 'dgram', id: 'd', local: { type: 'vsock', cid: '2', port: '1' }, remote: { type: 'vsock', cid: '2', port: '1' } }, 'remote.type', /Only SocketAddress types/],
    // l2tpv3
    [{ type: 'l2tpv3', id: 'l', src: 'a', dst: 'b', txsession: 1, offset: 257 }, 'offset', /offset must be less than 256 bytes/],
    [{ type: 'l2tpv3', id: 'l', src: 'a', dst: 'b', txsession: 1, txcookie: 1 }, 'rxcookie', /require both 'rxcookie' and 'txcookie' or neither/],
    [{ type: 'l2tpv3', id: 'l', src: 'a', dst: 'b', txsession: 1, udp: true, srcport: '1701' }, 'dstport', /need both src and dst port for udp/],
    [{ type: 'l2tpv3', id: 'l', src: '::1', dst: '127.0.0.1', txsession: 1 }, 'src', /could not resolve src, errno = Address family for hostname not supported/],
    [{ type: 'l2tpv3', id: 'l', src: '::1', dst: '127.0.0.1', txsession: 1, ipv6: true }, 'dst', /could not resolve dst, error = Address family/],
    [{ type: 'socket', id: 's', mcast: ':1234' }, 'mcast', /specified mcastaddr 0.0.0.0 \(0x00000000\)/],
    // af-xdp (the schema of native/afxdp, QEMU's rules of net/af-xdp.c)
    [{ type: 'af-xdp', id: 'a', ifname: 'eth0', inhibit: true }, 'sock-fds', /'inhibit=on' requires 'sock-fds' and vice versa/],
    [{ type: 'af-xdp', id: 'a', ifname: 'eth0', 'sock-fds': '3' }, 'inhibit', /'inhibit=on' requires 'sock-fds' and vice versa/],
    [{ type: 'af-xdp', id: 'a', ifname: 'eth0', queues: 0 }, 'queues', /invalid number of queues \(0\) for 'eth0'/],
    [{ type: 'af-xdp', id: 'a', ifname: 'eth0', 'start-queue': -1 }, 'start-queue', /must be 0 or more/],
    [{ type: 'af-xdp', id: 'a', ifname: 'eth0', queues: 2, inhibit: true, 'sock-fds': '3' }, 'sock-fds', /expected 2 socket fds, got 1/],
    // vhost-user, vhost-vdpa
    [{ type: 'vhost-user', id: 'v', chardev: 'c', queues: 0 }, 'queues', /vhost-user number of queues must be in range \[1, 1024\]/],
    [{ type: 'vhost-user', id: 'v', chardev: 'c', queues: 1025 }, 'queues', /must be in range \[1, 1024\]/],
    [{ type: 'vhost-vdpa', id: 'v' }, 'vhostdev', /vhost-vdpa: neither vhostdev= nor vhostfd= was specified/],
    [{ type: 'vhost-vdpa', id: 'v', vhostdev: '/dev/vhost-vdpa-0', vhostfd: '3' }, 'vhostfd', /vhostdev= and vhostfd= are mutually exclusive/],
    // vmnet-* (the schema's prose)
    [{ type: 'vmnet-host', id: 'v', 'start-address': '10.0.0.1' }, 'end-address', /'start-address', 'end-address', 'subnet-mask' should be provided together/],
    [{ type: 'vmnet-host', id: 'v', 'start-address': '8.8.8.8', 'end-address': '10.0.0.9', 'subnet-mask': '255.255.255.0' }, 'start-address', /not a private IPv4 address/],
    [{ type: 'vmnet-host', id: 'v', 'net-uuid': 'nope' }, 'net-uuid', /Invalid UUID provided in 'net-uuid'/],
    [{ type: 'vmnet-shared', id: 'v', 'nat66-prefix': 'fe80::' }, 'nat66-prefix', /not a unique local IPv6 prefix of length 64/],
  ])('rejects %j naming %s', (input, field, message) => {
    const e = errorOf(() => validateNetdev(input));
    expect(e.field).toBe(field);
    expect(e.message).toMatch(message);
  });

  it.each([
    [{ type: 'user', id: 'u', net: '192.168.76.0/24', host: '192.168.76.2', dhcpstart: '192.168.76.9', dns: '192.168.76.3', restrict: true }],
    [{ type: 'user', id: 'u', net: '10.0.2.0/255.255.255.0' }],
    [{ type: 'user', id: 'u', ipv6: true }], // IPv4 turns off, as QEMU does; nothing IPv4 given
    [{ type: 'user', id: 'u', 'ipv6-prefix': 'fd00::', 'ipv6-prefixlen': 64, 'ipv6-host': 'fd00::2', 'ipv6-dns': 'fd00::3' }],
    [{ type: 'user', id: 'u', hostfwd: ['tcp::2222-:22', 'udp:127.0.0.1:5353-10.0.2.15:53', '::0x10-:22', 'unix:/tmp/xl.sock-:22'], guestfwd: ['tcp:10.0.2.100:1234-cmd:cat', ':10.0.2.101:80-tcp:127.0.0.1:8080', 'tcp:10.0.2.100: 1237-cmd:cat'] }],
    [{ type: 'l2tpv3', id: 'l', src: '::1', dst: 'fe80::1', txsession: 1, ipv6: true }],
    [{ type: 'l2tpv3', id: 'l', src: 'localhost', dst: '127.0.0.1', txsession: 1 }],
    [{ type: 'tap', id: 't', fds: '3:4', vhostfds: '5:6', vhost: true }],
    [{ type: 'tap', id: 't', fd: 'tapfd', vhostfd: 'vfd' }],
    [{ type: 'tap', id: 't', helper: '/usr/lib/qemu/qemu-bridge-helper', br: 'br0' }],
    [{ type: 'socket', id: 's', mcast: '230.0.0.1:1234', localaddr: '127.0.0.1' }],
    [{ type: 'socket', id: 's', udp: '127.0.0.1:5556', localaddr: '127.0.0.1:5555' }],
    [{ type: 'socket', id: 's', connect: 'localhost:5555' }],
    [{ type: 'dgram', id: 'd', local: { type: 'fd', str: '3' } }],
    [{ type: 'dgram', id: 'd', remote: inet('239.1.2.3', '5000') }],
    [{ type: 'dgram', id: 'd', remote: inet('239.1.2.3', '5000'), local: inet('127.0.0.1', '0') }],
    [{ type: 'dgram', id: 'd', remote: inet('239.1.2.3', '5000'), local: { type: 'fd', str: '3' } }],
    [{ type: 'dgram', id: 'd', local: { type: 'unix', path: '/tmp/l' }, remote: { type: 'unix', path: '/tmp/r' } }],
    [{ type: 'af-xdp', id: 'a', ifname: 'eth0', queues: 2, inhibit: true, 'sock-fds': '3:xsk1' }],
  ])('accepts %j', (input) => {
    expect(validateNetdev(input)).toMatchObject({ type: input.type, id: input.id });
  });
});

describe('the -netdev argument', () => {
  const valid: Netdev[] = [
    { type: 'user', id: 'n0', hostfwd: ['tcp::2222-:22', 'udp::5353-:53'], dnssearch: ['a.example', 'b.example'], restrict: true, net: '10.0.9.0/24', 'ipv6-prefixlen': 64 },
    { type: 'user', id: 'n1', hostname: 'a,b,,c', tftp: '/srv/tftp', bootfile: 'pxelinux.0' },
    { type: 'tap', id: 't0', ifname: 'xl-abcdef-t', script: 'no', downscript: 'no', sndbuf: 1048576, vnet_hdr: true, vhost: false, queues: 2, 'poll-us': 50 },
    { type: 'tap', id: 't1', fds: '3:4', vhostfds: '5:6', vhost: true, vhostforce: true },
    { type: 'bridge', id: 'b0', br: 'br0', helper: '/usr/lib/qemu/qemu-bridge-helper' },
    { type: 'l2tpv3', id: 'l0', src: '127.0.0.1', dst: '127.0.0.1', udp: true, srcport: '1701', dstport: '1702', txsession: 4294967295, rxsession: 7, txcookie: 2n ** 64n - 1n, rxcookie: 0, cookie64: true, counter: true, pincounter: false, offset: 256, ipv6: false },
    { type: 'socket', id: 's0', listen: '127.0.0.1:5555' },
    { type: 'socket', id: 's1', udp: '127.0.0.1:5556', localaddr: '127.0.0.1:5555' },
    { type: 'stream', id: 's2', server: true, addr: { type: 'inet', host: '127.0.0.1', port: '5555', numeric: true, ipv4: true, ipv6: false, to: 5560 } },
    { type: 'stream', id: 's3', 'reconnect-ms': 500, addr: { type: 'unix', path: '/tmp/a,b.sock', abstract: false } },
    { type: 'stream', id: 's4', addr: { type: 'fd', str: 'sfd' } },
    { type: 'dgram', id: 'd0', local: { type: 'inet', host: '127.0.0.1', port: '7001' }, remote: { type: 'inet', host: '127.0.0.1', port: '7002' } },
    { type: 'dgram', id: 'd1', remote: { type: 'inet', host: '239.1.2.3', port: '5000' } },
    { type: 'vde', id: 'v0', sock: '/tmp/vde', port: 3, group: 'users', mode: 0o700 },
    { type: 'hubport', id: 'h0', hubid: -1, netdev: 'n0' },
    { type: 'netmap', id: 'm0', ifname: 'vale0:1', devname: '/dev/netmap' },
    { type: 'af-xdp', id: 'a0', ifname: 'eth0', mode: 'native', 'force-copy': true, queues: 2, 'start-queue': 1, inhibit: true, 'sock-fds': '10:11' },
    { type: 'vhost-user', id: 'u0', chardev: 'chr0', vhostforce: true, queues: 4 },
    { type: 'vhost-vdpa', id: 'p0', vhostdev: '/dev/vhost-vdpa-0', queues: 1, 'x-svq': true },
    { type: 'vmnet-host', id: 'm1', 'start-address': '192.168.70.1', 'end-address': '192.168.70.9', 'subnet-mask': '255.255.255.0', isolated: true, 'net-uuid': 'c9b0d8b8-6f6c-4c6b-9f0a-2d1e3f4a5b6c' },
    { type: 'vmnet-shared', id: 'm2', 'nat66-prefix': 'fd00:1::' },
    { type: 'vmnet-bridged', id: 'm3', ifname: 'en0', isolated: false },
  ];

  it('covers every driver', () => {
    expect(new Set(valid.map((n) => n.type))).toEqual(new Set(NETDEV_TYPES));
  });

  it.each(valid.map((n) => [n.type, n] as const))('%s: parse(format(x)) deep-equals x', (_t, n) => {
    const x = validateNetdev(n);
    const text = formatNetdevArg(x);
    expect(parseNetdevArg(text)).toEqual(x);
  });

  it('writes QEMU syntax: type first, commas doubled, booleans on/off, lists repeated, addresses dotted', () => {
    expect(formatNetdevArg({ type: 'user', id: 'n0', hostfwd: ['tcp::2222-:22', 'tcp::2223-:23'], restrict: false, hostname: 'a,b' }))
      .toBe('user,id=n0,hostname=a,,b,restrict=off,hostfwd=tcp::2222-:22,hostfwd=tcp::2223-:23');
    expect(formatNetdevArg({ type: 'stream', id: 's0', server: true, addr: { type: 'inet', host: '127.0.0.1', port: '5555' } }))
      .toBe('stream,id=s0,addr.type=inet,addr.host=127.0.0.1,addr.port=5555,server=on');
    expect(formatNetdevArg({ type: 'l2tpv3', id: 'l', src: 'a', dst: 'b', txsession: 1, txcookie: 2n ** 64n - 1n, rxcookie: 1 }))
      .toBe('l2tpv3,id=l,src=a,dst=b,txcookie=18446744073709551615,rxcookie=1,txsession=1');
  });

  it('refuses to format an invalid Netdev', () => {
    expect(errorOf(() => formatNetdevArg({ type: 'user', id: 'u', ipv4: false, ipv6: false })).field).toBe('ipv4');
  });

  it('reads the legacy forms QEMU accepts for QemuOpts types', () => {
    expect(parseNetdevArg('user,id=n0,hostfwd=tcp::2222-:22')).toEqual({ type: 'user', id: 'n0', hostfwd: ['tcp::2222-:22'] });
    // short-form booleans (deprecated but accepted), "no" prefix, type= anywhere
    expect(parseNetdevArg('id=n0,type=user,restrict,noipv6')).toEqual({ type: 'user', id: 'n0', restrict: true, ipv6: false });
    // ipv6-net=prefix/len becomes ipv6-prefix and ipv6-prefixlen (default 64)
    expect(parseNetdevArg('user,id=n0,ipv6-net=fd00::/48')).toEqual({ type: 'user', id: 'n0', 'ipv6-prefix': 'fd00::', 'ipv6-prefixlen': 48 });
    expect(parseNetdevArg('user,id=n0,ipv6-net=fd00::')).toMatchObject({ 'ipv6-prefixlen': 64 });
    // booleans: on/off/yes/no/true/false/y/n; integers in base 0; sizes with suffixes
    expect(parseNetdevArg('tap,id=t0,vnet_hdr=yes,vhost=n,queues=0x4,sndbuf=1.5k,poll-us=010')).toMatchObject({ vnet_hdr: true, vhost: false, queues: 4, sndbuf: 1536, 'poll-us': 8 });
    // the last of repeated scalars wins, the first id wins (QemuOpts)
    expect(parseNetdevArg('user,id=a,id=b,restrict=on,restrict=off')).toEqual({ type: 'user', id: 'a', restrict: false });
    expect(parseNetdevArg('socket,id=s,listen=:5555')).toEqual({ type: 'socket', id: 's', listen: ':5555' });
  });

  it('reads keyval for stream and dgram, and JSON for any type', () => {
    expect(parseNetdevArg('dgram,id=d0,remote.type=inet,remote.host=239.1.2.3,remote.port=5000')).toEqual({ type: 'dgram', id: 'd0', remote: { type: 'inet', host: '239.1.2.3', port: '5000' } });
    expect(parseNetdevArg('stream,id=s0,server=on,server=off,addr.type=unix,addr.path=/tmp/a,,b')).toEqual({ type: 'stream', id: 's0', server: false, addr: { type: 'unix', path: '/tmp/a,b' } });
    expect(parseNetdevArg('{"type":"user","id":"j","hostfwd":[{"str":"tcp::1-:2"}]}')).toEqual({ type: 'user', id: 'j', hostfwd: ['tcp::1-:2'] });
    expect(parseNetdevArg(' {"type":"dgram","id":"d","local":{"type":"fd","str":"3"}}')).toEqual({ type: 'dgram', id: 'd', local: { type: 'fd', str: '3' } });
  });

  it.each([
    ['', 'type', /Parameter 'type' is missing/],
    ['id=n0', 'type', /Parameter 'type' is missing/],
    ['foo,id=n0', 'type', /does not accept value 'foo'/],
    ['user,id=n0,bogus=1', 'bogus', /Invalid parameter 'bogus'/],
    ['user,id=n0,restrict=1', 'restrict', /Parameter 'restrict' expects 'on' or 'off'/],
    ['user,id=n0,ipv6-prefixlen=abc', 'ipv6-prefixlen', /expects int64_t/],
    ['user,id=n0,ipv6-net=fd00::/x', 'ipv6-net', /parameter 'ipv6-net' expects a number after '\/'/],
    ['tap,id=t0,sndbuf=1Q', 'sndbuf', /Parameter 'sndbuf' expects a size value/],
    ['tap,id=t0,queues=5000000000', 'queues', /expects uint32_t/],
    ['stream,id=s0,server,addr.type=inet,addr.host=h,addr.port=1', 'server', /Expected '=' after parameter 'server'/],
    ['stream,id=s0,server=on', 'addr', /Parameter 'addr' is missing/],
    ['stream,id=s0,addr.type=inet,addr.host=127.0.0.1', 'addr.port', /Parameter 'addr.port' is missing/],
    ['stream,id=s0,addr.type=inet,addr.host=h,addr.port=1,addr.bad=1', 'addr.bad', /Parameter 'addr.bad' is unexpected/],
    ['stream,id=s0,addr=x', 'addr', /expects a socket address/],
    ['dgram,id=d0,bogus=1', 'bogus', /Parameter 'bogus' is unexpected/],
    ['{"type":', '(netdev)', /not valid JSON/],
  ])('rejects %j naming %s', (text, field, message) => {
    const e = errorOf(() => parseNetdevArg(text));
    expect(e.field).toBe(field);
    expect(e.message).toMatch(message);
  });

  it('parseNetdevArgRaw gives what QEMU would receive, without the rules', () => {
    expect(parseNetdevArgRaw('user,id=u,ipv4=off,ipv6=off')).toEqual({ type: 'user', id: 'u', ipv4: false, ipv6: false });
  });

  it('parses sizes as qemu_strtosz does', () => {
    expect(parseSize('4096')).toBe(4096n);
    expect(parseSize('1M')).toBe(1048576n);
    expect(parseSize('2g')).toBe(2n ** 31n);
    expect(parseSize('1.5k')).toBe(1536n);
    expect(parseSize('0x10')).toBe(16n);
    expect(parseSize('1.5')).toBeUndefined();
    expect(parseSize('k')).toBeUndefined();
  });
});

describe('QMP netdev_add arguments', () => {
  it('uses JSON types: booleans, numbers, nested addresses, String lists as {"str"} objects', () => {
    expect(toQmpArguments({ type: 'user', id: 'n0', restrict: true, hostfwd: ['tcp::2222-:22'], dnssearch: ['example.org'] }))
      .toEqual({ type: 'user', id: 'n0', restrict: true, hostfwd: [{ str: 'tcp::2222-:22' }], dnssearch: [{ str: 'example.org' }] });
    expect(toQmpArguments({ type: 'stream', id: 's0', server: true, addr: { type: 'inet', host: '127.0.0.1', port: '5555' } }))
      .toEqual({ type: 'stream', id: 's0', server: true, addr: { type: 'inet', host: '127.0.0.1', port: '5555' } });
    expect(toQmpArguments({ type: 'tap', id: 't0', queues: 2, vhost: false })).toEqual({ type: 'tap', id: 't0', queues: 2, vhost: false });
  });

  it('writes uint64 beyond 2^53 as exact JSON digits', () => {
    const args = toQmpArguments({ type: 'l2tpv3', id: 'l', src: 'a', dst: 'b', txsession: 1, txcookie: 2n ** 64n - 1n, rxcookie: 1 });
    expect(jsonText(args)).toBe('{"type":"l2tpv3","id":"l","src":"a","dst":"b","txcookie":18446744073709551615,"rxcookie":1,"txsession":1}');
  });

  it('fromQmpArguments is the inverse', () => {
    const n: Netdev = { type: 'user', id: 'n0', hostfwd: ['tcp::1-:2'], guestfwd: ['tcp:10.0.2.100:1-cmd:cat'] };
    expect(validateNetdev(fromQmpArguments(toQmpArguments(n)))).toEqual(n);
  });

  it('validates before producing arguments', () => {
    expect(errorOf(() => toQmpArguments({ type: 'dgram', id: 'd' } as Netdev)).field).toBe('local');
  });
});

describe('the schema listing for the UI', () => {
  const schema = describeNetdevSchema();

  it('lists every driver with every member typed and documented', () => {
    expect(schema.drivers.map((d) => d.type)).toEqual(NETDEV_TYPES);
    for (const d of schema.drivers) {
      expect(d.description, d.type).not.toBe('');
      expect(d.options.length, d.type).toBeGreaterThan(0);
      for (const o of d.options) {
        expect(o.description, `${d.type}.${o.name}`).not.toBe('');
        if (['int', 'int32', 'uint16', 'uint32', 'uint64', 'size'].includes(o.qapi)) expect(o.max, `${d.type}.${o.name}`).toBeDefined();
      }
    }
  });

  it('takes af-xdp from native/afxdp NetdevAFXDPOptionsSchema', () => {
    const afxdp = schema.drivers.find((d) => d.type === 'af-xdp')!;
    expect(afxdp.options.map((o) => o.name)).toEqual(Object.keys(NetdevAFXDPOptionsSchema.shape));
    expect(afxdp.options.find((o) => o.name === 'mode')).toMatchObject({ qapi: 'enum', values: ['native', 'skb'], required: false });
    expect(afxdp.options.find((o) => o.name === 'ifname')).toMatchObject({ required: true, minLength: 1, maxLength: 15 });
    expect(afxdp).toMatchObject({ struct: 'NetdevAFXDPOptions', since: '8.2', condition: 'CONFIG_AF_XDP' });
  });

  it('describes SocketAddress variants and ranges', () => {
    const stream = schema.drivers.find((d) => d.type === 'stream')!;
    const addr = stream.options.find((o) => o.name === 'addr')!;
    expect(Object.keys(addr.variants!)).toEqual(['inet', 'unix', 'vsock', 'fd']);
    expect(addr.variants!.inet!.find((m) => m.name === 'to')).toMatchObject({ qapi: 'uint16', min: '0', max: '65535' });
    expect(stream.options.find((o) => o.name === 'reconnect-ms')).toMatchObject({ qapi: 'uint32', since: '9.2' });
  });

  it('is plain JSON', () => {
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
  });
});

describe('address parsing as QEMU does it', () => {
  it('inet_aton', () => {
    expect(inetAton('10.0.2.15')).toBe(0x0a00020f);
    expect(inetAton('10.0.527')).toBe(0x0a00020f);
    expect(inetAton('0x0a.0.2.017')).toBe(0x0a00020f);
    expect(inetAton('167772687')).toBe(0x0a00020f);
    expect(inetAton('256.0.0.1')).toBeUndefined();
    expect(inetAton('1.2.3.4.5')).toBeUndefined();
    expect(inetAton('')).toBeUndefined();
  });

  it('inet_pton for IPv6', () => {
    expect(inetPton6('fec0::2')).toEqual(Uint8Array.from([0xfe, 0xc0, ...new Array(13).fill(0), 2]));
    expect(inetPton6('::ffff:1.2.3.4')?.slice(10)).toEqual(Uint8Array.from([0xff, 0xff, 1, 2, 3, 4]));
    expect(inetPton6('1:2:3:4:5:6:7:8')).toBeDefined();
    expect(inetPton6('1::2::3')).toBeUndefined();
    expect(inetPton6('zz::')).toBeUndefined();
    expect(inetPton6('1.2.3.4')).toBeUndefined();
  });
});

describe('capabilities: the pure parts', () => {
  const dirs: string[] = [];
  afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

  const schemaWith = (cases: Record<string, string[]>): QmpSchemaEntry[] => {
    const entries: QmpSchemaEntry[] = [
      { name: 'netdev_add', 'meta-type': 'command', 'arg-type': '1' },
      { name: '1', 'meta-type': 'object', tag: 'type', variants: Object.keys(cases).map((c, i) => ({ case: c, type: String(10 + i) })), members: [{ name: 'id', type: 'str' }, { name: 'type', type: '2' }] },
      { name: '2', 'meta-type': 'enum', values: Object.keys(cases) },
      { name: '3', 'meta-type': 'enum', values: ['native', 'skb'] },
    ];
    Object.entries(cases).forEach(([, members], i) => entries.push({ name: String(10 + i), 'meta-type': 'object', members: members.map((m) => (m === 'mode' ? { name: m, type: '3', default: null } : { name: m, type: 'str' })) }));
    return entries;
  };

  it('reads the Netdev union and NetdevAFXDPOptions members from query-qmp-schema', () => {
    const union = netdevUnionFromSchema(schemaWith({ user: ['hostname'], 'af-xdp': ['ifname', 'mode'] }))!;
    expect(union['af-xdp']).toEqual([{ name: 'ifname', type: 'str', optional: false }, { name: 'mode', type: 'enum(native|skb)', optional: true }]);
  });

  const facts = (over: Partial<QemuFacts>): QemuFacts => ({ version: '10.0.2', versionText: '', netdevHelp: ['user', 'stream'], accelerators: ['tcg'], ...over });

  it('says why a driver is missing', () => {
    const a = driverAvailability(facts({ netdevUnion: { user: [], stream: [{ name: 'addr', type: 'object', optional: false }], netmap: [] } }));
    expect(a.user.available).toBe(true);
    expect(a.netmap).toMatchObject({ available: false });
    expect(a['af-xdp'].reason).toMatch(/^this QEMU lacks af-xdp: built without libxdp >= 1\.4/);
    expect(a.vde.reason).toMatch(/built without libvdeplug/);
    expect(a.stream.missingMembers).toEqual(['server', 'reconnect', 'reconnect-ms']);
    expect(lackReason('stream', '7.1.0')).toBe('this QEMU lacks stream: it appeared in QEMU 7.2, and this is QEMU 7.1.0');
  });

  it('reports members a newer QEMU has and xdplab does not model', () => {
    const a = driverAvailability(facts({ netdevUnion: { user: [{ name: 'hostname', type: 'str', optional: true }, { name: 'future', type: 'str', optional: true }] } }));
    expect(a.user.extraMembers).toEqual(['future']);
  });

  it('parses -accel help', () => {
    expect(parseAccelHelp('Accelerators supported in QEMU binary:\ntcg\nkvm\n')).toEqual(['tcg', 'kvm']);
  });

  it('data directories: none for the system QEMU; <prefix>/share/qemu first, then the system ones', () => {
    expect(dataDirsFor({ realPath: '/usr/bin/qemu-system-x86_64', system: true })).toEqual([]);
    const prefix = mkdtempSync(join(tmpdir(), 'xl-prefix-'));
    dirs.push(prefix);
    mkdirSync(join(prefix, 'bin'));
    mkdirSync(join(prefix, 'share', 'qemu'), { recursive: true });
    writeFileSync(join(prefix, 'bin', 'qemu-system-x86_64'), '');
    const got = dataDirsFor({ realPath: join(prefix, 'bin', 'qemu-system-x86_64'), system: false });
    expect(got[0]).toBe(join(prefix, 'share', 'qemu'));
    // a build tree: pc-bios next to the binary
    const build = mkdtempSync(join(tmpdir(), 'xl-build-'));
    dirs.push(build);
    mkdirSync(join(build, 'pc-bios'));
    expect(dataDirsFor({ realPath: join(build, 'qemu-system-x86_64'), system: false })[0]).toBe(join(build, 'pc-bios'));
  });
});

describe('xdplab netdev (CLI)', () => {
  const runCli = async (...args: string[]) => {
    let out = '';
    let err = '';
    const code = await netdevCli(args, { out: (t) => { out += t; }, err: (t) => { err += t; } });
    return { code, out, err };
  };

  it('check prints the QMP arguments and exits 0', async () => {
    const r = await runCli('check', 'user,id=n0,hostfwd=tcp::2222-:22');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ type: 'user', id: 'n0', hostfwd: [{ str: 'tcp::2222-:22' }] });
  });

  it('check --cmdline prints the canonical argument', async () => {
    const r = await runCli('check', '--cmdline', 'stream,id=s,addr.type=inet,addr.host=127.0.0.1,addr.port=5555,server=on');
    expect(r).toMatchObject({ code: 0, out: 'stream,id=s,addr.type=inet,addr.host=127.0.0.1,addr.port=5555,server=on\n' });
  });

  it('check exits 2 with the field, the message and what is allowed', async () => {
    const r = await runCli('check', 'vde,id=v0,port=70000');
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/port: expects uint16_t, an integer from 0 to 65535, got 70000/);
    expect(r.err).toMatch(/field: port/);
    const r2 = await runCli('check', 'af-xdp,id=a0,ifname=eth0,inhibit=on');
    expect(r2.code).toBe(2);
    expect(r2.err).toMatch(/sock-fds: 'inhibit=on' requires 'sock-fds' and vice versa/);
  });

  it('bad usage exits 2', async () => {
    expect((await runCli('check')).code).toBe(2);
    expect((await runCli('check', '--nope', 'user,id=n')).code).toBe(2);
    expect((await runCli('frobnicate')).code).toBe(2);
    expect((await runCli()).code).toBe(2);
    expect((await runCli('schema', 'nope')).code).toBe(2);
  });

  it('schema --json lists the drivers; schema TYPE shows members', async () => {
    const r = await runCli('schema', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).drivers).toHaveLength(NETDEV_TYPES.length);
    const t = await runCli('schema', 'af-xdp');
    expect(t.out).toMatch(/sock-fds \(str, optional\): A colon/);
  });

  it('--help exits 0', async () => {
    const r = await runCli('--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Usage: xdplab netdev check/);
  });
});
