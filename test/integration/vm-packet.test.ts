// testpmd-style runs with a VM, against real QEMU (TCG here) and real AF_XDP: VM <-> tap <->
// bridge <-> veth <-> xdplab's worker. One rig (one VM) serves the exact-count checks; the
// runner's own trials boot their own VMs. Nothing asserts speed. After all: no QEMU process,
// namespace or temp dir of any VM started here.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWorkerSpec } from '../../benchmarks/engines/worker.js';
import { Lab } from '../../benchmarks/lab/lab.js';
import { qemuCapabilities } from '../../benchmarks/qemu/capabilities.js';
import { ensureGuestImage, type GuestImage } from '../../benchmarks/qemu/guest-image.js';
import { formatNetdevArg, validateNetdev } from '../../benchmarks/qemu/netdev.js';
import type { Sample } from '../../benchmarks/contracts/report.js';
import { parseGuestNic, parsePktgenResult, pktgenWrites } from '../../benchmarks/vmbench/guest-traffic.js';
import { runVmPacketTrial, VmPacketRig } from '../../benchmarks/vmbench/packet.js';
import { afXdpNetdev } from '../../benchmarks/vmbench/packet-topology.js';
import type { VmTrialContext, VmTrialOutcome } from '../../benchmarks/vmbench/vm-trial.js';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { suite } from '../helpers/requirements.js';

/** Lab ids of everything started here: VMs are named vmpkt-<id>, namespaces xl-<id>-*. */
const ids = new Set<string>();

