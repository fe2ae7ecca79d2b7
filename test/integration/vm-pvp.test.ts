// PVP against real QEMU (TCG here) and real AF_XDP: xdplab's txonly on host end G (a tap) ->
// guest eth0 -> the guest's kernel bridge -> guest eth1 -> host end R (a tap) -> xdplab's rxonly.
// One boot: a fixed count first (most frames arrive; none comes back out of G), then the rate
// the guest sustains while G sends unpaced for 3 s (printed, not asserted beyond > 0: under TCG
// the guest's emulated CPU sets it, and other work on the machine moves it).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { startWorker, type RunningWorker, type WorkerOutcome, type WorkerSampleEvent } from '../../benchmarks/engines/worker-client.js';
import { Lab } from '../../benchmarks/lab/lab.js';
import { PVP_NOT_AVAILABLE } from '../../benchmarks/qemu/backend-topology.js';
import { VM_BACKEND_NAMES } from '../../benchmarks/qemu/backends.js';
import { ensureGuestImage, ON_DEMAND_MODULES, type GuestImage } from '../../benchmarks/qemu/guest-image.js';
import { delta, readLinks, type LinkSnapshot } from '../../benchmarks/vmbench/link-stats.js';
import { isPvpBackend, PVP_BACKENDS, pvpUnavailable, withPvpPath, type PvpPath } from '../../benchmarks/vmbench/pvp.js';
import { suite } from '../helpers/requirements.js';

const QEMU = process.env.XDPLAB_QEMU || 'qemu-system-x86_64';
const COUNT = 20_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function expectError(p: Promise<unknown>): Promise<LabError> {
  try { await p; } catch (e) { if (e instanceof LabError) return e; throw e; }
  throw new Error('expected an error');
}

