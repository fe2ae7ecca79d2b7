// VMs under real QEMU (TCG here, KVM where it works): boot to ready, guest commands through the
// agent, iperf3 from the guest to the host over -netdev user, two NIC models, QEMU failing at
// start, a guest that never becomes ready, a Lab tearing a VM down, and after every test no
// QEMU process, socket or temp dir of ours left (VM names carry this run's prefix).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../benchmarks/lab/lab.js';
import { ensureGuestImage, type GuestImage } from '../../benchmarks/qemu/guest-image.js';
import { FAST_BOOT_ARGS, findQboot, kernelCommandLine, shellQuote, startVm, type Vm, type VmControl } from '../../benchmarks/qemu/vm.js';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { suite } from '../helpers/requirements.js';
import { freeTcpPort } from '../../benchmarks/lab/ports.js';

const PREFIX = `xlt${randomBytes(2).toString('hex')}`;
let seq = 0;
const vmName = (what: string) => `${PREFIX}-${what}-${seq++}`;
const USER_NET = { netdev: 'user,id=n0', ip: '10.0.2.15/24' };

const which = (cmd: string) => execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim();

/** QEMU processes and temp dirs of this run (other labs may run QEMU on the same machine). */
function leftovers(): { processes: string[]; dirs: string[] } {
  let processes: string[] = [];
  try {
    processes = execFileSync('pgrep', ['-a', '-f', `qemu-system.*-name ${PREFIX}-`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch { /* pgrep exits 1 when nothing matches */ }
  const dirs = [tmpdir(), '/tmp'].flatMap((d) => (existsSync(d) ? readdirSync(d).filter((n) => n.startsWith(`xdplab-${PREFIX}-`)).map((n) => join(d, n)) : []));
  return { processes, dirs: [...new Set(dirs)] };
}

/** A minimal QMP VmControl (greeting, qmp_capabilities, one command at a time), enough to check the wiring. */
function miniQmp(path: string): Promise<VmControl> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    const waiters: Array<(msg: Record<string, unknown>) => void> = [];
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
        buf = buf.slice(i + 1);
        if ('return' in msg || 'error' in msg || 'QMP' in msg) waiters.shift()?.(msg);
      }
    });
    sock.once('error', reject);
    const next = () => new Promise<Record<string, unknown>>((r) => waiters.push(r));
    const control: VmControl = {
      async execute(command, args) {
        const reply = next();
        sock.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) })}\n`);
        const m = await reply;
        if ('error' in m) throw new Error(JSON.stringify(m.error));
        return m.return;
      },
      close() { sock.destroy(); },
    };
    void next().then(() => control.execute('qmp_capabilities')).then(() => resolve(control), reject);
  });
}

/** Until the iperf3 server says it listens (--forceflush: a piped iperf3 buffers its output). */
function waitListening(proc: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`iperf3 server did not start listening: ${out}`)), 10_000);
    proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('Server listening')) { clearTimeout(timer); resolve(); } });
    proc.once('exit', (c) => { clearTimeout(timer); reject(new Error(`iperf3 server exited (${c}): ${out}`)); });
  });
}

async function expectError(p: Promise<unknown>): Promise<LabError> {
  try { await p; } catch (e) { if (e instanceof LabError) return e; throw e; }
  throw new Error('expected an error');
}

describe('vm: pure parts', () => {
  it('kernel command line carries the addresses and the gateway', () => {
    expect(kernelCommandLine([{ netdev: 'user,id=n0', ip: '10.0.2.15/24' }, { netdev: 'hubport,id=h,hubid=0' }, { netdev: 'x,id=y', ip: '192.0.2.1/24' }], '10.0.2.2'))
      .toBe(`console=ttyS0 quiet panic=-1 oops=panic ${FAST_BOOT_ARGS.join(' ')} xdplab.ip=eth0:10.0.2.15/24,eth2:192.0.2.1/24 xdplab.gw=10.0.2.2`);
    expect(kernelCommandLine([])).toBe(`console=ttyS0 quiet panic=-1 oops=panic ${FAST_BOOT_ARGS.join(' ')}`);
  });
  it('quotes arguments for sh', () => {
    expect(shellQuote(`it's`)).toBe(`'it'\\''s'`);
    expect(execFileSync('sh', ['-c', `printf %s ${shellQuote(`a 'b' $HOME \`x\``)}`], { encoding: 'utf8' })).toBe(`a 'b' $HOME \`x\``);
  });
});

