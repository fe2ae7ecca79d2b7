// xdplab's vhost-user back end (xdplab vhost serve) with a real QEMU (Debian's, no af-xdp) under
// TCG: the guest's virtio-net NIC on the back end, the back end's AF_XDP port on one end of a
// veth pair, iperf3 from the other end's namespace to the guest, both ways; the back end as the
// server (QEMU a client with reconnect=1: the back end restarted, traffic resumes without a
// reboot) and as the client (QEMU's chardev server=on). Nothing left afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureGuestImage, type GuestImage } from '../../benchmarks/qemu/guest-image.js';
import { startVm, type Vm } from '../../benchmarks/qemu/vm.js';
import { parseIperf3Json } from '../../benchmarks/tools/iperf3.js';
import { processCpuSeconds } from '../../benchmarks/vhost/xdplab-switch.js';
import { suite } from '../helpers/requirements.js';
import { createVethLab, type VethLab } from '../helpers/veth-lab.js';

const ROOT = join(import.meta.dirname, '..', '..');
const GUEST = '192.0.2.2';
const PEER = '192.0.2.1';

interface Served { proc: ChildProcess; events: Array<Record<string, unknown>>; exited: Promise<number | null>; waitFor(kind: string, n?: number, ms?: number): Promise<Record<string, unknown>> }

