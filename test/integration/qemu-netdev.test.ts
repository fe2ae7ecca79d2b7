// The netdev model and capabilities against the installed QEMU. For every driver xdplab models:
// where this QEMU has it, a valid option set is accepted (netdev_add, then netdev_del) and
// invalid ones are rejected by xdplab before sending and by QEMU when sent anyway; where a
// driver needs what this machine lacks, the test asserts QEMU's reason. Drivers this QEMU lacks
// are rejected by QEMU with the reason capabilities gives. Taps and bridges are xl-<6hex>-<x>.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { NETDEV_TYPES, formatNetdevArg, fromQmpArguments, toQmpArguments, validateNetdev, type Netdev, type NetdevType } from '../../benchmarks/qemu/netdev.js';
import { qemuCapabilities, type QemuCapabilities } from '../../benchmarks/qemu/capabilities.js';
import { QmpError, waitForStreamSetup, type QmpClient } from '../../benchmarks/qemu/qmp.js';
import { suite } from '../helpers/requirements.js';
import { QEMU_BIN, addBridge, childProcesses, cleanupQemuResources, freeUdpPort, hasExecutable, hex6, linkExists, linkMaster, startControlQemu, startFakeVhostUser, startVdeSwitch, tempDir, trackLink, writeBridgeHelper, type ControlQemu } from '../helpers/qemu.js';

const isRoot = process.getuid?.() === 0;
const hasTun = existsSync('/dev/net/tun');

function errorOf(fn: () => unknown): LabError {
  try { fn(); } catch (e) { if (e instanceof LabError) return e; throw e; }
  throw new Error('expected a LabError');
}

async function qmpError(p: Promise<unknown>): Promise<QmpError> {
  try { await p; } catch (e) { if (e instanceof QmpError) return e; throw e; }
  throw new Error('expected QEMU to refuse');
}