const namespacesOf = (lab: Lab) => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`xl-${lab.id}-`));
function qemuOf(lab: Lab): string[] {
  try { return execFileSync('pgrep', ['-a', '-f', `qemu-system.*-name pvp-${lab.id}`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean); } catch { return []; }
}

describe('PVP: which backends', () => {
  it('every backend is either a PVP path or says why not', () => {
    expect([...PVP_BACKENDS].sort()).toEqual(['af-xdp', 'tap', 'tap-bridge', 'tap-vhost']);
    for (const b of VM_BACKEND_NAMES) {
      if (isPvpBackend(b)) expect(pvpUnavailable(b), b).toBeUndefined();
      else expect(pvpUnavailable(b), b).toMatch(/^not available: \S/);
    }
    expect(pvpUnavailable('user')).toMatch(/slirp/);
    expect(pvpUnavailable('stream-unix')).toMatch(/no network interface on the host/);
    expect(Object.keys(PVP_NOT_AVAILABLE).length + PVP_BACKENDS.length).toBe(VM_BACKEND_NAMES.length);
  });

  it('the guest image has the bridge module on demand', () => {
    expect(ON_DEMAND_MODULES).toContain('bridge');
  });
});

interface Followed { w: RunningWorker; samples: Array<WorkerSampleEvent & { hostMs: number }> }

function follow(lab: Lab, spec: Parameters<typeof startWorker>[1]): Followed {
  const samples: Followed['samples'] = [];
  return { w: startWorker(lab, spec, (s) => samples.push({ ...s, hostMs: performance.now() })), samples };
}

/** The worker's receive rate between two host times, from its own samples and clock. */
function rxRate(f: Followed, fromMs: number, toMs: number): number {
  const inside = f.samples.filter((s) => s.hostMs >= fromMs && s.hostMs <= toMs);
  const a = inside[0], b = inside[inside.length - 1];
  return a && b && b.tMs > a.tMs ? ((b.rx - a.rx) * 1000) / (b.tMs - a.tMs) : 0;
}

function stat(r: WorkerOutcome, k: string): number {
  const v = r.ok ? r.stats[k] : undefined;
  return typeof v === 'number' ? v : 0;
}

async function ready(f: Followed, what: string): Promise<void> {
  try { await f.w.ready; } catch { const r = await f.w.done; throw new Error(`${what}: ${r.ok ? 'stopped before ready' : r.error.message}`); }
}

const last = (f: Followed) => f.samples[f.samples.length - 1];

async function links(p: PvpPath): Promise<{ gen: LinkSnapshot; recv: LinkSnapshot }> {
  const [gen, recv] = await Promise.all([readLinks(p.gen.netns), readLinks(p.recv.netns)]);
  return { gen, recv };
}

suite('PVP under QEMU and AF_XDP', { root: true, tools: [QEMU, 'ethtool', 'pgrep', 'apt-get', 'dpkg', 'depmod'] }, () => {
  let image: GuestImage;
  const lab = new Lab('pvp-test');

  beforeAll(async () => { image = await ensureGuestImage({}); }, 300_000);

  afterAll(() => {
    lab.close();
    expect({ namespaces: namespacesOf(lab), qemu: qemuOf(lab) }).toEqual({ namespaces: [], qemu: [] });
  });

  it('backends without host ends, an unknown backend and a QEMU without af-xdp fail before anything is built', async () => {
    const user = await expectError(withPvpPath(lab, { backend: 'user', image }, async () => undefined));
    expect(user).toMatchObject({ code: 'ENOTAVAILABLE', field: 'backend' });
    expect(user.message).toMatch(/^PVP over user: not available: slirp/);
    const nope = await expectError(withPvpPath(lab, { backend: 'nope', image }, async () => undefined));
    expect(nope.code).toBe('EINVALIDOPTION');
    const caps = await import('../../benchmarks/qemu/capabilities.js').then((m) => m.qemuCapabilities({}));
    if (!caps.afXdp.present) {
      const ax = await expectError(withPvpPath(lab, { backend: 'af-xdp', image }, async () => undefined));
      expect(ax.message).toMatch(/not available: .*lacks the af-xdp netdev/);
    }
    if (!existsSync('/dev/vhost-net')) {
      const vh = await expectError(withPvpPath(lab, { backend: 'tap-vhost', image }, async () => undefined));
      expect(vh.message).toMatch(/^PVP over tap-vhost: not available: .*no \/dev\/vhost-net/);
    }
    expect(namespacesOf(lab)).toEqual([]);
  }, 60_000);

  it('a VM that fails to start (unknown NIC model) leaves no namespace and no QEMU', async () => {
    const err = await expectError(withPvpPath(lab, { backend: 'tap', image, nicModel: 'no-such-nic' }, async () => undefined));
    expect(err.code).toBe('EQEMUEXIT');
    expect({ namespaces: namespacesOf(lab), qemu: qemuOf(lab) }).toEqual({ namespaces: [], qemu: [] });
  }, 60_000);

  it('tap: the guest forwards G -> R; most of a fixed count arrives, none comes back out of G; the rate under TCG', async () => {
    let seenInside: string[] = [];
    const t0 = performance.now();
    await withPvpPath(lab, { backend: 'tap', qemu: QEMU, image, progress: (m) => console.log(`[pvp] ${m}`) }, async (p) => {
      seenInside = namespacesOf(lab);
      console.log(`[pvp] boot ${p.bootMs} ms, forwarder set up in ${p.forwarderSetupMs} ms; path ready ${Math.round(performance.now() - t0)} ms after the call`);
      expect(p.vm.linksWithoutCarrier).toEqual([]);
      expect(p.mode).toBe('skb');
      expect(p.commandLines[0]).toMatch(/-netdev tap,id=n0,ifname=xl-[0-9a-f]{6}-tg\d+,script=no,downscript=no,vnet_hdr=off -device virtio-net-pci,netdev=n0,.* -netdev tap,id=n1,ifname=xl-[0-9a-f]{6}-tr\d+,/);
      expect(p.commandLines).toContain('(guest) brctl addif br0 eth1');
      expect(await p.vm.run('cat', ['/sys/class/net/eth0/brport/state', '/sys/class/net/eth1/brport/state'])).toBe('3\n3\n');
      // The generator's fixed count at once into G: a tap queue as long as the count holds it
      // all, so that QEMU takes the frames at the guest's pace instead of the tap dropping
      // what does not fit in its 1000 (the worker has no pacing of its own yet).
      lab.ip(p.gen.netns, ['link', 'set', 'dev', p.gen.ifname, 'txqueuelen', String(COUNT + 1000)]);
      const gen = { netns: p.gen.netns, ifname: p.gen.ifname, mode: p.mode, frameBytes: 64, warmupMs: 0, sampleMs: 200, seconds: 120, srcMac: p.gen.mac, dstMac: p.recv.mac };
      const recvSpec = { netns: p.recv.netns, ifname: p.recv.ifname, engine: 'rxonly' as const, mode: p.mode, warmupMs: 0, sampleMs: 200, seconds: 120 };

      // ---- a fixed count ----
      const a = await links(p);
      const rx = follow(lab, recvSpec);
      await ready(rx, 'rxonly on R');
      const tx = follow(lab, { ...gen, engine: 'txonly', maxPackets: COUNT });
      await ready(tx, 'txonly on G');
      const sendStart = performance.now();
      for (const end = performance.now() + 30_000; (last(tx)?.tx ?? 0) < COUNT && performance.now() < end;) await sleep(50);
      tx.w.stop();
      const txr = await tx.w.done;
      // Until R's count stops moving (the tap queue drains at the guest's pace).
      let prev = -1;
      for (const end = performance.now() + 60_000; performance.now() < end;) {
        await sleep(1000);
        const cur = last(rx)?.rx ?? 0;
        if (cur === prev) break;
        prev = cur;
      }
      const drainedMs = performance.now() - sendStart;
      rx.w.stop();
      const rxr = await rx.w.done;
      const b = await links(p);
      expect(txr.ok && rxr.ok, JSON.stringify([txr, rxr]).slice(0, 500)).toBe(true);
      if (!txr.ok || !rxr.ok) return;
      const into = delta(a.gen, b.gen, p.gen.ifname, 'txPackets'); // QEMU read from G toward eth0
      const dropG = delta(a.gen, b.gen, p.gen.ifname, 'txDropped');
      const outR = delta(a.recv, b.recv, p.recv.ifname, 'rxPackets'); // QEMU wrote to R from eth1
      const backG = delta(a.gen, b.gen, p.gen.ifname, 'rxPackets'); // QEMU wrote to G: came back
      const guest = await p.vm.run('sh', ['-c', 'cat /sys/class/net/eth0/statistics/rx_packets /sys/class/net/eth0/statistics/rx_dropped /sys/class/net/eth1/statistics/tx_packets /sys/class/net/eth1/statistics/tx_dropped /sys/class/net/eth0/statistics/tx_packets']);
      console.log(`[pvp] fixed count: worker sent ${txr.tx}, G queued ${into} to the guest (${dropG} dropped at G), R got ${outR} from the guest, xdplab's rxonly counted ${rxr.rx} (${((100 * rxr.rx) / COUNT).toFixed(1)}%; its socket dropped ${stat(rxr, 'rxDropped')}, R's rx_dropped ${delta(a.recv, b.recv, p.recv.ifname, 'rxDropped')}), ${backG} came back out of G, drained in ${(drainedMs / 1000).toFixed(1)} s; guest eth0 rx/rx_dropped, eth1 tx/tx_dropped, eth0 tx: ${guest.trim().split('\n').join(' ')}`);
      expect(txr.tx).toBe(COUNT);
      expect(rxr.rx).toBeGreaterThan(COUNT / 2);
      expect(rxr.rx).toBeLessThanOrEqual(COUNT);
      expect(outR).toBeGreaterThanOrEqual(rxr.rx);
      expect(backG).toBe(0);
      // Nor did the guest itself send anything out of eth0 since boot (no IGMP, no IPv6).
      expect(guest.trim().split('\n')[4]).toBe('0');

      // ---- the rate the guest sustains: G unpaced for 1 s of warm-up and a 3 s window ----
      const rx2 = follow(lab, recvSpec);
      await ready(rx2, 'rxonly on R');
      const tx2 = follow(lab, { ...gen, engine: 'txonly' });
      await ready(tx2, 'txonly on G');
      await sleep(1000);
      const w0 = await links(p);
      await sleep(3000);
      const w1 = await links(p);
      const seconds = (w1.recv.atMs - w0.recv.atMs) / 1000;
      const xRate = rxRate(rx2, w0.recv.atMs, w1.recv.atMs + 250);
      tx2.w.stop();
      const tx2r = await tx2.w.done;
      await sleep(1500);
      rx2.w.stop();
      const rx2r = await rx2.w.done;
      const rOut = delta(w0.recv, w1.recv, p.recv.ifname, 'rxPackets') / seconds;
      const gIn = delta(w0.gen, w1.gen, p.gen.ifname, 'txPackets') / seconds;
      const gDrop = delta(w0.gen, w1.gen, p.gen.ifname, 'txDropped') / seconds;
      const back = delta(w0.gen, w1.gen, p.gen.ifname, 'rxPackets');
      console.log(`[pvp] rate over ${seconds.toFixed(2)} s, 64-byte frames, G unpaced (worker sent ${tx2r.ok ? tx2r.tx : '?'} in all): into the guest ${Math.round(gIn)} fps, out of the guest at R ${Math.round(rOut)} fps, xdplab's rxonly ${Math.round(xRate)} fps (its socket dropped ${stat(rx2r, 'rxDropped')} in all, fill ring empty ${stat(rx2r, 'rxFillRingEmpty')} times), dropped at G's queue ${Math.round(gDrop)} fps, back out of G ${back}`);
      expect(rOut).toBeGreaterThan(0);
      expect(back).toBe(0);
    });
    expect(seenInside.length).toBeGreaterThan(0);
    expect({ namespaces: namespacesOf(lab), qemu: qemuOf(lab) }).toEqual({ namespaces: [], qemu: [] });
  }, 300_000);
});