function serve(args: string[]): Served {
  const proc = spawn(process.execPath, [join(ROOT, 'bin/xdplab.js'), 'vhost', 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const events: Array<Record<string, unknown>> = [];
  let buf = '';
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) { const line = buf.slice(0, i); buf = buf.slice(i + 1); try { events.push(JSON.parse(line) as Record<string, unknown>); } catch { /* not ours */ } }
  });
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const waitFor = async (kind: string, n = 1, ms = 30_000) => {
    const until = Date.now() + ms;
    for (;;) {
      const hits = events.filter((e) => e.kind === kind);
      if (hits.length >= n) return hits[n - 1]!;
      if (proc.exitCode !== null || Date.now() > until) throw new Error(`xdplab vhost serve: no '${kind}' event (#${n}); last events ${JSON.stringify(events.slice(-8))}; stderr ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { proc, events, exited, waitFor };
}

async function stopServe(s: Served): Promise<number | null> {
  if (s.proc.exitCode === null) s.proc.kill('SIGTERM');
  return s.exited;
}

suite('xdplab vhost serve: a QEMU guest on the vhost-user back end, over AF_XDP to a veth', { root: true, tools: [process.env.XDPLAB_QEMU || 'qemu-system-x86_64', 'iperf3', 'ip'] }, () => {
  let image: GuestImage;
  let veth: VethLab;
  let dir: string;

  beforeAll(async () => {
    image = await ensureGuestImage({});
    veth = createVethLab();
    veth.lab.ip(veth.nsB, ['addr', 'add', `${PEER}/24`, 'dev', veth.ifB]);
    veth.lab.ip(veth.nsB, ['link', 'set', veth.ifB, 'up']);
    veth.lab.ip(veth.nsA, ['link', 'set', veth.ifA, 'up']);
    // AF_XDP has no checksum or segmentation offload: the peer sends complete frames.
    veth.lab.disableOffloads(veth.nsB, veth.ifB);
    dir = mkdtempSync(join(tmpdir(), 'xl-vh-'));
  }, 300_000);

  afterAll(() => {
    veth?.lab.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function vmArgs(chardev: string): { extraArgs: string[]; nics: Array<{ netdev: string; ip: string }> } {
    return {
      extraArgs: ['-object', 'memory-backend-memfd,id=mem,size=256M,share=on', '-numa', 'node,memdev=mem', '-chardev', chardev],
      nics: [{ netdev: 'vhost-user,id=n0,chardev=vhc', ip: `${GUEST}/24` }],
    };
  }

  function iperf3(reverse: boolean): { bitsPerSecond: number } {
    // A new VM has a new MAC: the peer must not use the last one's.
    veth.lab.ip(veth.nsB, ['neigh', 'flush', 'dev', veth.ifB]);
    const out = veth.lab.exec(veth.nsB, 'iperf3', ['-c', GUEST, '-t', '3', '-J', '--connect-timeout', '3000', ...(reverse ? ['-R'] : [])]);
    const r = parseIperf3Json(out);
    return { bitsPerSecond: r.receivedBitsPerSecond };
  }

  describe('as the server, QEMU connecting with reconnect=1', () => {
    let vm: Vm | undefined;
    let backend: Served;
    const sock = () => join(dir, 'server.sock');
    afterAll(async () => { await vm?.stop(); if (backend) await stopServe(backend); });

    it('the guest reaches the peer: iperf3 both ways', async () => {
      backend = serve(['--socket', sock(), '--ifname', veth.ifA, '--netns', veth.nsA]);
      const port = await backend.waitFor('port');
      expect(port).toMatchObject({ ifname: veth.ifA, queues: 1 });
      await backend.waitFor('listening');
      vm = await startVm({ image, memoryMiB: 256, lab: veth.lab, ...vmArgs(`socket,id=vhc,path=${sock()},reconnect-ms=1000`) });
      await backend.waitFor('connected');
      await backend.waitFor('ready', 1);
      await vm.run('iperf3', ['-s', '-D'], { timeoutMs: 20_000 });
      // Idle, the back end sleeps in poll() (guest kicks on): it does not spin a core.
      const cpu0 = processCpuSeconds(backend.proc.pid!);
      await new Promise((r) => setTimeout(r, 3000));
      const idleCpu = processCpuSeconds(backend.proc.pid!) - cpu0;
      console.log(`vhost-user back end idle: ${idleCpu.toFixed(2)} CPU s in 3 s`);
      expect(idleCpu).toBeLessThan(1);
      veth.lab.exec(veth.nsB, 'ping', ['-c', '1', '-W', '5', GUEST]);
      const fwd = iperf3(false);
      const rev = iperf3(true);
      console.log(`vhost-user (xdplab, server): peer -> guest ${(fwd.bitsPerSecond / 1e6).toFixed(0)} Mbit/s, guest -> peer ${(rev.bitsPerSecond / 1e6).toFixed(0)} Mbit/s`);
      expect(fwd.bitsPerSecond).toBeGreaterThan(1e6);
      expect(rev.bitsPerSecond).toBeGreaterThan(1e6);
    }, 180_000);

    it('the back end restarted: QEMU reconnects and traffic resumes without a guest reboot', async () => {
      expect(vm?.running).toBe(true);
      const uptime = async () => Number((await vm!.run('cat', ['/proc/uptime'])).split(' ')[0]);
      const before = await uptime();
      expect(await stopServe(backend)).toBe(0);
      const gone = backend.events.filter((e) => e.kind === 'disconnected');
      expect(gone.at(-1)?.reason).toBe('the back end stopped');
      backend = serve(['--socket', sock(), '--ifname', veth.ifA, '--netns', veth.nsA]);
      await backend.waitFor('connected', 1, 20_000);
      await backend.waitFor('ready', 2, 20_000);
      const fwd = iperf3(false);
      expect(fwd.bitsPerSecond).toBeGreaterThan(1e6);
      // The same boot: uptime went on.
      expect(await uptime()).toBeGreaterThan(before);
    }, 120_000);

    it('QEMU killed mid-transfer: the back end unmaps, closes the eventfds and serves the next QEMU', async () => {
      const pid = backend.proc.pid!;
      const memfdMaps = () => readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((l) => l.includes('memfd:')).length;
      const fds = () => readdirSync(`/proc/${pid}/fd`).length;
      expect(memfdMaps()).toBeGreaterThan(0);
      const client = veth.lab.spawn(veth.nsB, 'iperf3', ['-c', GUEST, '-t', '5'], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 1500));
      process.kill(vm!.pid!, 'SIGKILL');
      await backend.waitFor('disconnected', 1, 20_000);
      await vm!.stop();
      vm = undefined;
      client.kill('SIGKILL');
      expect(memfdMaps()).toBe(0);
      const idleFds = fds();
      // A new QEMU on the same back end.
      vm = await startVm({ image, memoryMiB: 256, lab: veth.lab, ...vmArgs(`socket,id=vhc,path=${sock()},reconnect-ms=1000`) });
      await backend.waitFor('ready', 2, 30_000);
      await vm.run('iperf3', ['-s', '-D'], { timeoutMs: 20_000 });
      expect(iperf3(true).bitsPerSecond).toBeGreaterThan(1e6);
      await vm.stop();
      vm = undefined;
      await backend.waitFor('disconnected', 2, 20_000);
      expect({ maps: memfdMaps(), fds: fds() }).toEqual({ maps: 0, fds: idleFds });
    }, 180_000);
  });

  describe('two queue pairs (--queues 2, VIRTIO_NET_F_MQ) on a two-queue veth', () => {
    let mq: VethLab;
    let vm: Vm | undefined;
    let backend: Served | undefined;
    afterAll(async () => { await vm?.stop(); if (backend) await stopServe(backend); mq?.lab.close(); });

    it('QEMU starts all four rings; traffic flows', async () => {
      mq = createVethLab({ channels: 2 });
      mq.lab.ip(mq.nsB, ['addr', 'add', `${PEER}/24`, 'dev', mq.ifB]);
      mq.lab.ip(mq.nsB, ['link', 'set', mq.ifB, 'up']);
      mq.lab.ip(mq.nsA, ['link', 'set', mq.ifA, 'up']);
      mq.lab.disableOffloads(mq.nsB, mq.ifB);
      const sock = join(dir, 'mq.sock');
      backend = serve(['--socket', sock, '--ifname', mq.ifA, '--netns', mq.nsA, '--queues', '2']);
      expect(await backend.waitFor('port')).toMatchObject({ queues: 2 });
      await backend.waitFor('listening');
      vm = await startVm({
        image, memoryMiB: 256, lab: mq.lab,
        extraArgs: ['-object', 'memory-backend-memfd,id=mem,size=256M,share=on', '-numa', 'node,memdev=mem', '-chardev', `socket,id=vhc,path=${sock},reconnect-ms=1000`],
        nics: [{ netdev: 'vhost-user,id=n0,chardev=vhc,queues=2', ip: `${GUEST}/24`, deviceProps: 'mq=on,vectors=6' }],
      });
      const ready = await backend.waitFor('ready', 4, 30_000);
      expect(ready.rings).toBe(4);
      mq.lab.exec(mq.nsB, 'ping', ['-c', '3', '-i', '0.2', '-W', '5', GUEST]);
    }, 180_000);
  });

  describe('as the client, QEMU\'s chardev listening (server=on)', () => {
    let vm: Vm | undefined;
    let backend: Served | undefined;
    afterAll(async () => { await vm?.stop(); if (backend) await stopServe(backend); });

    it('connects (retrying until QEMU listens) and carries iperf3; SIGTERM exits 0 and leaves no XDP program', async () => {
      const sock = join(dir, 'client.sock');
      backend = serve(['--socket', sock, '--ifname', veth.ifA, '--netns', veth.nsA, '--client']);
      await backend.waitFor('connecting');
      vm = await startVm({ image, memoryMiB: 256, lab: veth.lab, ...vmArgs(`socket,id=vhc,path=${sock},server=on`) });
      await backend.waitFor('ready', 1, 30_000);
      await vm.run('iperf3', ['-s', '-D'], { timeoutMs: 20_000 });
      expect(iperf3(false).bitsPerSecond).toBeGreaterThan(1e6);
      await vm.stop();
      vm = undefined;
      expect(await stopServe(backend)).toBe(0);
      backend = undefined;
      expect(veth.lab.ip(veth.nsA, ['link', 'show', veth.ifA])).not.toMatch(/prog\/xdp/);
    }, 180_000);
  });
});