suite('netdev model and capabilities against real QEMU', { tools: [QEMU_BIN] }, () => {
  const hex = hex6();
  const results: string[] = [];
  let caps: QemuCapabilities;
  let q: ControlQemu;
  let c: QmpClient;
  let dir: string;
  let seq = 0;

  beforeAll(async () => {
    caps = await qemuCapabilities({ cacheDir: tempDir(), refresh: true, kvm: false });
    q = startControlQemu();
    c = await q.connect();
    dir = tempDir();
  });

  afterAll(async () => {
    if (results.length) process.stdout.write(`\nWhat ${caps?.binary.path} (QEMU ${caps?.version}) did with each driver here:\n${results.map((r) => `  ${r}`).join('\n')}\n`);
    await cleanupQemuResources();
    const left = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(`xl-${hex}-`));
    expect(left).toEqual([]);
    expect(childProcesses().filter((p) => p.startsWith('qemu') || p === 'vde_switch' || p.startsWith('python'))).toEqual([]);
  });

  const nextId = (type: string) => `${type}${++seq}`;

  /** xdplab accepts it, QEMU accepts it, netdev_del removes it. */
  async function accepted(n: Netdev, check?: { afterAdd?: () => void | Promise<void>; afterDel?: () => void | Promise<void> }): Promise<void> {
    const v = validateNetdev(n);
    await c.execute('netdev_add', toQmpArguments(v));
    await check?.afterAdd?.();
    await c.execute('netdev_del', { id: v.id });
    await check?.afterDel?.();
    results.push(`${n.type}: accepted ${formatNetdevArg(v)}`);
  }

  /** xdplab rejects it naming `field`; QEMU, sent it anyway (raw netdev_add), refuses too. */
  async function rejectedByBoth(raw: Record<string, unknown>, field: string, qemuSays: RegExp): Promise<void> {
    const e = errorOf(() => validateNetdev(fromQmpArguments(raw)));
    expect(e.field).toBe(field);
    const qe = await qmpError(c.execute('netdev_add', raw));
    expect(qe.desc).toMatch(qemuSays);
    results.push(`${String(raw.type)}: rejected ${JSON.stringify(raw)} -> xdplab: ${e.message} | QEMU: ${qe.desc}`);
  }

  /** Valid for xdplab, refused by QEMU for a reason of this machine or build: assert the reason. */
  async function refusedHere(n: Netdev, qemuSays: RegExp, why: string): Promise<void> {
    const v = validateNetdev(n);
    const qe = await qmpError(c.execute('netdev_add', toQmpArguments(v)));
    expect(qe.desc).toMatch(qemuSays);
    results.push(`${n.type}: cannot be accepted here (${why}): ${formatNetdevArg(v)} -> QEMU: ${qe.desc}`);
  }

  describe('capabilities', () => {
    it('version, -netdev help and query-qmp-schema agree with the binary', () => {
      const out = execFileSync(caps.binary.realPath, ['--version'], { encoding: 'utf8' });
      expect(out).toContain(`QEMU emulator version ${caps.version}`);
      const help = execFileSync(caps.binary.realPath, ['-netdev', 'help'], { encoding: 'utf8' });
      for (const t of caps.netdevHelp) expect(help).toContain(`\n${t}\n`);
      expect(caps.netdevHelp).toContain('user');
      expect(caps.schemaProblem).toBeUndefined();
      expect(Object.keys(caps.netdevUnion!)).toEqual(expect.arrayContaining(['user', 'tap', 'socket', 'hubport']));
      for (const t of NETDEV_TYPES) {
        expect(caps.drivers[t].available, t).toBe(caps.netdevHelp.includes(t));
        if (!caps.drivers[t].available) expect(caps.drivers[t].reason, t).toMatch(new RegExp(`^this QEMU lacks ${t}: `));
      }
      // NetdevAFXDPOptions: present exactly when the union has af-xdp, with the schema's members
      expect(caps.afXdp.present).toBe('af-xdp' in caps.netdevUnion!);
      if (caps.afXdp.present) expect(caps.afXdp.members).toEqual(expect.arrayContaining(['ifname', 'mode', 'force-copy', 'queues', 'start-queue', 'inhibit', 'sock-fds']));
      else expect(caps.afXdp.reason).toMatch(/^this QEMU lacks af-xdp: built without libxdp >= 1\.4/);
      expect(caps.binary.system ? caps.dataDirs : ['not system']).toEqual(caps.binary.system ? [] : ['not system']);
      results.push(`capabilities: QEMU ${caps.version}; has ${caps.netdevHelp.join(' ')}; af-xdp ${caps.afXdp.present ? 'present' : 'absent'}`);
    });

    it('caches per binary (path, mtime, size) in XDPLAB_CACHE_DIR; a changed binary is asked again; -L follows a binary outside /usr/bin', async () => {
      const root = tempDir();
      const prefix = join(root, 'prefix');
      mkdirSync(join(prefix, 'bin'), { recursive: true });
      mkdirSync(join(prefix, 'share', 'qemu'), { recursive: true });
      const copy = join(prefix, 'bin', 'qemu-system-x86_64');
      copyFileSync(caps.binary.realPath, copy);
      execFileSync('chmod', ['755', copy]);
      const saved = { cache: process.env.XDPLAB_CACHE_DIR, qemu: process.env.XDPLAB_QEMU };
      process.env.XDPLAB_CACHE_DIR = join(root, 'cache');
      process.env.XDPLAB_QEMU = copy;
      try {
        const first = await qemuCapabilities({ kvm: false });
        expect(first).toMatchObject({ fromCache: false, version: caps.version });
        expect(first.binary).toMatchObject({ source: 'env', realPath: copy, system: false });
        expect(first.cacheFile.startsWith(join(root, 'cache'))).toBe(true);
        expect(existsSync(first.cacheFile)).toBe(true);
        expect(first.dataDirs[0]).toBe(join(prefix, 'share', 'qemu'));
        expect(first.dataDirs).toEqual(expect.arrayContaining(['/usr/share/qemu'].filter((d) => existsSync(d))));
        const second = await qemuCapabilities({ kvm: false });
        expect(second.fromCache).toBe(true);
        expect(second.drivers).toEqual(first.drivers);
        utimesSync(copy, new Date(), new Date(Date.now() - 3600_000));
        expect((await qemuCapabilities({ kvm: false })).fromCache).toBe(false);
        // an explicit path wins over XDPLAB_QEMU
        expect((await qemuCapabilities({ qemu: caps.binary.realPath, kvm: false })).binary).toMatchObject({ source: 'option', system: caps.binary.system });
      } finally {
        if (saved.cache === undefined) delete process.env.XDPLAB_CACHE_DIR; else process.env.XDPLAB_CACHE_DIR = saved.cache;
        if (saved.qemu === undefined) delete process.env.XDPLAB_QEMU; else process.env.XDPLAB_QEMU = saved.qemu;
      }
    });

    it('probing leaves no QEMU process and no socket directory behind', async () => {
      const before = readdirSync(tmpdir()).filter((f) => f.startsWith('xl-qemu-'));
      await qemuCapabilities({ cacheDir: tempDir(), refresh: true, kvm: false });
      expect(readdirSync(tmpdir()).filter((f) => f.startsWith('xl-qemu-'))).toEqual(before);
      expect(childProcesses().filter((p) => p.startsWith('qemu'))).toEqual(['qemu-system-x86']); // the control QEMU of this suite
    });

    it('a missing binary is QEMU_NOT_FOUND with what to do', async () => {
      const e = await qemuCapabilities({ qemu: '/nonexistent/qemu-system-x86_64', kvm: false }).then(() => undefined, (err: unknown) => err);
      expect(e).toBeInstanceOf(LabError);
      expect(e).toMatchObject({ code: 'QEMU_NOT_FOUND', field: 'qemu' });
      expect((e as LabError).hint).toMatch(/--qemu PATH or XDPLAB_QEMU/);
    });

    it('KVM: usable or not, with the probe\'s reason', async () => {
      const withKvm = await qemuCapabilities({ cacheDir: tempDir(), kvm: true });
      expect(typeof withKvm.kvm.usable).toBe('boolean');
      expect(withKvm.kvm.detail).not.toBe('not probed');
      if (!withKvm.accelerators.includes('kvm')) expect(withKvm.kvm.usable).toBe(false);
      results.push(`kvm: ${withKvm.kvm.usable ? 'usable' : 'not usable'}: ${withKvm.kvm.detail}`);
    });
  });

  /** For a driver this QEMU lacks: QEMU refuses any option set, with the type as the reason. */
  async function lacking(type: NetdevType, valid: Netdev, invalid: Record<string, unknown>, invalidField: string, qemuInvalid?: RegExp): Promise<void> {
    expect(caps.drivers[type].reason).toMatch(new RegExp(`^this QEMU lacks ${type}: `));
    const notHere = new RegExp(`Parameter 'type' does not accept value '${type}'|network backend '${type}' is not compiled into this binary`);
    await refusedHere(valid, notHere, caps.drivers[type].reason!);
    await rejectedByBoth(invalid, invalidField, qemuInvalid ?? notHere);
  }

  const drivers: Record<NetdevType, () => Promise<void>> = {
    user: async () => {
      await accepted({
        type: 'user', id: nextId('user'), net: '10.0.9.0/24', host: '10.0.9.2', dhcpstart: '10.0.9.20', dns: '10.0.9.3', restrict: true,
        hostname: 'xl', domainname: 'xl.test', dnssearch: ['xl.test'], hostfwd: ['tcp:127.0.0.1:0-:22', 'udp:127.0.0.1:0-:53'],
        guestfwd: ['tcp:10.0.9.100:1234-cmd:cat'], 'ipv6-prefix': 'fd00:9::', 'ipv6-prefixlen': 64, 'tftp-server-name': 'xl',
      });
      await rejectedByBoth({ type: 'user', id: nextId('user'), ipv4: false, ipv6: false }, 'ipv4', /^IPv4 and IPv6 disabled$/);
      await rejectedByBoth({ type: 'user', id: nextId('user'), net: '10.0.2.0/33' }, 'net', /Invalid netmask provided \(must be in range 4-32\)/);
      await rejectedByBoth({ type: 'user', id: nextId('user'), net: '10.0.3.0/24', dhcpstart: '10.0.2.15' }, 'dhcpstart', /DHCP doesn't belong to network/);
      await rejectedByBoth({ type: 'user', id: nextId('user'), dns: '10.0.2.2' }, 'dns', /DNS must be different from host/);
      await rejectedByBoth({ type: 'user', id: nextId('user'), hostfwd: [{ str: 'bogus' }] }, 'hostfwd', /Invalid host forwarding rule 'bogus' \(No : separators\)/);
      await rejectedByBoth({ type: 'user', id: nextId('user'), hostfwd: [{ str: 'tcp::70000-:22' }] }, 'hostfwd', /\(Bad host port\)/);
      await rejectedByBoth({ type: 'user', id: nextId('user'), guestfwd: [{ str: 'tcp:10.0.2.100:99999-cmd:cat' }] }, 'guestfwd', /Invalid guest forwarding rule/);
      await rejectedByBoth({ type: 'user', id: nextId('user'), domainname: '' }, 'domainname', /'domainname' parameter cannot be empty/);
      await rejectedByBoth({ type: 'user', id: nextId('user'), 'ipv6-prefixlen': 127 }, 'ipv6-prefixlen', /IPv6 prefix length must be between 0 and 126/);
      await rejectedByBoth({ type: 'user', id: nextId('user'), restrict: 'yes' }, 'restrict', /Invalid parameter type for 'restrict', expected: boolean/);
      await rejectedByBoth({ type: 'user', id: '0bad' }, 'id', /Parameter 'id' expects an identifier/);
      await rejectedByBoth({ type: 'user', id: nextId('user'), bogus: 1 }, 'bogus', /Parameter 'bogus' is unexpected/);
    },

    tap: async () => {
      const ifname = `xl-${hex}-t`;
      trackLink(ifname);
      const tap: Netdev = { type: 'tap', id: nextId('tap'), ifname, script: 'no', downscript: 'no', vnet_hdr: true, sndbuf: 1048576 };
      if (isRoot && hasTun) {
        await accepted(tap, { afterAdd: () => expect(linkExists(ifname)).toBe(true), afterDel: () => expect(linkExists(ifname)).toBe(false) });
        const mq = `xl-${hex}-q`;
        trackLink(mq);
        await accepted({ type: 'tap', id: nextId('tap'), ifname: mq, script: 'no', downscript: 'no', queues: 2 }, { afterAdd: () => expect(linkExists(mq)).toBe(true), afterDel: () => expect(linkExists(mq)).toBe(false) });
      } else {
        await refusedHere(tap, /could not configure \/dev\/net\/tun|could not open \/dev\/net\/tun/, isRoot ? 'no /dev/net/tun' : 'not root: creating a tap needs CAP_NET_ADMIN');
      }
      await rejectedByBoth({ type: 'tap', id: nextId('tap'), fd: '3', ifname }, 'ifname', /ifname=, script=, downscript=, vnet_hdr=, helper=, queues=, fds=, and vhostfds= are invalid with fd=/);
      await rejectedByBoth({ type: 'tap', id: nextId('tap'), fds: '3:4', queues: 2 }, 'queues', /are invalid with fds=/);
      await rejectedByBoth({ type: 'tap', id: nextId('tap'), helper: '/nonexistent', script: 'no' }, 'script', /are invalid with helper=/);
      await rejectedByBoth({ type: 'tap', id: nextId('tap'), vhostfds: '3:4' }, 'vhostfds', /vhostfds= is invalid if fds= wasn't specified/);
      await rejectedByBoth({ type: 'tap', id: nextId('tap'), queues: 4294967296 }, 'queues', /Parameter 'queues' expects uint32_t/);
      if (isRoot && hasTun) {
        const v = `xl-${hex}-v`;
        trackLink(v);
        await rejectedByBoth({ type: 'tap', id: nextId('tap'), ifname: v, script: 'no', downscript: 'no', vhost: false, vhostfd: '3' }, 'vhostfd', /vhostfd\(s\)= is not valid without vhost/);
        expect(linkExists(v)).toBe(false);
      }
    },

    l2tpv3: async () => {
      const [p1, p2] = [await freeUdpPort(), await freeUdpPort()];
      await accepted({ type: 'l2tpv3', id: nextId('l2tpv3'), src: '127.0.0.1', dst: '127.0.0.1', udp: true, srcport: String(p1), dstport: String(p2), txsession: 1, rxsession: 2, cookie64: true, txcookie: 2 ** 40, rxcookie: 2 ** 40 + 1, counter: true, offset: 16 });
      const raw: Netdev = { type: 'l2tpv3', id: nextId('l2tpv3'), src: '127.0.0.1', dst: '127.0.0.1', txsession: 3 };
      if (isRoot) await accepted(raw); // L2TPv3 over IP: a raw socket (CAP_NET_RAW)
      else await refusedHere(raw, /socket creation failed/, 'not root: L2TPv3 over IP needs a raw socket (CAP_NET_RAW)');
      await rejectedByBoth({ type: 'l2tpv3', id: nextId('l2tpv3'), src: '127.0.0.1', dst: '127.0.0.1', txsession: 1, offset: 257 }, 'offset', /offset must be less than 256 bytes/);
      await rejectedByBoth({ type: 'l2tpv3', id: nextId('l2tpv3'), src: '127.0.0.1', dst: '127.0.0.1', txsession: 1, txcookie: 1 }, 'rxcookie', /require both 'rxcookie' and 'txcookie' or neither/);
      await rejectedByBoth({ type: 'l2tpv3', id: nextId('l2tpv3'), src: '127.0.0.1', dst: '127.0.0.1', txsession: 1, udp: true }, 'srcport', /need both src and dst port for udp/);
      await rejectedByBoth({ type: 'l2tpv3', id: nextId('l2tpv3'), src: '127.0.0.1', dst: '127.0.0.1', txsession: 2 ** 32 }, 'txsession', /Parameter 'txsession' expects uint32_t/);
      await rejectedByBoth({ type: 'l2tpv3', id: nextId('l2tpv3'), dst: '127.0.0.1', txsession: 1 }, 'src', /Parameter 'src' is missing/);
      await rejectedByBoth({ type: 'l2tpv3', id: nextId('l2tpv3'), src: '::1', dst: '127.0.0.1', txsession: 1 }, 'src', /could not resolve src, errno = Address family for hostname not supported/);
    },

    socket: async () => {
      await accepted({ type: 'socket', id: nextId('socket'), listen: '127.0.0.1:0' });
      const [p1, p2] = [await freeUdpPort(), await freeUdpPort()];
      await accepted({ type: 'socket', id: nextId('socket'), udp: `127.0.0.1:${p1}`, localaddr: `127.0.0.1:${p2}` });
      await accepted({ type: 'socket', id: nextId('socket'), mcast: `230.0.0.1:${await freeUdpPort()}` });
      await rejectedByBoth({ type: 'socket', id: nextId('socket') }, 'fd, listen, connect, mcast, udp', /exactly one of listen=, connect=, mcast= or udp= is required/);
      await rejectedByBoth({ type: 'socket', id: nextId('socket'), listen: '127.0.0.1:0', connect: '127.0.0.1:1' }, 'connect', /exactly one of/);
      await rejectedByBoth({ type: 'socket', id: nextId('socket'), listen: '127.0.0.1:0', localaddr: '127.0.0.1:0' }, 'localaddr', /localaddr= is only valid with mcast= or udp=/);
      await rejectedByBoth({ type: 'socket', id: nextId('socket'), udp: '127.0.0.1:1' }, 'localaddr', /localaddr= is mandatory with udp=/);
      await rejectedByBoth({ type: 'socket', id: nextId('socket'), mcast: '127.0.0.1:5000' }, 'mcast', /does not contain a multicast address/);
      await rejectedByBoth({ type: 'socket', id: nextId('socket'), mcast: ':5000' }, 'mcast', /specified mcastaddr 0.0.0.0 \(0x00000000\) does not contain a multicast address/);
      await rejectedByBoth({ type: 'socket', id: nextId('socket'), connect: '127.0.0.1' }, 'connect', /doesn't contain ':' separating host from port/);
      await rejectedByBoth({ type: 'socket', id: nextId('socket'), connect: '300.1.1.1:5' }, 'connect', /host address '300.1.1.1' is not a valid IPv4 address/);
      await rejectedByBoth({ type: 'socket', id: nextId('socket'), listen: '127.0.0.1:x' }, 'listen', /port number 'x' is invalid/);
      await rejectedByBoth({ type: 'socket', id: nextId('socket'), mcast: '230.0.0.1:5000', localaddr: 'nothing' }, 'localaddr', /localaddr 'nothing' is not a valid IPv4 address/);
    },

    stream: async () => {
      // QEMU 10.0.2 crashes if a stream server is deleted while its listen is still pending:
      // wait until info network says listening.
      const listening = (id: string) => async () => { expect(await waitForStreamSetup(c, id)).toMatch(/listening$/); };
      const s1 = nextId('stream');
      await accepted({ type: 'stream', id: s1, server: true, addr: { type: 'inet', host: '127.0.0.1', port: '0' } }, { afterAdd: listening(s1) });
      const s2 = nextId('stream');
      await accepted({ type: 'stream', id: s2, server: true, addr: { type: 'unix', path: join(dir, 'stream.sock') } }, { afterAdd: listening(s2) });
      await accepted({ type: 'stream', id: nextId('stream'), 'reconnect-ms': 1000, addr: { type: 'inet', host: '127.0.0.1', port: '1' } });
      await rejectedByBoth({ type: 'stream', id: nextId('stream'), server: true, reconnect: 1, addr: { type: 'inet', host: '127.0.0.1', port: '0' } }, 'reconnect', /'reconnect' and 'reconnect-ms' options are incompatible with socket in server mode/);
      await rejectedByBoth({ type: 'stream', id: nextId('stream'), reconnect: 1, 'reconnect-ms': 5, addr: { type: 'inet', host: '127.0.0.1', port: '1' } }, 'reconnect-ms', /'reconnect' and 'reconnect-ms' are mutually exclusive/);
      await rejectedByBoth({ type: 'stream', id: nextId('stream'), addr: { type: 'inet', host: '127.0.0.1' } }, 'addr.port', /Parameter 'addr.port' is missing/);
      await rejectedByBoth({ type: 'stream', id: nextId('stream'), addr: { type: 'bogus' } }, 'addr.type', /does not accept value 'bogus'/);
      await rejectedByBoth({ type: 'stream', id: nextId('stream'), server: true }, 'addr', /Parameter 'addr' is missing/);
      // The schema says only unix, inet and fd: xdplab refuses vsock. (QEMU 10.0 accepts it.)
      const vsock = { type: 'stream', id: nextId('stream'), addr: { type: 'vsock', cid: '2', port: '5' } };
      expect(errorOf(() => validateNetdev(vsock)).field).toBe('addr.type');
      const qemuVsock = await c.execute('netdev_add', vsock).then(() => 'accepted', (e: QmpError) => `refused: ${e.desc}`);
      if (qemuVsock === 'accepted') await c.execute('netdev_del', { id: vsock.id });
      results.push(`stream: vsock address: xdplab refuses (schema prose); QEMU ${qemuVsock}`);
    },

    dgram: async () => {
      const [p1, p2] = [await freeUdpPort(), await freeUdpPort()];
      await accepted({ type: 'dgram', id: nextId('dgram'), local: { type: 'inet', host: '127.0.0.1', port: String(p1) }, remote: { type: 'inet', host: '127.0.0.1', port: String(p2) } });
      await accepted({ type: 'dgram', id: nextId('dgram'), remote: { type: 'inet', host: '239.1.2.3', port: String(await freeUdpPort()) } });
      await accepted({ type: 'dgram', id: nextId('dgram'), local: { type: 'unix', path: join(dir, 'dl.sock') }, remote: { type: 'unix', path: join(dir, 'dr.sock') } });
      await rejectedByBoth({ type: 'dgram', id: nextId('dgram') }, 'local', /dgram requires local= parameter/);
      await rejectedByBoth({ type: 'dgram', id: nextId('dgram'), local: { type: 'unix', path: join(dir, 'x.sock') } }, 'remote', /type=inet or type=unix requires remote parameter/);
      await rejectedByBoth({ type: 'dgram', id: nextId('dgram'), local: { type: 'inet', host: '127.0.0.1', port: '0' }, remote: { type: 'unix', path: join(dir, 'y.sock') } }, 'remote.type', /remote and local types must be the same/);
      await rejectedByBoth({ type: 'dgram', id: nextId('dgram'), remote: { type: 'inet', host: '239.1.2.3', port: '5000' }, local: { type: 'unix', path: join(dir, 'z.sock') } }, 'local.type', /only support inet or fd type for local/);
      await rejectedByBoth({ type: 'dgram', id: nextId('dgram'), local: { type: 'fd', str: '3' }, remote: { type: 'inet', host: '127.0.0.1', port: '7' } }, 'remote', /don't set remote with local.fd/);
      await rejectedByBoth({ type: 'dgram', id: nextId('dgram'), remote: { type: 'inet', host: '127.0.0.1', port: '7' } }, 'local', /dgram requires local= parameter/);
      await rejectedByBoth({ type: 'dgram', id: nextId('dgram'), local: { type: 'inet', host: '300.0.0.1', port: '1' }, remote: { type: 'inet', host: '127.0.0.1', port: '5' } }, 'local.host', /host address '300.0.0.1' is not a valid IPv4 address/);
    },

    vde: async () => {
      if (hasExecutable('vde_switch')) {
        const sock = await startVdeSwitch(tempDir());
        await accepted({ type: 'vde', id: nextId('vde'), sock });
        await accepted({ type: 'vde', id: nextId('vde'), sock, port: 5, mode: 0o700 });
      } else {
        await refusedHere({ type: 'vde', id: nextId('vde'), sock: join(dir, 'no-switch') }, /Could not open vde: No such file or directory/, 'no vde_switch to connect to (apt-get install vde2)');
      }
      await rejectedByBoth({ type: 'vde', id: nextId('vde'), port: 70000 }, 'port', /Parameter 'port' expects uint16_t/);
      await rejectedByBoth({ type: 'vde', id: nextId('vde'), mode: 70000 }, 'mode', /Parameter 'mode' expects uint16_t/);
      await rejectedByBoth({ type: 'vde', id: nextId('vde'), group: 5 }, 'group', /Invalid parameter type for 'group', expected: string/);
    },

    bridge: async () => {
      const br = `xl-${hex}-br`;
      const tap = `xl-${hex}-b`;
      if (isRoot && hasTun && existsSync('/usr/bin/python3')) {
        addBridge(br);
        const helper = writeBridgeHelper(dir, tap);
        await accepted({ type: 'bridge', id: nextId('bridge'), br, helper }, {
          afterAdd: () => expect(linkMaster(tap)).toBe(br),
          afterDel: () => expect(linkExists(tap)).toBe(false),
        });
        // tap with helper= is the same path through QEMU
        await accepted({ type: 'tap', id: nextId('tap'), br, helper }, { afterDel: () => expect(linkExists(tap)).toBe(false) });
      } else {
        results.push(`bridge: not tried with a helper (needs root, /dev/net/tun and /usr/bin/python3 for the test helper)`);
      }
      if (!existsSync('/etc/qemu/bridge.conf')) {
        await refusedHere({ type: 'bridge', id: nextId('bridge'), br: isRoot ? br : 'br0' }, /bridge helper failed/, 'the default qemu-bridge-helper refuses every bridge without an ACL in /etc/qemu/bridge.conf');
      }
      await rejectedByBoth({ type: 'bridge', id: nextId('bridge'), br: 5 }, 'br', /Invalid parameter type for 'br', expected: string/);
      await rejectedByBoth({ type: 'bridge', id: nextId('bridge'), ifname: 'x' }, 'ifname', /Parameter 'ifname' is unexpected/);
    },

    hubport: async () => {
      await accepted({ type: 'hubport', id: nextId('hubport'), hubid: 0 });
      const peer = nextId('user');
      await c.execute('netdev_add', { type: 'user', id: peer });
      await accepted({ type: 'hubport', id: nextId('hubport'), hubid: 7, netdev: peer });
      await c.execute('netdev_del', { id: peer });
      await rejectedByBoth({ type: 'hubport', id: nextId('hubport'), hubid: 2 ** 31 }, 'hubid', /Parameter 'hubid' expects int32_t/);
      await rejectedByBoth({ type: 'hubport', id: nextId('hubport') }, 'hubid', /Parameter 'hubid' is missing/);
    },

    netmap: async () => {
      if (!caps.drivers.netmap.available) {
        await lacking('netmap', { type: 'netmap', id: nextId('netmap'), ifname: 'vale0:1' }, { type: 'netmap', id: nextId('netmap') }, 'ifname', /Parameter 'ifname' is missing/);
        return;
      }
      const v = validateNetdev({ type: 'netmap', id: nextId('netmap'), ifname: 'vale0:1' });
      const outcome = await c.execute('netdev_add', toQmpArguments(v)).then(() => 'accepted', (e: QmpError) => `refused: ${e.desc}`);
      if (outcome === 'accepted') await c.execute('netdev_del', { id: v.id });
      results.push(`netmap: ${formatNetdevArg(v)} ${outcome}`);
      await rejectedByBoth({ type: 'netmap', id: nextId('netmap') }, 'ifname', /Parameter 'ifname' is missing/);
    },

    'af-xdp': async () => {
      if (!caps.drivers['af-xdp'].available) {
        expect(caps.afXdp.present).toBe(false);
        await lacking('af-xdp', { type: 'af-xdp', id: nextId('afxdp'), ifname: 'lo', mode: 'skb' }, { type: 'af-xdp', id: nextId('afxdp'), ifname: 'lo', inhibit: true }, 'sock-fds');
        return;
      }
      if (!isRoot) { results.push('af-xdp: present, not tried (needs root for a veth pair and XDP)'); return; }
      const [a, b] = [`xl-${hex}-x0`, `xl-${hex}-x1`];
      trackLink(a);
      execFileSync('ip', ['link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
      execFileSync('ip', ['link', 'set', a, 'up']);
      execFileSync('ip', ['link', 'set', b, 'up']);
      await accepted({ type: 'af-xdp', id: nextId('afxdp'), ifname: a, mode: 'skb', queues: 1 }, {
        afterDel: () => expect(execFileSync('ip', ['link', 'show', a], { encoding: 'utf8' })).not.toMatch(/prog\/xdp/),
      });
      await rejectedByBoth({ type: 'af-xdp', id: nextId('afxdp'), ifname: a, inhibit: true }, 'sock-fds', /'inhibit=on' requires 'sock-fds' and vice versa/);
      await rejectedByBoth({ type: 'af-xdp', id: nextId('afxdp'), ifname: a, queues: 0 }, 'queues', /invalid number of queues \(0\)/);
    },

    'vhost-user': async () => {
      const backend = await startFakeVhostUser(join(dir, 'vu.sock'));
      const chardev = (id: string) => c.execute('chardev-add', { id, backend: { type: 'socket', data: { addr: { type: 'unix', data: { path: join(dir, 'vu.sock') } }, server: false } } });
      await chardev('vuchr1');
      // netdev_del also removes the chardev the netdev claimed
      await accepted({ type: 'vhost-user', id: nextId('vhost-user'), chardev: 'vuchr1', queues: 1 });
      expect(backend.requests).toContain(1); // VHOST_USER_GET_FEATURES
      await chardev('vuchr2');
      await rejectedByBoth({ type: 'vhost-user', id: nextId('vhost-user'), chardev: 'vuchr2', queues: 0 }, 'queues', /vhost-user number of queues must be in range \[1, 1024\]/);
      await c.execute('chardev-remove', { id: 'vuchr2' });
      await rejectedByBoth({ type: 'vhost-user', id: nextId('vhost-user') }, 'chardev', /Parameter 'chardev' is missing/);
      backend.close();
    },

    'vhost-vdpa': async () => {
      const devices = existsSync('/dev') ? readdirSync('/dev').filter((f) => f.startsWith('vhost-vdpa-')) : [];
      if (devices.length) {
        const v = validateNetdev({ type: 'vhost-vdpa', id: nextId('vdpa'), vhostdev: `/dev/${devices[0]}` });
        const outcome = await c.execute('netdev_add', toQmpArguments(v)).then(() => 'accepted', (e: QmpError) => `refused: ${e.desc}`);
        if (outcome === 'accepted') await c.execute('netdev_del', { id: v.id });
        results.push(`vhost-vdpa: ${formatNetdevArg(v)} ${outcome}`);
      } else {
        await refusedHere({ type: 'vhost-vdpa', id: nextId('vdpa'), vhostdev: '/dev/vhost-vdpa-0' }, /Could not open '\/dev\/vhost-vdpa-0': No such file or directory/,
          `no vDPA device: no /dev/vhost-vdpa-*${existsSync('/sys/bus/vdpa') ? '' : ' and no vDPA bus in this kernel (/sys/bus/vdpa)'}`);
      }
      await rejectedByBoth({ type: 'vhost-vdpa', id: nextId('vdpa') }, 'vhostdev', /vhost-vdpa: neither vhostdev= nor vhostfd= was specified/);
      await rejectedByBoth({ type: 'vhost-vdpa', id: nextId('vdpa'), vhostdev: '/dev/vhost-vdpa-0', vhostfd: '3' }, 'vhostfd', /vhost-vdpa: vhostdev= and vhostfd= are mutually exclusive/);
    },

    'vmnet-host': async () => {
      if (caps.drivers['vmnet-host'].available) { results.push('vmnet-host: present (macOS); not tried'); return; }
      await lacking('vmnet-host', { type: 'vmnet-host', id: nextId('vmnet'), isolated: true }, { type: 'vmnet-host', id: nextId('vmnet'), 'start-address': '192.168.70.1' }, 'end-address');
    },
    'vmnet-shared': async () => {
      if (caps.drivers['vmnet-shared'].available) { results.push('vmnet-shared: present (macOS); not tried'); return; }
      await lacking('vmnet-shared', { type: 'vmnet-shared', id: nextId('vmnet') }, { type: 'vmnet-shared', id: nextId('vmnet'), 'nat66-prefix': 'fe80::' }, 'nat66-prefix');
    },
    'vmnet-bridged': async () => {
      if (caps.drivers['vmnet-bridged'].available) { results.push('vmnet-bridged: present (macOS); not tried'); return; }
      await lacking('vmnet-bridged', { type: 'vmnet-bridged', id: nextId('vmnet'), ifname: 'en0' }, { type: 'vmnet-bridged', id: nextId('vmnet') }, 'ifname');
    },
  };

  describe('every driver: valid accepted by QEMU, invalid rejected by xdplab and by QEMU', () => {
    it.each(NETDEV_TYPES)('%s', async (type) => {
      if (!caps.drivers[type].available && !['netmap', 'af-xdp', 'vmnet-host', 'vmnet-shared', 'vmnet-bridged'].includes(type)) {
        // A common driver missing from this build: QEMU refuses it; say why.
        const qe = await qmpError(c.execute('netdev_add', { type, id: nextId('x') }));
        expect(qe.desc).toMatch(new RegExp(`'${type}'`));
        results.push(`${type}: ${caps.drivers[type].reason}`);
        return;
      }
      await drivers[type]();
    });
  });
});
