// xdplab's vhost-user back end (xdplab vhost serve) with a real QEMU (Debian's, no af-xdp) under
// TCG: the guest's virtio-net NIC on the back end, the back end's AF_XDP port on one end of a
// veth pair, iperf3 from the other end's namespace to the guest, both ways; the back end as the
// server (QEMU a client with reconnect=1: the back end restarted, traffic resumes without a
// reboot) and as the client (QEMU's chardev server=on). Nothing left afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureGuestImage, type GuestImage } from '../../benchmarks/qemu/guest-image.js';
import { startVm, type Vm } from '../../benchmarks/qemu/vm.js';
import { parseIperf3Json } from '../../benchmarks/tools/iperf3.js';
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
      veth.lab.exec(veth.nsB, 'ping', ['-c', '1', '-W', '5', GUEST]);
      const fwd = iperf3(false);
      const rev = iperf3(true);
      console.log(`vhost-user (xdplab, server): peer -> guest ${(fwd.bitsPerSecond / 1e6).toFixed(0)} Mbit/s, guest -> peer ${(rev.bitsPerSecond / 1e6).toFixed(0)} Mbit/s`);
      expect(fwd.bitsPerSecond).toBeGreaterThan(1e6);
      expect(rev.bitsPerSecond).toBeGreaterThan(1e6);
    }, 180_000);
  });
});
