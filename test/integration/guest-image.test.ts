// The guest image, built for real from Debian packages into the user's cache (so that later
// runs reuse it; in CI the cache starts empty and the first build takes well under a minute),
// plus a from-scratch build in an empty cache dir with two builds racing for the same entry.
// The pure parts (modules.dep order, ldd, apt output, cpio, bzImage) are checked on samples.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as imageCommand, USAGE } from '../../benchmarks/cli/commands/image.js';
import { BOOT_MODULES, bzImagePayload, cacheRoot, elfHasPvhEntry, ensureGuestImage, hashInputs, moduleName, parseKernelMetaPackage, parseLdd, parseModulesDep, resolveModules, type GuestImage, type GuestImageInputs } from '../../benchmarks/qemu/guest-image.js';
import { cpioNewc } from '../../benchmarks/qemu/guest/cpio.js';
import { suite } from '../helpers/requirements.js';

/** Entries of a newc archive: name -> { mode, data }. */
function readCpio(buf: Buffer): Map<string, { mode: number; data: Buffer; rdev: [number, number] }> {
  const out = new Map<string, { mode: number; data: Buffer; rdev: [number, number] }>();
  let off = 0;
  const align = (n: number) => (n + 3) & ~3;
  for (;;) {
    const magic = buf.toString('ascii', off, off + 6);
    if (magic !== '070701') throw new Error(`bad cpio magic at ${off}: ${magic}`);
    const f = (i: number) => parseInt(buf.toString('ascii', off + 6 + i * 8, off + 14 + i * 8), 16);
    const mode = f(1); const size = f(6); const namesize = f(11);
    const name = buf.toString('utf8', off + 110, off + 110 + namesize - 1);
    const dataStart = align(off + 110 + namesize);
    if (name === 'TRAILER!!!') break;
    out.set(name, { mode, data: buf.subarray(dataStart, dataStart + size), rdev: [f(9), f(10)] });
    off = align(dataStart + size);
  }
  return out;
}

const DEP_SAMPLE = `kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/virtio_net.ko.xz: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
`;

