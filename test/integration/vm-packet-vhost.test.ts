// The VM packet tests over xdplab's vhost-user back end: guest <-> virtio-net <-> vhost-user <->
// xdplab vhost serve (AF_XDP on a veth end) <-> veth <-> xdplab's worker. Exact counts both
// ways (a fixed count below every queue on the path), the back end's command line in the rig's,
// its CPU time readable; afterwards no QEMU, back end, namespace or socket directory is left.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureGuestImage } from '../../benchmarks/qemu/guest-image.js';
import { VmPacketRig } from '../../benchmarks/vmbench/packet.js';
import { suite } from '../helpers/requirements.js';

function pgrep(pattern: string): string[] {
  try { return execFileSync('pgrep', ['-a', '-f', pattern], { encoding: 'utf8' }).trim().split('\n').filter(Boolean); } catch { return []; }
}

suite('vm packet tests over vhost-user (xdplab vhost serve)', { root: true, tools: [process.env.XDPLAB_QEMU || 'qemu-system-x86_64', 'ip', 'pgrep'] }, () => {
  let rig: VmPacketRig | undefined;
  let id = '';

  beforeAll(async () => {
    rig = await VmPacketRig.open({ image: await ensureGuestImage({}), backend: 'vhost-user' });
    id = rig.lab.id;
  }, 180_000);

  afterAll(async () => {
    const pid = rig?.backendProcess?.pid;
    await rig?.close();
    const ns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith(`xl-${id}-`));
    const dirs = [tmpdir(), '/tmp'].filter(existsSync).flatMap((d) => readdirSync(d).filter((n) => n.startsWith('xl-vhost-')));
    expect({ qemu: pgrep(`qemu-system.*-name vmpkt-${id}`), backend: pid && existsSync(`/proc/${pid}`) ? [pid] : [], ns, dirs }).toEqual({ qemu: [], backend: [], ns: [], dirs: [] });
  }, 60_000);

  it('the rig runs xdplab vhost serve on the VM side of the veth, before QEMU', () => {
    expect(rig!.topology.netdevArg).toBe('vhost-user,id=n0,chardev=xlvhost');
    expect(rig!.commandLines.some((l) => /xdplab vhost serve --socket \S+\/vhost\.sock --ifname \S+ --netns xl-/.test(l))).toBe(true);
    expect(rig!.qemuCommandLine).toMatch(/memory-backend-memfd,id=xlmem,size=256M,share=on/);
    expect(rig!.qemuCommandLine).toMatch(/-chardev socket,id=xlvhost,path=\S+,reconnect-ms=1000/);
  });

  it('txonly to the guest, a fixed count: the guest receives every frame sent', async () => {
    const cpu0 = rig!.backendProcess!.cpuSeconds();
    const out = await rig!.txonly({ mode: 'native', frameBytes: 64, warmupMs: 0, durationMs: 0, count: 256 });
    expect(out.metrics).toMatchObject({ sentPackets: 256, receivedPackets: 256, droppedPackets: 0 });
    expect(rig!.backendProcess!.cpuSeconds()).toBeGreaterThanOrEqual(cpu0);
  }, 60_000);

  it('pktgen in the guest, a fixed count: xdplab rxonly counts exactly that count', async () => {
    const out = await rig!.rxonly({ mode: 'native', frameBytes: 128, warmupMs: 0, durationMs: 0, count: 1000 });
    expect(out.metrics).toMatchObject({ sentPackets: 1000, receivedPackets: 1000, droppedPackets: 0, pktgenErrors: 0 });
  }, 90_000);
});
