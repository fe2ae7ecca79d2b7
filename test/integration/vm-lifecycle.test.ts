// One VM lifecycle (qemu/vm-group.ts) behind the VMs page: a VmManager VM is a one-VM group of a
// backend, wired by the bench's topology code (tap: a lab namespace holding the tap; stream: a
// unix socket in a scratch dir). It boots, forwards its QMP events, stops, and leaves no QEMU
// process, namespace, tap, socket or temp dir behind; its console outlives it until the manager
// closes.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { LabState } from '../../benchmarks/lab/resources.js';
import { labStateDir } from '../../benchmarks/lab/state.js';
import { ensureGuestImage, type GuestImage } from '../../benchmarks/qemu/guest-image.js';
import type { VmEvents } from '../../benchmarks/server/vm-manager-api.js';
import { VmManager } from '../../benchmarks/server/vm-manager.js';
import { suite } from '../helpers/requirements.js';

const QEMU = process.env.XDPLAB_QEMU || 'qemu-system-x86_64';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resources of this process's open labs (the VM's lab is the only one here). */
function ourLabs(): LabState[] {
  const dir = labStateDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => {
    try {
      const s = JSON.parse(readFileSync(join(dir, f), 'utf8')) as LabState;
      return s.pid === process.pid ? [s] : [];
    } catch { return []; }
  });
}

function qemuOf(vmId: string): string[] {
  try { return execFileSync('pgrep', ['-a', '-f', `qemu-system.*-name xdplab-${vmId}`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean); } catch { return []; }
}

const namespaces = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
const tempDirsOf = (vmId: string) => [...new Set([tmpdir(), '/tmp'])].flatMap((d) => readdirSync(d).filter((n) => n.includes(vmId)).map((n) => join(d, n)));

suite('one VM lifecycle: a VMs-page VM is a one-VM group of a backend', { root: true, tools: [QEMU, 'ip', 'pgrep'] }, () => {
  let image: GuestImage;
  let vms: VmManager;
  const states: VmEvents['vmState'][] = [];
  const events: VmEvents['qmpEvent'][] = [];

  beforeAll(async () => {
    image = await ensureGuestImage({});
    vms = new VmManager({ image: async () => image });
    vms.on('vmState', (s) => states.push(s));
    vms.on('qmpEvent', (e) => events.push(e));
  }, 300_000);
  afterAll(async () => { await vms?.close(); });

  const until = async (what: string, ok: () => boolean, ms = 90_000) => {
    for (const t0 = Date.now(); !ok(); await sleep(100)) if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
  };

  for (const backend of ['tap', 'stream'] as const) {
    it(`${backend}: boots, forwards QMP events, stops, leaves nothing behind`, async () => {
      const { vmId } = await vms.start({ backend, nic: 'virtio-net-pci' });
      await until('running', () => states.some((s) => s.vmId === vmId && (s.state === 'running' || s.state === 'failed')));
      expect(states.filter((s) => s.vmId === vmId).map((s) => s.state)).toEqual(['starting', 'running']);

      // While it runs: its QEMU, its lab (with the backend's wiring), its temp dirs.
      expect(qemuOf(vmId)).toHaveLength(1);
      const [lab] = ourLabs();
      const netns = lab?.resources.filter((r) => r.kind === 'netns').map((r) => r.name ?? '') ?? [];
      if (backend === 'tap') {
        expect(netns).toHaveLength(1);
        expect(execFileSync('ip', ['-n', netns[0]!, '-o', 'link', 'show'], { encoding: 'utf8' })).toMatch(/xl-[0-9a-f]{6}-tap/);
      } else {
        expect(tempDirsOf(vmId).some((d) => existsSync(join(d, 'stream.sock')))).toBe(true);
      }
      expect(tempDirsOf(vmId).length).toBeGreaterThan(0);

      // QMP: a command and the events it causes, forwarded with the VM's id.
      await vms.qmpExecute(vmId, 'stop');
      await vms.qmpExecute(vmId, 'cont');
      await until('STOP and RESUME', () => ['STOP', 'RESUME'].every((n) => events.some((e) => e.vmId === vmId && e.event === n)), 10_000);
      await expect(vms.qmpExecute(vmId, 'human-monitor-command', { 'command-line': 'info network' })).rejects.toMatchObject({ code: 'EREFUSED' });

      expect(await vms.stop(vmId)).toBe(true);
      expect(states.filter((s) => s.vmId === vmId).map((s) => s.state)).toEqual(['starting', 'running', 'stopping', 'stopped']);
      for (let i = 0; i < 40 && qemuOf(vmId).length; i++) await sleep(100);
      expect({ qemu: qemuOf(vmId), labs: ourLabs(), namespaces: namespaces().filter((n) => netns.includes(n)), dirs: tempDirsOf(vmId) })
        .toEqual({ qemu: [], labs: [], namespaces: [], dirs: [] });
      expect(vms.console(vmId, 4096)).toContain('XDPLAB-READY'); // the console log outlives the VM
    }, 180_000);
  }
});