describe('guest image: pure parts', () => {
  it('resolves modules.dep so that every module comes after what it needs', () => {
    const plan = resolveModules(parseModulesDep(DEP_SAMPLE), ['kernel/net/packet/af_packet.ko'], ['virtio_net', 'virtio_pci', 'af_packet', 'e1000']);
    const names = plan.order.map(moduleName);
    expect(new Set(names).size).toBe(names.length);
    const before = (a: string, b: string) => expect(names.indexOf(a), `${a} before ${b}`).toBeLessThan(names.indexOf(b));
    before('virtio_ring', 'virtio');
    before('virtio', 'virtio_net');
    before('failover', 'net_failover');
    before('net_failover', 'virtio_net');
    before('virtio_pci_legacy_dev', 'virtio_pci');
    before('virtio_pci_modern_dev', 'virtio_pci');
    expect(plan.builtin).toEqual(['af_packet']);
    expect(plan.missing).toEqual(['e1000']);
    expect(moduleName('kernel/drivers/char/hw_random/virtio-rng.ko.zst')).toBe('virtio_rng');
  });

  it('parses ldd output, loader included, vdso left out', () => {
    const ldd = `\tlinux-vdso.so.1 (0x00007ffd)\n\tlibiperf.so.0 => /lib/x86_64-linux-gnu/libiperf.so.0 (0x00007f54)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f545ca11000)\n`;
    expect(parseLdd(ldd)).toEqual(['/lib/x86_64-linux-gnu/libiperf.so.0', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
    expect(parseLdd('\tstatically linked\n')).toEqual([]);
  });

  it('finds the kernel package in apt-cache show linux-image-amd64', () => {
    expect(parseKernelMetaPackage('Package: linux-image-amd64\nVersion: 6.1.192-2\nDepends: linux-image-6.1.0-56-amd64 (= 6.1.192-2)\n'))
      .toEqual({ package: 'linux-image-6.1.0-56-amd64', version: '6.1.192-2' });
    expect(parseKernelMetaPackage('Depends: linux-image-6.12.9-amd64\n')).toEqual({ package: 'linux-image-6.12.9-amd64' });
    expect(parseKernelMetaPackage('Depends: libc6\n')).toBeUndefined();
  });

  it('hashes inputs stably (key order does not matter) and sensitively (any value does)', () => {
    const a: GuestImageInputs = {
      builderVersion: 1, kernel: { source: 'debian', release: '6.1.0-56-amd64', package: 'linux-image-6.1.0-56-amd64', version: '6.1.192-2' },
      packages: { 'busybox-static': '1:1.35.0-4', iperf3: '3.12-1' }, files: {}, modules: { boot: ['virtio_net'], onDemand: [] }, sourcesSha256: 'aa',
    };
    const reordered = JSON.parse(JSON.stringify({ sourcesSha256: 'aa', modules: a.modules, files: {}, packages: { iperf3: '3.12-1', 'busybox-static': '1:1.35.0-4' }, kernel: a.kernel, builderVersion: 1 })) as GuestImageInputs;
    expect(hashInputs(reordered)).toBe(hashInputs(a));
    expect(hashInputs({ ...a, sourcesSha256: 'ab' })).not.toBe(hashInputs(a));
    expect(hashInputs({ ...a, packages: { ...a.packages, iperf3: '3.12-2' } })).not.toBe(hashInputs(a));
    expect(hashInputs({ ...a, kernel: { ...a.kernel, version: '6.1.192-3' } })).not.toBe(hashInputs(a));
  });

  it('writes newc archives the kernel (and cpio -t) can read, device nodes included', () => {
    const buf = cpioNewc([
      { type: 'dir', path: 'bin' },
      { type: 'file', path: 'bin/hello', data: Buffer.from('#!/bin/sh\necho hi\n'), mode: 0o755 },
      { type: 'symlink', path: 'bin/sh', target: '/bin/busybox' },
      { type: 'char', path: 'dev/console', major: 5, minor: 1 },
    ]);
    const e = readCpio(buf);
    expect([...e.keys()]).toEqual(['bin', 'bin/hello', 'bin/sh', 'dev/console']);
    expect(e.get('bin/hello')!.data.toString()).toBe('#!/bin/sh\necho hi\n');
    expect(e.get('bin/hello')!.mode).toBe(0o100755);
    expect(e.get('bin/sh')!.data.toString()).toBe('/bin/busybox');
    expect(e.get('dev/console')!.rdev).toEqual([5, 1]);
    expect(buf.length % 4).toBe(0);
    try {
      const listed = execFileSync('cpio', ['-t', '--quiet'], { input: buf, encoding: 'utf8' });
      expect(listed.trim().split('\n')).toEqual(['bin', 'bin/hello', 'bin/sh', 'dev/console']);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // no cpio(1): the reader above suffices
    }
  });

  it('reads a bzImage header and rejects what is not one', () => {
    expect(bzImagePayload(Buffer.alloc(4096))).toBeUndefined();
    expect(elfHasPvhEntry(Buffer.from('not an elf'))).toBe(false);
  });

  it('image --help, bad flags and bad --kernel (no build)', async () => {
    const io = { o: '', e: '', out(t: string) { this.o += t; }, err(t: string) { this.e += t; } };
    expect(await imageCommand(['--help'], io)).toBe(0);
    expect(io.o).toBe(USAGE);
    expect(await imageCommand(['--bogus'], io)).toBe(2);
    expect(io.e).toMatch(/--bogus/);
    expect(await imageCommand(['--kernel', 'mine'], io)).toBe(2);
    expect(io.e).toMatch(/auto, host or debian/);
  });
});

const TOOLS = ['apt-get', 'apt-cache', 'dpkg', 'dpkg-query', 'depmod', 'iperf3', 'ldd', 'xz'];

suite('guest image build (Debian packages)', { tools: TOOLS }, () => {
  let img: GuestImage;
  const progress: string[] = [];

  beforeAll(async () => {
    img = await ensureGuestImage({ onProgress: (m) => { progress.push(m); } });
  }, 180_000);

  it('has a kernel, an initramfs and a manifest under <cache>/guest/<inputs-hash>/', () => {
    expect(img.dir).toBe(join(cacheRoot(), 'guest', img.manifest.inputsHash));
    expect(basename(img.dir)).toMatch(/^[0-9a-f]{16}$/);
    expect(statSync(img.kernelPath).size).toBe(img.manifest.kernelBytes);
    expect(statSync(img.initrdPath).size).toBe(img.manifest.initrdBytes);
    expect(img.manifest.kernelRelease).toMatch(/^\d+\.\d+/);
    if (img.manifest.kernelBoot === 'pvh') expect(elfHasPvhEntry(readFileSync(img.kernelPath))).toBe(true);
    expect(img.manifest.inputs.packages['busybox-static']).toBeTruthy();
    expect(Object.keys(img.manifest.inputs.packages)).toContain('iperf3');
    if (!img.cached) expect(progress.join('\n')).toMatch(/initramfs: \d+ entries/);
  });

  it('the initramfs holds /init, busybox, the agent, iperf3 with its libraries and loader, and the modules in order', () => {
    const files = readCpio(readFileSync(img.initrdPath));
    for (const f of ['init', 'bin/busybox', 'sbin/xdplab-agent', 'etc/inittab', 'usr/bin/iperf3', 'lib64/ld-linux-x86-64.so.2', 'etc/xdplab/modules']) {
      expect(files.has(f), f).toBe(true);
    }
    expect(files.get('dev/console')!.rdev).toEqual([5, 1]);
    expect(files.get('init')!.mode & 0o111).toBeTruthy();
    expect(files.get('sbin/insmod')!.data.toString()).toBe('/bin/busybox');
    const ldd = execFileSync('ldd', [execFileSync('sh', ['-c', 'command -v iperf3'], { encoding: 'utf8' }).trim()], { encoding: 'utf8' });
    for (const lib of parseLdd(ldd)) expect(files.has(lib.slice(1)), lib).toBe(true);

    const rel = img.manifest.kernelRelease;
    const order = files.get('etc/xdplab/modules')!.data.toString().trim().split('\n');
    expect(order).toEqual(img.manifest.bootModules);
    for (const m of [...order, ...img.manifest.onDemandModules]) expect(files.has(`lib/modules/${rel}/${m}`), m).toBe(true);
    const names = order.map(moduleName);
    for (const wanted of BOOT_MODULES) expect([...names, ...img.manifest.builtinModules, ...img.manifest.missingModules]).toContain(wanted);
    // Every module's dependencies come before it, as the guest's modules.dep states them.
    const dep = parseModulesDep(files.get(`lib/modules/${rel}/modules.dep`)!.data.toString());
    order.forEach((m, i) => { for (const d of dep.get(m) ?? []) expect(order.indexOf(d), `${d} before ${m}`).toBeLessThan(i); });
    if (img.manifest.inputs.kernel.source === 'debian') {
      expect(img.manifest.missingModules).toEqual([]);
      for (const m of ['pktgen', 'e1000', '9p', '9pnet_virtio']) expect(img.manifest.onDemandModules.map(moduleName)).toContain(m);
      // What modprobe needs for them is in the image too.
      for (const m of img.manifest.onDemandModules) for (const d of dep.get(m) ?? []) expect(files.has(`lib/modules/${rel}/${d}`), d).toBe(true);
    }
  });

  it('a second build reuses the cache: same directory, nothing rebuilt', async () => {
    const before = statSync(img.initrdPath).mtimeMs;
    const again = await ensureGuestImage({});
    expect(again.cached).toBe(true);
    expect(again.dir).toBe(img.dir);
    expect(again.manifest.builtAt).toBe(img.manifest.builtAt);
    expect(statSync(again.initrdPath).mtimeMs).toBe(before);
  }, 60_000);

  it('xdplab vm image --json shows the cached image', async () => {
    const io = { o: '', e: '', out(t: string) { this.o += t; }, err(t: string) { this.e += t; } };
    expect(await imageCommand(['--json'], io)).toBe(0);
    const j = JSON.parse(io.o) as { dir: string; kernelPath: string; initrdPath: string; cached: boolean; inputsHash: string; initrdBytes: number };
    expect(j).toMatchObject({ dir: img.dir, kernelPath: img.kernelPath, initrdPath: img.initrdPath, cached: true, inputsHash: img.manifest.inputsHash, initrdBytes: img.manifest.initrdBytes });
    const human = { o: '', e: '', out(t: string) { this.o += t; }, err(t: string) { this.e += t; } };
    expect(await imageCommand([], human)).toBe(0);
    expect(human.o).toContain(img.initrdPath);
    expect(human.o).toContain(`hash ${img.manifest.inputsHash}`);
  }, 60_000);

  describe('from an empty cache', () => {
    let cacheDir: string;
    beforeAll(() => {
      cacheDir = mkdtempSync(join(tmpdir(), 'xdplab-cache-test-'));
      // Share the downloaded .debs, not the images: the builds below start from scratch.
      const debs = join(cacheRoot(), 'debs');
      mkdirSync(debs, { recursive: true });
      symlinkSync(debs, join(cacheDir, 'debs'));
    });
    afterAll(() => { if (cacheDir) rmSync(cacheDir, { recursive: true, force: true }); });

    it('two concurrent builds (one with --rebuild) give one intact, identical image and no temp dirs', async () => {
      const [a, b] = await Promise.all([ensureGuestImage({ cacheDir }), ensureGuestImage({ cacheDir, rebuild: true })]);
      expect(a.dir).toBe(b.dir);
      expect(a.dir).toBe(join(cacheDir, 'guest', img.manifest.inputsHash));
      expect(b.cached).toBe(false);
      expect(readdirSync(join(cacheDir, 'guest'))).toEqual([img.manifest.inputsHash]);
      expect(readdirSync(a.dir).sort()).toEqual(['initramfs.cpio', 'manifest.json', img.manifest.kernelFile].sort());
      // Reproducible: the same inputs make the same bytes.
      const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
      expect(sha(a.initrdPath)).toBe(sha(img.initrdPath));
      expect(sha(a.kernelPath)).toBe(sha(img.kernelPath));
      const again = await ensureGuestImage({ cacheDir });
      expect(again).toMatchObject({ cached: true, dir: a.dir });
    }, 240_000);
  });
});
