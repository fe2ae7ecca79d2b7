// The app's QEMU setting, through LabApi's dispatch as both transports use it, against real QEMU
// binaries: the engine lists what it found (the system QEMU, and a QEMU of the engineer's own
// listed in the settings file), the UI may choose only among them, and a path it makes up is
// refused naming the field and the allowed paths.
import { copyFileSync, linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { dispatch } from '../../benchmarks/server/dispatch.js';
import { LabService } from '../../benchmarks/server/lab-service.js';
import { VmManager } from '../../benchmarks/server/vm-manager.js';
import { resolveQemuBinary } from '../../benchmarks/qemu/capabilities.js';
import { cacheRoot, ensureGuestImage } from '../../benchmarks/qemu/guest-image.js';
import { startVm } from '../../benchmarks/qemu/vm.js';
import { FakeRunManager } from '../helpers/fake-run-manager.js';
import { suite } from '../helpers/requirements.js';

const req = (command: string, args: unknown, id = 1) => ({ type: 'request' as const, id, command, args });

suite('the QEMU binary setting', { tools: ['qemu-system-x86_64', 'apt-get', 'dpkg', 'depmod', 'xz'] }, () => {
  let dir: string;
  let own: string;
  let vms: VmManager;
  let service: LabService;
  const saved = { settings: process.env.XDPLAB_SETTINGS, cache: process.env.XDPLAB_CACHE_DIR };
  // The guest image stays in the usual cache; only capabilities are probed into the test's own.
  const imageCache = cacheRoot();

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'xdplab-qemu-bins-'));
    // "A QEMU of their own": the system binary under another path (a hard link when possible).
    own = join(dir, 'bin', 'qemu-system-x86_64');
    const system = resolveQemuBinary().realPath;
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ qemuBinaries: [own] }));
    mkdirSync(join(dir, 'bin'));
    try { linkSync(system, own); } catch { copyFileSync(system, own); }
    process.env.XDPLAB_SETTINGS = join(dir, 'settings.json');
    process.env.XDPLAB_CACHE_DIR = join(dir, 'cache');
    vms = new VmManager();
    service = new LabService({ runs: new FakeRunManager(dir), vms });
  });
  afterAll(async () => {
    await vms?.close();
    for (const [k, v] of [['XDPLAB_SETTINGS', saved.settings], ['XDPLAB_CACHE_DIR', saved.cache]] as const) {
      if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists the system QEMU (selected) and the one in the settings file, each with its version', async () => {
    const r = await dispatch(service.handlers, req('qemuBinaries', {}));
    expect(r).toMatchObject({ ok: true });
    const list = (r as { result: { path: string; selected: boolean; version?: string; afXdp?: boolean }[] }).result;
    const system = resolveQemuBinary().realPath;
    expect(list.find((b) => b.path === system)).toMatchObject({ selected: true, version: expect.stringMatching(/^\d+\.\d+/), afXdp: expect.any(Boolean) });
    expect(list.find((b) => b.path === own)).toMatchObject({ selected: false, version: expect.stringMatching(/^\d+\.\d+/) });
  });

  it('a path the engine did not find is refused, naming the field and the allowed paths; nothing changes', async () => {
    const r = await dispatch(service.handlers, req('selectQemu', { path: '/bin/sh' }));
    expect(r).toMatchObject({ ok: false, error: { code: 'EINVALIDOPTION', field: 'path' } });
    const message = (r as { error: { message: string; hint?: string } }).error;
    expect(message.message).toContain(`path: '/bin/sh' is not a QEMU xdplab found; allowed: `);
    expect(message.message).toContain(own);
    expect(message.hint).toContain('settings.json');
    const list = ((await dispatch(service.handlers, req('qemuBinaries', {}))) as { result: { path: string; selected: boolean }[] }).result;
    expect(list.find((b) => b.selected)!.path).toBe(resolveQemuBinary().realPath);
    // Not even a schema-valid but empty path gets as far as the manager.
    expect(await dispatch(service.handlers, req('selectQemu', { path: '' }))).toMatchObject({ ok: false, error: { field: 'args.path' } });
  });

  it('a VM of the QEMU outside the system directories gets -L for its firmware, and boots', async () => {
    const image = await ensureGuestImage({ cacheDir: imageCache });
    const vm = await startVm({ name: 'xdplab-bins', image, qemu: own, nics: [{ netdev: 'user,id=n0', ip: '10.0.2.15/24' }] });
    try {
      const line = vm.commandLine.join(' ');
      expect(vm.commandLine[0]).toBe(own);
      expect(line).toContain('-L /usr/share/qemu');
      expect((await vm.run('cat', ['/proc/cmdline'])).length).toBeGreaterThan(0);
    } finally {
      await vm.stop();
    }
  }, 180_000);

  it('choosing the listed QEMU makes it the selected one', async () => {
    expect(await dispatch(service.handlers, req('selectQemu', { path: own }))).toEqual({ type: 'response', id: 1, ok: true, result: { path: own } });
    const list = ((await dispatch(service.handlers, req('qemuBinaries', {}))) as { result: { path: string; selected: boolean }[] }).result;
    expect(list.filter((b) => b.selected).map((b) => b.path)).toEqual([own]);
  });
});