function leftovers(of: Iterable<string> = ids): { processes: string[]; namespaces: string[]; dirs: string[] } {
  const processes: string[] = [];
  const namespaces: string[] = [];
  const dirs: string[] = [];
  const allNs = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
  for (const id of of) {
    try {
      processes.push(...execFileSync('pgrep', ['-a', '-f', `qemu-system.*-name vmpkt-${id}`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean));
    } catch { /* none */ }
    namespaces.push(...allNs.filter((n) => n.startsWith(`xl-${id}-`)));
    for (const d of [tmpdir(), '/tmp']) if (existsSync(d)) dirs.push(...readdirSync(d).filter((n) => n.startsWith(`xdplab-vmpkt-${id}-`)).map((n) => join(d, n)));
  }
  return { processes, namespaces, dirs: [...new Set(dirs)] };
}

async function expectError(p: Promise<unknown>): Promise<LabError> {
  try { await p; } catch (e) { if (e instanceof LabError) return e; throw e; }
  throw new Error('expected an error');
}

describe('vm packet tests: pure parts', () => {
  it('af-xdp netdev options come from the netdev model and are validated', () => {
    expect(formatNetdevArg(afXdpNetdev('n0', 'veth0', 'skb'))).toBe('af-xdp,id=n0,ifname=veth0,mode=skb,queues=1,start-queue=0');
    expect(formatNetdevArg(afXdpNetdev('n0', 'veth0'))).toBe('af-xdp,id=n0,ifname=veth0,queues=1,start-queue=0');
    expect(() => validateNetdev({ ...afXdpNetdev('n0', 'veth0'), inhibit: true })).toThrow(/sock-fds/);
    expect(() => validateNetdev({ ...afXdpNetdev('n0', 'veth0'), mode: 'zero-copy' })).toThrow(LabError);
  });

  it("xdplab's worker takes a fixed count for txonly (maxPackets in its spec)", () => {
    expect(parseWorkerSpec(JSON.stringify({ ifname: 'v', engine: 'txonly', maxPackets: 256 })).maxPackets).toBe(256);
    expect(parseWorkerSpec(JSON.stringify({ ifname: 'v', engine: 'txonly' })).maxPackets).toBeUndefined();
    expect(() => parseWorkerSpec(JSON.stringify({ ifname: 'v', engine: 'txonly', maxPackets: 0 }))).toThrow(/maxPackets: must be at least 1/);
    expect(() => parseWorkerSpec('--ifname v')).toThrow(/one argument: a WorkerSpec as JSON/);
  });

  it('pktgen config: frame size without FCS, the peer as destination, bursts only for timed runs', () => {
    const w = pktgenWrites({ ifname: 'eth0', dstMac: '02:00:00:00:00:01', dstIp: '198.18.0.1', srcIp: '198.18.0.2', frameBytes: 64, count: 1000 });
    expect(w).toContainEqual(['/proc/net/pktgen/kpktgend_0', 'add_device eth0']);
    for (const line of ['count 1000', 'pkt_size 64', 'dst 198.18.0.1', 'dst_mac 02:00:00:00:00:01', 'burst 1']) expect(w).toContainEqual(['/proc/net/pktgen/eth0', line]);
    expect(pktgenWrites({ ifname: 'eth0', dstMac: '02:00:00:00:00:01', dstIp: '198.18.0.1', srcIp: '198.18.0.2', frameBytes: 64, count: 0 })).toContainEqual(['/proc/net/pktgen/eth0', 'burst 32']);
    expect(() => pktgenWrites({ ifname: 'eth0', dstMac: 'nope', dstIp: '198.18.0.1', srcIp: '198.18.0.2', frameBytes: 64, count: 1 })).toThrow(/dstMac/);
    expect(() => pktgenWrites({ ifname: 'eth0', dstMac: '02:00:00:00:00:01', dstIp: '198.18.0.1', srcIp: '198.18.0.2', frameBytes: 20, count: 1 })).toThrow(/frameBytes/);
    const dev = 'Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n  eth0:12800000  200000    0    3    0     0          0         0     5120      80    0    1    0     0       0          0\n';
    expect(parseGuestNic(`${dev}12.34 10.00\n`, 'eth0')).toEqual({ rxBytes: 12_800_000, rxPackets: 200_000, rxDropped: 3, txBytes: 5120, txPackets: 80, txDropped: 1, uptimeMs: 12_340 });
    expect(() => parseGuestNic(`${dev}12.34 10.00\n`, 'eth1')).toThrow(/counters of eth1/);
    expect(parsePktgenResult('Current:\n     pkts-sofar: 1000  errors: 0\nResult: OK: 8112(c8011+d100) usec, 1000 (64byte,0frags)\n')).toEqual({ sent: 1000, errors: 0, resultLine: 'Result: OK: 8112(c8011+d100) usec, 1000 (64byte,0frags)' });
  });
});

suite('VM packet tests under QEMU and AF_XDP', { root: true, tools: ['qemu-system-x86_64', 'ethtool', 'pgrep', 'apt-get', 'dpkg', 'depmod', 'xz'] }, () => {
  let image: GuestImage;
  let rig: VmPacketRig | undefined;
  const lab = new Lab('vmpkt-test'); // the context's lab (the runner keeps its trials in labs of their own)

  beforeAll(async () => {
    image = await ensureGuestImage({});
    rig = await VmPacketRig.open({ image });
    ids.add(rig.lab.id);
  }, 180_000);

  afterAll(async () => {
    await rig?.close();
    lab.close();
    expect(leftovers()).toEqual({ processes: [], namespaces: [], dirs: [] });
  }, 60_000);

  const context = (over: Partial<VmTrialContext>, progress: string[], samples: Sample[]): VmTrialContext => ({
    lab, qemuBinary: process.env.XDPLAB_QEMU || 'qemu-system-x86_64', image, backend: 'tap', test: 'txonly', rowId: 'tap-txonly', trial: 1,
    durationMs: 1500, warmupMs: 300, frameBytes: 64, mode: 'skb', nicModel: 'virtio-net-pci',
    sample: (s) => samples.push(s), progress: (m) => { progress.push(m); const id = /starting vmpkt-([0-9a-f]{6})/.exec(m)?.[1]; if (id) ids.add(id); },
    stopSignal: { stop: false }, ...over,
  });

  it('txonly to the guest, a fixed count: the guest receives every frame sent', async () => {
    // The worker has no rate limit; a fixed count (maxPackets) below the tap's queue
    // (txqueuelen 1000) and the backlog may go at full speed without a frame being dropped.
    const out = await rig!.txonly({ mode: 'native', frameBytes: 64, warmupMs: 0, durationMs: 0, count: 256 });
    expect(out.metrics).toMatchObject({ workerSentPackets: 256, sentPackets: 256, receivedPackets: 256, droppedPackets: 0 });
    expect(out.attached).toEqual({ mode: 'native', zeroCopy: false });
    expect(out.commandLines[0]).toBe(rig!.qemuCommandLine);
    expect(out.commandLines[1]).toMatch(/worker\.js .*"engine":"txonly","mode":"native"/);
    expect(out.commandLines[1]).toMatch(/"dstMac":"52:54:00:/);
    expect(out.commandLines[1]).toMatch(/"maxPackets":256/);
  }, 60_000);

  it('pktgen in the guest, a fixed count: xdplab rxonly counts exactly that count, of pkt_size bytes each', async () => {
    const out = await rig!.rxonly({ mode: 'native', frameBytes: 128, warmupMs: 0, durationMs: 0, count: 1000 });
    expect(out.metrics).toMatchObject({ sentPackets: 1000, receivedPackets: 1000, droppedPackets: 0, pktgenErrors: 0, tapRxPackets: 1000, tapRxBytes: 128_000 });
    expect(out.attached?.mode).toBe('native');
    expect(out.commandLines).toContain("echo 'pkt_size 128' > /proc/net/pktgen/eth0");
    expect(out.commandLines).toContain("echo 'count 1000' > /proc/net/pktgen/eth0");
  }, 90_000);

  it('honours the stop signal: 60 s runs end soon after stop is set', async () => {
    for (const test of ['txonly', 'rxonly'] as const) {
      const stop = { stop: false };
      const t0 = performance.now();
      const timer = setTimeout(() => { stop.stop = true; }, 4000);
      const out = await rig![test]({ mode: 'skb', frameBytes: 64, warmupMs: 500, durationMs: 60_000, stopSignal: stop });
      clearTimeout(timer);
      expect(performance.now() - t0, test).toBeLessThan(40_000);
      // No window at all when the stop came before it began (a slow start under load).
      expect(out.metrics.seconds ?? 0, test).toBeLessThan(30);
      expect(out.metrics.droppedPackets, test).toBe(out.metrics.sentPackets! - out.metrics.receivedPackets!);
    }
  }, 120_000);

  it('the runner: a short txonly trial in skb mode has the QEMU command line first and sane metrics', async () => {
    const progress: string[] = [];
    const samples: Sample[] = [];
    const out: VmTrialOutcome = await runVmPacketTrial(context({ test: 'txonly' }, progress, samples));
    expect(out.commandLines[0]).toMatch(/^ip netns exec xl-[0-9a-f]{6}-v\d+ (setpriv --pdeathsig KILL )?\S*qemu-system-x86_64 /);
    expect(out.commandLines[0]).toMatch(/-netdev tap,id=n0,ifname=xl-[0-9a-f]{6}-t\d+,script=no,downscript=no,vnet_hdr=off -device virtio-net-pci,netdev=n0,mac=52:54:00:/);
    expect(out.commandLines[1]).toMatch(/worker\.js .*"engine":"txonly","mode":"skb"/);
    expect(out.attached?.mode).toBe('skb');
    const m = out.metrics;
    expect(m.packetsPerSecond).toBeGreaterThan(0);
    // The guest's rx_bytes over rx_packets: 64-byte frames (no FCS), from one counter snapshot.
    expect(m.bitsPerSecond! / (m.packetsPerSecond! * 64 * 8)).toBeCloseTo(1, 6);
    expect(m.seconds).toBeGreaterThan(0.5);
    expect(m.receivedPackets).toBeGreaterThan(0);
    expect(m.sentPackets).toBeGreaterThanOrEqual(m.receivedPackets!);
    expect(m.droppedPackets).toBe(m.sentPackets! - m.receivedPackets!);
    // Every drop is located by a counter on the path (here: the tap's queue, QEMU not keeping up).
    expect(m.otherDroppedPackets).toBe(0);
    expect(samples.length).toBeGreaterThanOrEqual(2);
    for (const s of samples) expect(s).toMatchObject({ row: 'tap-txonly', trial: 1 });
  }, 120_000);

  it('rxonly for a duration (pktgen until stopped) in skb mode: samples from xdplab, every frame accounted for', async () => {
    const samples: Sample[] = [];
    const out = await rig!.rxonly({ mode: 'skb', frameBytes: 64, warmupMs: 300, durationMs: 1500, rowId: 'tap-rxonly', trial: 2, sample: (s) => samples.push(s) });
    expect(out.commandLines[1]).toMatch(/worker\.js .*"engine":"rxonly","mode":"skb"/);
    expect(out.commandLines).toContain("echo 'count 0' > /proc/net/pktgen/eth0");
    const m = out.metrics;
    expect(m.packetsPerSecond).toBeGreaterThan(0);
    expect(m.seconds).toBeGreaterThan(0.5);
    expect(m.receivedPackets).toBeGreaterThan(0);
    expect(m.guestTxPackets).toBe(m.sentPackets);
    expect(m.droppedPackets).toBe(m.sentPackets! - m.receivedPackets!);
    expect(m.otherDroppedPackets).toBe(0); // any drop is located (xdplab's socket, veth, tap)
    expect(samples.length).toBeGreaterThanOrEqual(2);
    for (const s of samples) expect(s).toMatchObject({ row: 'tap-rxonly', trial: 2 });
  }, 90_000);

  it('backend af-xdp: ENOTOOL with the reason on a QEMU without it (options still built and validated)', async () => {
    const caps = await qemuCapabilities({});
    if (caps.afXdp.present) {
      const out = await runVmPacketTrial(context({ backend: 'af-xdp', test: 'txonly' }, [], []));
      expect(out.commandLines[0]).toMatch(/-netdev af-xdp,id=n0,ifname=xl-/);
      return;
    }
    const err = await expectError(runVmPacketTrial(context({ backend: 'af-xdp' }, [], [])));
    expect(err.code).toBe('ENOTOOL');
    expect(err.field).toBe('backend');
    expect(err.message).toMatch(/lacks the af-xdp netdev/);
    expect(err.message).toMatch(/QEMU >= 8\.2 built with libxdp >= 1\.4/);
    expect(err.message).toMatch(/-netdev af-xdp,id=n0,ifname=xl-[0-9a-f]{6}-q\d+,queues=1,start-queue=0/);
    expect(err.hint).toMatch(/--qemu PATH or XDPLAB_QEMU/);
    ids.add(/ifname=xl-([0-9a-f]{6})-/.exec(err.message)![1]!);
  }, 60_000);

  it('a trial that fails after its namespaces exist (QEMU exits at start) leaves nothing behind', async () => {
    const err = await expectError(runVmPacketTrial(context({ nicModel: 'no-such-nic' }, [], [])));
    expect(err.code).toBe('EQEMUEXIT');
    expect(err.message).toMatch(/no-such-nic/);
    const id = /ip netns exec xl-([0-9a-f]{6})-v\d+ /.exec(err.hint ?? '')?.[1];
    expect(id, err.hint).toBeDefined();
    ids.add(id!);
    expect(leftovers([id!])).toEqual({ processes: [], namespaces: [], dirs: [] });
  }, 60_000);

  it('bad input: an unknown backend and an impossible frame size fail before anything starts', async () => {
    const bad = await expectError(runVmPacketTrial(context({ backend: 'user' }, [], [])));
    expect(bad).toMatchObject({ code: 'EINVAL', field: 'backend' });
    expect(bad.message).toMatch(/run over tap, af-xdp, .*got 'user'/);
    const size = await expectError(runVmPacketTrial(context({ frameBytes: 20 }, [], [])));
    expect(size).toMatchObject({ field: 'frameBytes' });
    expect(size.message).toMatch(/from 60 to 1514/);
  });
});