suite('VM lifecycle under QEMU', { tools: ['qemu-system-x86_64', 'apt-get', 'dpkg', 'depmod', 'iperf3', 'pgrep', 'xz'] }, () => {
  let image: GuestImage;
  beforeAll(async () => { image = await ensureGuestImage({}); }, 180_000);
  afterEach(() => {
    const left = leftovers();
    for (const d of left.dirs) rmSync(d, { recursive: true, force: true });
    expect(left).toEqual({ processes: [], dirs: [] });
  });

  it('boots with -netdev user, runs guest commands, iperf3 guest -> host, powers off cleanly', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'xdplab-run-test-'));
    const consoleLogPath = join(runDir, 'console.log');
    let vm: Vm | undefined;
    let server: ChildProcess | undefined;
    try {
      vm = await startVm({ name: vmName('user'), image, nics: [USER_NET], gateway: '10.0.2.2', consoleLogPath });
      expect(vm.bootMs).toBeGreaterThan(0);
      expect(vm.readiness.markerMs).toBeDefined();
      expect(vm.readiness.agentMs).toBeDefined();
      expect(vm.linksWithoutCarrier).toEqual([]);
      expect(vm.commandLine).toContain('-nodefaults');
      expect(vm.commandLine.join(' ')).toMatch(/-accel (kvm|tcg)/);
      expect(vm.commandLine.join(' ')).toContain('-qmp unix:');

      const uname = await vm.exec('uname', ['-r']);
      expect(uname).toEqual({ exitCode: 0, stdout: `${image.manifest.kernelRelease}\n`, stderr: '' });
      expect(vm.guestKernel).toBe(image.manifest.kernelRelease);
      expect((await vm.exec('cat', ['/proc/net/dev'])).stdout).toMatch(/^\s*eth0:/m);
      expect(await vm.run('ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0'])).toContain('10.0.2.15/24');
      expect(await vm.run('ip', ['route'])).toMatch(/default via 10\.0\.2\.2 dev eth0/);

      // Exit codes, stderr, stdin, arguments with quotes, concurrent commands.
      const r = await vm.exec('sh', ['-c', 'echo "out $1"; echo err >&2; exit 3', 'sh', `it's`]);
      expect(r).toEqual({ exitCode: 3, stdout: `out it's\n`, stderr: 'err\n' });
      expect((await vm.exec('cat', [], { stdin: 'via stdin\n' })).stdout).toBe('via stdin\n');
      const [a, b] = await Promise.all([vm.exec('sh', ['-c', 'sleep 1; echo slow']), vm.exec('echo', ['fast'])]);
      expect([a.stdout, b.stdout]).toEqual(['slow\n', 'fast\n']);
      const timeout = await expectError(vm.exec('sh', ['-c', 'sleep 37 & sleep 37'], { timeoutMs: 1000 }));
      expect(timeout.code).toBe('ETIMEDOUT');
      expect(timeout.message).toMatch(/did not finish within 1 s in the guest and was killed/);
      expect((await vm.exec('sh', ['-c', 'ps -o args | grep -q "^sleep 37" && echo left || echo none'])).stdout).toBe('none\n');
      if (image.manifest.onDemandModules.some((m) => m.endsWith('pktgen.ko'))) {
        expect(await vm.run('sh', ['-c', 'modprobe pktgen && ls /proc/net/pktgen'])).toContain('pgctrl');
      }

      // iperf3 from the guest to a server on the host: slirp's 10.0.2.2 is the host's loopback.
      const port = await freeTcpPort();
      server = spawn('iperf3', ['-s', '-1', '-B', '127.0.0.1', '-p', String(port), '--forceflush'], { stdio: ['ignore', 'pipe', 'pipe'] });
      await waitListening(server);
      const iperf = await vm.exec('iperf3', ['-c', '10.0.2.2', '-p', String(port), '-t', '2', '-J'], { timeoutMs: 60_000 });
      expect(iperf.exitCode, iperf.stderr || iperf.stdout.slice(0, 400)).toBe(0);
      const j = JSON.parse(iperf.stdout) as { end: { sum_received: { bits_per_second: number; bytes: number } } };
      expect(j.end.sum_received.bytes).toBeGreaterThan(0);
      expect(j.end.sum_received.bits_per_second).toBeGreaterThan(0);

      const dir = vm.tempDir;
      expect(existsSync(vm.agentSocketPath)).toBe(true);
      const stopped = await vm.stop();
      expect(stopped).toEqual({ clean: true, exitCode: 0, signal: null });
      expect(vm.running).toBe(false);
      expect(existsSync(dir)).toBe(false);
      // The console log is kept with the run.
      expect(readFileSync(consoleLogPath, 'utf8')).toContain('XDPLAB-READY');
      await expect(vm.exec('true')).rejects.toMatchObject({ code: 'ESTOPPED' });
    } finally {
      server?.kill('SIGKILL');
      await vm?.stop();
      rmSync(runDir, { recursive: true, force: true });
    }
  }, 180_000);

  it('two NICs, virtio-net-pci and e1000, with given MACs: eth0 and eth1 in order; QMP through VmControl; qboot; poweroff from inside', async () => {
    const vm = await startVm({
      name: vmName('nics'),
      image,
      nics: [
        { netdev: 'user,id=n0', ip: '10.0.2.15/24', mac: '52:54:00:aa:00:01' },
        { netdev: 'user,id=n1,net=10.0.3.0/24', model: 'e1000', ip: '10.0.3.15/24', mac: '52:54:00:aa:00:02' },
      ],
      control: miniQmp,
      // The opt-in firmware, where this QEMU has it: PCI setup for both NICs, ACPI poweroff.
      firmware: findQboot(which('qemu-system-x86_64')) ? 'qboot' : 'seabios',
    });
    try {
      expect(vm.linksWithoutCarrier).toEqual([]);
      const links = await vm.run('ip', ['-o', 'link']);
      expect(links).toMatch(/eth0:.*link\/ether 52:54:00:aa:00:01/);
      expect(links).toMatch(/eth1:.*link\/ether 52:54:00:aa:00:02/);
      expect(await vm.run('ethtool', ['-i', 'eth0'])).toMatch(/^driver: virtio_net$/m);
      expect(await vm.run('ethtool', ['-i', 'eth1'])).toMatch(/^driver: e1000$/m);
      expect(await vm.run('ip', ['-4', '-o', 'addr'])).toMatch(/eth1\s+inet 10\.0\.3\.15\/24/);
      expect(await vm.control!.execute('query-status')).toMatchObject({ status: 'running' });

      // The guest powers itself off: the command's promise rejects saying QEMU exited, and the
      // VM's sockets and temp dir go at once, before any stop().
      const dir = vm.tempDir;
      const e = await expectError(vm.exec('poweroff', ['-f']));
      expect(e.code).toBe('EQEMUEXIT');
      expect(e.message).toMatch(/QEMU exited while a guest command ran \(exit code 0\)/);
      for (let i = 0; i < 50 && existsSync(dir); i++) await new Promise((r) => setTimeout(r, 20));
      expect(existsSync(dir)).toBe(false);
      expect(vm.running).toBe(false);
    } finally {
      expect(await vm.stop()).toEqual({ clean: true, exitCode: 0, signal: null });
    }
  }, 120_000);

  it('QEMU exiting at start: the error carries its stderr, nothing is left', async () => {
    const e = await expectError(startVm({ name: vmName('bogus'), image, nics: [{ netdev: 'bogus,id=n0' }] }));
    expect(e.code).toBe('EQEMUEXIT');
    expect(e.message).toMatch(/QEMU exited before the guest was ready \(exit code 1\)/);
    expect(e.message).toMatch(/bogus/);
    expect(e.message).toMatch(/its stderr:\n.*qemu-system/);
  }, 60_000);

  it('a guest whose /init is broken never becomes ready: timeout, console tail, QEMU killed', async () => {
    const e = await expectError(startVm({ name: vmName('noinit'), image, nics: [USER_NET], kernelArgs: ['rdinit=/bin/sh'], readyTimeoutMs: 12_000 }));
    expect(e.code).toBe('ETIMEDOUT');
    expect(e.message).toMatch(/not ready within 12\.0 s \(readiness marker not seen, agent never answered\); QEMU was killed/);
    expect(e.message).toMatch(/Last console lines:\n/);
  }, 60_000);

  it('a tiny ready timeout: timeout error, QEMU killed', async () => {
    const e = await expectError(startVm({ name: vmName('tiny'), image, readyTimeoutMs: 200 }));
    expect(e.code).toBe('ETIMEDOUT');
    expect(e.message).toMatch(/not ready within 0\.2 s/);
  }, 60_000);

  it('bad config and a missing QEMU are errors before anything starts', async () => {
    expect(await expectError(startVm({ image, qemu: '/nonexistent/qemu-system-x86_64' }))).toMatchObject({ code: 'ENOTOOL', field: 'qemu' });
    expect(await expectError(startVm({ image, memoryMiB: 64 }))).toMatchObject({ field: 'memoryMiB' });
    expect(await expectError(startVm({ image, nics: [{ netdev: 'user' }] }))).toMatchObject({ field: 'nics[0].netdev' });
    expect(await expectError(startVm({ image, nics: [{ netdev: 'user,id=n0', mac: '01:00:00:00:00:01' }] }))).toMatchObject({ field: 'nics[0].mac' });
    expect(await expectError(startVm({ image, nics: [{ netdev: 'user,id=n0', ip: '10.0.2.15' }] }))).toMatchObject({ field: 'nics[0].ip' });
    expect(await expectError(startVm({ image: { kernelPath: '/nonexistent', initrdPath: image.initrdPath } }))).toMatchObject({ field: 'image.kernelPath' });
  });

  suite('in a lab namespace', { root: true, tools: ['ip'] }, () => {
    it('QEMU runs in the namespace; Lab.close() (as on SIGINT) kills it and removes its files', async () => {
      const lab = new Lab('vmtest');
      let vm: Vm | undefined;
      try {
        const ns = lab.addNetns('vm');
        vm = await startVm({ name: vmName('netns'), image, nics: [USER_NET], gateway: '10.0.2.2', netns: ns, lab });
        expect(readlinkSync(`/proc/${vm.pid}/ns/net`)).not.toBe(readlinkSync('/proc/self/ns/net'));
        expect(vm.wrapper.slice(0, 4)).toEqual(['ip', 'netns', 'exec', ns]);
        expect((await vm.exec('uname', ['-r'])).stdout.trim()).toBe(image.manifest.kernelRelease);
        const pid = vm.pid!;
        const dir = vm.tempDir;
        lab.close();
        await new Promise((r) => setTimeout(r, 300));
        expect(() => process.kill(pid, 0)).toThrow();
        expect(existsSync(dir)).toBe(false);
      } finally {
        lab.close();
        await vm?.stop();
      }
    }, 120_000);
  });
});
