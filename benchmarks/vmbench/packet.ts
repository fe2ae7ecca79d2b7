// testpmd-style runs with a VM (the seed's VM <-> backend <-> wire <-> peer):
//   txonly: xdplab's txonly worker on the peer sends to the guest's MAC and IP; the guest counts
//           what its NIC received (eth0 rx_packets/rx_bytes through the agent).
//   rxonly: the guest sends with kernel pktgen to the peer's MAC; xdplab's rxonly worker counts.
//
// A VmPacketRig is one topology (packet-topology.ts) and one booted VM; several runs can share
// it (the tests do, to boot once). runVmPacketTrial, the VmTrialRunner of `xdplab vm bench`,
// opens a rig, runs one test and closes it.
//
// What the numbers mean:
//   - packetsPerSecond / bitsPerSecond: over the measured window (after warm-up), counted by
//     the receiver: the guest's NIC counters (txonly, timed by the guest's own clock, read in
//     the same guest command as the counters), or xdplab's rxonly (rxonly, timed by the
//     worker's clock).
//   - sentPackets, receivedPackets, droppedPackets: over the whole run (warm-up, window and
//     drain), so that sent = received + dropped holds exactly; where the drops happened comes
//     from the kernel counters along the path (veth, tap, guest NIC, xdplab's socket).
//   - samples: one per interval in the window. txonly: the tap's tx counter (frames QEMU read
//     from the tap toward the guest), read on the host; rxonly: xdplab's cumulative rx.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { invalidOption, LabError } from '../contracts/errors.js';
import { DEFAULT_FRAME } from '../engines/frames.js';
import { Lab } from '../lab/lab.js';
import { qemuCapabilities } from '../qemu/capabilities.js';
import type { Vm } from '../qemu/vm.js';
import type { QmpClient } from '../qemu/qmp.js';
import { commandLineOf, VmGroup, type GroupVm } from '../qemu/vm-group.js';
import type { Sample } from '../contracts/report.js';
import { startWorker, type RunningWorker, type WorkerOutcome, type WorkerSampleEvent, type WorkerSpec } from '../engines/worker-client.js';
import { configurePktgen, pktgenWrites, readGuestNic, runPktgen, stopPktgen, type GuestNicCounters, type PktgenConfig } from './guest-traffic.js';
import { delta, readLinks, type LinkSnapshot } from './link-stats.js';
import { isPacketBackend, PACKET_BACKENDS } from '../qemu/backends.js';
import { createVmPacketTopology, type VmPacketTopology } from './packet-topology.js';
import type { VmTrialOutcome, VmTrialRunner } from './vm-trial.js';
import type { AfXdpMode } from '../contracts/datapath.js';
import { VIRTIO_NO_OFFLOADS } from '../qemu/vhost-user-nic.js';
import { startVhostBackend, type VhostBackendProcess, type VhostUserBackend } from '../vhost/back-ends.js';

/** The guest and the peer use the addresses of xdplab's default frame (198.18.0.2 and .1). */
export const GUEST_IP = DEFAULT_FRAME.dstIp;
export const PEER_IP = DEFAULT_FRAME.srcIp;
const GUEST_IF = 'eth0';

export interface VmPacketRigOptions {
  image: { kernelPath: string; initrdPath: string };
  qemuBinary?: string;
  /** tap (default), af-xdp or vhost-user (xdplab's back end on the veth). */
  backend?: string;
  nicModel?: string;
  name?: string;
  progress?: (message: string) => void;
  /** The VM's QMP client as soon as it connects (its events from boot on). */
  onQmp?: (vm: string, qmp: QmpClient) => void;
}

export interface PacketRunOptions {
  /** Attach mode of xdplab's port on the peer. */
  mode: AfXdpMode;
  frameBytes: number;
  warmupMs: number;
  durationMs: number;
  /** A fixed number of frames instead of a timed run (no window, no rates; exact totals). */
  count?: number;
  rowId?: string;
  trial?: number;
  sample?: (s: Sample) => void;
  stopSignal?: { stop: boolean };
  /** The measured window began at this Date.now() (tMs 0 of the samples): markers and timeline steps start from it. */
  onWindow?(atMs: number): void;
}

const sleep = (ms: number, stop?: { stop: boolean }) => new Promise<void>((resolve) => {
  const end = performance.now() + ms;
  const tick = () => (stop?.stop || performance.now() >= end ? resolve() : setTimeout(tick, Math.max(0, Math.min(50, end - performance.now()))));
  tick();
});


/** A sample interval that gives even a short window a few samples, and live views at least 2 Hz. */
export function sampleIntervalMs(durationMs: number): number {
  return Math.max(100, Math.min(500, Math.floor(durationMs / 4)));
}

function checkRun(o: PacketRunOptions): void {
  if (o.mode !== 'native' && o.mode !== 'skb') throw invalidOption('mode', `expected native or skb, got '${String(o.mode)}'`);
  if (!Number.isInteger(o.frameBytes) || o.frameBytes < 60 || o.frameBytes > 1514) {
    throw invalidOption('frameBytes', `expected an integer from 60 to 1514 (no FCS; the guest's MTU is 1500), got ${o.frameBytes}`);
  }
  if (o.count !== undefined && (!Number.isInteger(o.count) || o.count < 1)) throw invalidOption('count', `expected a positive integer, got ${o.count}`);
  if (o.count === undefined) {
    if (!(o.durationMs > 0)) throw invalidOption('durationMs', `expected a positive number of milliseconds, got ${o.durationMs}`);
    if (!(o.warmupMs >= 0)) throw invalidOption('warmupMs', `expected zero or more milliseconds, got ${o.warmupMs}`);
  }
}

/** Fails with the worker's own error when it did not get ready. */
async function workerReady(w: RunningWorker): Promise<{ mode: string; zeroCopy: boolean }> {
  try {
    return await w.ready;
  } catch {
    const r = await w.done;
    const e = r.ok ? { code: 'EWORKER', message: 'stopped before it was ready' } : r.error;
    throw new LabError({ ...e, message: `xdplab's worker on the peer: ${e.message}` });
  }
}

/** Polls `read` until it returns the same value twice in a row `gapMs` apart (or `target` is reached), at most `maxMs`. */
async function settle(read: () => Promise<number>, o: { gapMs: number; maxMs: number; target?: number }): Promise<number> {
  const end = performance.now() + o.maxMs;
  let last = await read();
  for (;;) {
    if (o.target !== undefined && last >= o.target) return last;
    if (performance.now() >= end) return last;
    await sleep(o.gapMs);
    const cur = await read();
    if (cur === last && o.target === undefined) return cur;
    last = cur;
  }
}

export class VmPacketRig {
  /** The QEMU command line (with its ip netns exec / setpriv wrapper), then the setup commands. */
  readonly commandLines: string[];

  private constructor(
    readonly lab: Lab,
    private readonly group: VmGroup,
    readonly topology: VmPacketTopology,
    readonly vm: Vm,
    readonly guestMac: string,
    /** The userspace back end between the guest and the veth (vhost-user): its CPU time is its cost. */
    readonly backendProcess?: VhostBackendProcess,
  ) {
    this.commandLines = [commandLineOf(vm), ...topology.commandLines];
  }

  get qemuCommandLine(): string { return this.commandLines[0]!; }

  /** The rig's VM with its QMP client (a run's QMP panel and timeline). */
  get vms(): GroupVm[] { return this.group.vms; }

  /**
   * Builds the topology and boots the VM on it. Backend af-xdp needs a QEMU with the af-xdp
   * netdev: without one this throws ENOTOOL (its options are built and validated first).
   * Everything is removed again when this throws.
   */
  static async open(o: VmPacketRigOptions): Promise<VmPacketRig> {
    const backend = o.backend ?? 'tap';
    if (!isPacketBackend(backend)) {
      throw new LabError({ code: 'EINVAL', field: 'backend', message: `backend: the packet tests (txonly, rxonly) run over ${PACKET_BACKENDS.join(', ')}, got '${backend}'` });
    }
    const caps = await qemuCapabilities(o.qemuBinary ? { qemu: o.qemuBinary } : {});
    const lab = new Lab('vmpacket');
    const guestMac = `52:54:00:${randomBytes(2).toString('hex').replace(/(..)(..)/, '$1:$2')}:01`;
    let group: VmGroup | undefined;
    try {
      const topology = createVmPacketTopology(lab, backend);
      if (backend === 'af-xdp' && !caps.afXdp.present) {
        throw new LabError({
          code: 'ENOTOOL', field: 'backend',
          message: `backend af-xdp: ${caps.binary.path} (QEMU ${caps.version}) lacks the af-xdp netdev (${caps.afXdp.reason ?? 'NetdevAFXDPOptions is not in its QMP schema'}); it needs QEMU >= 8.2 built with libxdp >= 1.4. The netdev it would use, valid by the netdev model: -netdev ${topology.netdevArg}`,
          hint: 'install libxdp >= 1.4 and libbpf (or build xdp-tools), build QEMU >= 8.2 with --enable-af-xdp, and point --qemu PATH or XDPLAB_QEMU at that binary; xdplab doctor shows qemu-af-xdp',
        });
      }
      // vhost-user: the back end listens before QEMU starts (QEMU's chardev connects to it).
      const backendProcess = topology.vhost
        ? await startVhostBackend(backend as VhostUserBackend, lab, { socketPath: topology.vhost.socketPath, netns: topology.vmNetns, ifname: topology.vmSide.ifname })
        : undefined;
      if (backendProcess) topology.commandLines.push(backendProcess.commandLine);
      group = new VmGroup([{
        name: o.name ?? `vmpkt-${lab.id}`, netns: topology.vmNetns, extraNetdevs: [], ...(topology.vhost ? { extraArgs: topology.vhost.vmArgs } : {}),
        nic: { netdev: topology.netdevArg, model: o.nicModel ?? 'virtio-net-pci', mac: guestMac, ip: `${GUEST_IP}/24`, ...(topology.vhost && (o.nicModel ?? 'virtio-net-pci').startsWith('virtio-net') ? { deviceProps: VIRTIO_NO_OFFLOADS } : {}) },
        // No IPv6 in the guest: its router solicitations and MLD reports would be counted.
        kernelArgs: ['ipv6.disable=1'],
      }], { lab, ownsLab: true, image: o.image, ...(o.qemuBinary ? { qemu: o.qemuBinary } : {}), ...(o.progress ? { progress: o.progress } : {}), ...(o.onQmp ? { onQmp: (spec, qmp) => o.onQmp!(spec.name, qmp) } : {}) });
      const [{ vm }] = await group.start();
      // The guest never asks for the peer's MAC (an ICMP error to a txonly frame would).
      await vm.run('arp', ['-i', GUEST_IF, '-s', PEER_IP, topology.peerMac]);
      return new VmPacketRig(lab, group, topology, vm, guestMac, backendProcess);
    } catch (err) {
      await group?.stop(5000);
      lab.close();
      throw err;
    }
  }

  /** Stops the VM (clean poweroff, then kill) and removes the namespaces and links (the group's lab). */
  async close(): Promise<void> {
    // The back end first, cleanly (it detaches its XDP program; QEMU only loses its link), and
    // waited for, so that nothing of it outlives the rig; then the VM and the lab.
    try { await this.backendProcess?.stop(); } finally { await this.group.stop(8000); }
  }

  private worker(o: PacketRunOptions, engine: 'txonly' | 'rxonly', onSample?: (ev: WorkerSampleEvent) => void): RunningWorker {
    const t = this.topology;
    const seconds = o.count !== undefined ? 120 : (o.warmupMs + o.durationMs) / 1000 + 60; // stopped by us well before
    const spec: WorkerSpec = {
      netns: t.peer.netns!, ifname: t.peer.ifname, engine, mode: o.mode, frameBytes: o.frameBytes,
      // Not pinned (unlike the bench's peer): pinned to CPU 0 on this 2-core machine shared with
      // other work, rxonly lost more frames (fill ring empty: the worker not scheduled while the
      // guest kept sending) than unpinned, run for run. QEMU's vCPU thread is not pinned either.
      seconds, warmupMs: 0, sampleMs: onSample ? sampleIntervalMs(o.durationMs) : 0,
      ...(engine === 'txonly' ? { srcMac: t.peerMac, dstMac: this.guestMac, ...(o.count !== undefined ? { maxPackets: o.count } : {}) } : {}),
    };
    return startWorker(this.lab, spec, onSample);
  }

  /**
   * A userspace back end's cost over the whole run (warm-up, window, drain): its CPU seconds and
   * CPU ns per packet it carried (txonly: the frames the guest received; rxonly: the frames the
   * guest sent, which all went through it). Under TCG the guest bounds the rate, and this is
   * what still compares two back ends.
   */
  private addBackendCost(metrics: Record<string, number>, cpu0: number | undefined, packets: number | undefined): void {
    if (cpu0 === undefined || !this.backendProcess) return;
    const cpu = this.backendProcess.cpuSeconds() - cpu0;
    if (!Number.isFinite(cpu)) return;
    metrics.backendCpuSeconds = cpu;
    if (packets && packets > 0) metrics.backendCpuNsPerPacket = (cpu * 1e9) / packets;
  }

  private readHost(): Promise<[LinkSnapshot, LinkSnapshot]> {
    return Promise.all([readLinks(this.topology.vmNetns), readLinks(this.topology.peer.netns)]);
  }

  /** xdplab's txonly on the peer sends to the guest; the guest's NIC counts. */
  async txonly(o: PacketRunOptions): Promise<VmTrialOutcome> {
    checkRun(o);
    const cpu0 = this.backendProcess?.cpuSeconds();
    const t = this.topology;
    const guest = () => readGuestNic(this.vm, GUEST_IF);
    const g0 = await guest();
    const [v0, p0] = await this.readHost();
    const w = this.worker(o, 'txonly');
    let window: { from: GuestNicCounters; to: GuestNicCounters } | undefined;
    let r: WorkerOutcome;
    let attached: { mode: string; zeroCopy: boolean };
    try {
      attached = await workerReady(w);
      if (o.count !== undefined) {
        await settle(async () => (await guest()).rxPackets - g0.rxPackets, { gapMs: 300, maxMs: 30_000, target: o.count });
      } else {
        await sleep(o.warmupMs, o.stopSignal);
        const from = await guest();
        await this.sampleTap(o);
        window = { from, to: await guest() };
      }
    } finally {
      w.stop();
      r = await w.done;
    }
    if (!r.ok) throw new LabError({ code: r.error?.code ?? 'EWORKER', message: `xdplab's txonly on the peer: ${r.error?.message ?? 'failed'}` });
    // Frames still queued on the way (tap, virtio ring) reach the guest after the sender stops.
    await settle(async () => (await guest()).rxPackets, { gapMs: 400, maxMs: 15_000 });
    const g1 = await guest();
    const [v1, p1] = await this.readHost();

    const sent = delta(p0, p1, t.peer.ifname, 'txPackets') + delta(p0, p1, t.peer.ifname, 'txDropped');
    const received = g1.rxPackets - g0.rxPackets;
    const vethDropped = delta(p0, p1, t.peer.ifname, 'txDropped') + delta(v0, v1, t.vmSide.ifname, 'rxDropped');
    const tapDropped = t.tap ? delta(v0, v1, t.tap, 'txDropped') : 0;
    const guestDropped = g1.rxDropped - g0.rxDropped;
    const metrics: Record<string, number> = {
      sentPackets: sent,
      receivedPackets: received,
      droppedPackets: sent - received,
      workerSentPackets: r.tx,
      vethDroppedPackets: vethDropped,
      ...(t.tap ? { tapTxDroppedPackets: tapDropped, tapTxPackets: delta(v0, v1, t.tap, 'txPackets') } : {}),
      guestRxDroppedPackets: guestDropped,
      // What the counters along the path do not explain (QEMU, the virtio ring, the guest driver).
      otherDroppedPackets: sent - received - vethDropped - tapDropped - guestDropped,
    };
    if (window) {
      const seconds = (window.to.uptimeMs - window.from.uptimeMs) / 1000;
      const pps = seconds > 0 ? (window.to.rxPackets - window.from.rxPackets) / seconds : 0;
      Object.assign(metrics, {
        packetsPerSecond: pps,
        bitsPerSecond: seconds > 0 ? ((window.to.rxBytes - window.from.rxBytes) * 8) / seconds : 0,
        seconds,
        windowReceivedPackets: window.to.rxPackets - window.from.rxPackets,
      });
    }
    this.addBackendCost(metrics, cpu0, metrics.receivedPackets);
    return { metrics, commandLines: [this.commandLines[0]!, w.commandLine, ...this.commandLines.slice(1)], attached };
  }

  /** Samples during txonly's window: frames QEMU read from the tap (af-xdp: arriving at the veth end). */
  private async sampleTap(o: PacketRunOptions): Promise<void> {
    const t = this.topology;
    const [ifname, key] = t.tap ? [t.tap, 'txPackets' as const] : [t.vmSide.ifname, 'rxPackets' as const];
    const interval = sampleIntervalMs(o.durationMs);
    const start = performance.now();
    o.onWindow?.(Date.now());
    const end = start + o.durationMs;
    let prev = await readLinks(t.vmNetns);
    // Reads on a fixed cadence from the start (the time a read takes does not add up).
    let next = start + interval;
    while (!o.stopSignal?.stop) {
      const left = end - performance.now();
      if (left <= 0) break;
      await sleep(Math.max(0, Math.min(next, end) - performance.now()), o.stopSignal);
      next = Math.max(next + interval, performance.now());
      const cur = await readLinks(t.vmNetns);
      const dt = cur.atMs - prev.atMs;
      const pps = dt > 0 ? (delta(prev, cur, ifname, key) * 1000) / dt : 0;
      o.sample?.({ row: o.rowId ?? 'vm-txonly', trial: o.trial ?? 0, tMs: Math.round(cur.atMs - start), intervalMs: Math.round(dt), metrics: { packetsPerSecond: pps, bitsPerSecond: pps * o.frameBytes * 8 } });
      prev = cur;
    }
  }

  /** The guest sends with pktgen to the peer's MAC; xdplab's rxonly counts. */
  async rxonly(o: PacketRunOptions): Promise<VmTrialOutcome> {
    checkRun(o);
    const cpu0 = this.backendProcess?.cpuSeconds();
    const t = this.topology;
    const pg: PktgenConfig = { ifname: GUEST_IF, dstMac: t.peerMac, dstIp: PEER_IP, srcIp: GUEST_IP, frameBytes: o.frameBytes, count: o.count ?? 0 };
    await configurePktgen(this.vm, pg);
    const pktgenLines = pktgenWrites(pg).map(([file, line]) => `echo '${line}' > ${file}`);
    const g0 = await readGuestNic(this.vm, GUEST_IF);
    const [v0, p0] = await this.readHost();
    const samples: Array<WorkerSampleEvent & { hostMs: number }> = [];
    const w = this.worker(o, 'rxonly', (ev) => samples.push({ ...ev, hostMs: performance.now() }));
    const lastRx = () => samples[samples.length - 1]?.rx ?? 0;
    let r: WorkerOutcome;
    let attached: { mode: string; zeroCopy: boolean };
    let pktgen: { sent: number; errors: number };
    let rate: { pps: number; seconds: number } | undefined;
    try {
      attached = await workerReady(w);
      const timeoutMs = (o.count !== undefined ? 60_000 : o.warmupMs + o.durationMs) + 60_000;
      const running = runPktgen(this.vm, GUEST_IF, timeoutMs);
      running.catch(() => { /* awaited below */ });
      if (o.count === undefined) {
        try {
          rate = await this.windowFromSamples(o, samples);
        } finally {
          await stopPktgen(this.vm);
        }
      }
      pktgen = await running;
      // Until the frames in flight have arrived: xdplab's count stops changing (or reaches the count).
      const waitSample = async () => { const n = samples.length; const end = performance.now() + 3000; while (samples.length === n && performance.now() < end) await sleep(25); return lastRx(); };
      await settle(waitSample, { gapMs: 0, maxMs: 10_000, ...(o.count !== undefined ? { target: pktgen.sent } : {}) });
    } finally {
      w.stop();
      r = await w.done;
    }
    if (!r.ok) throw new LabError({ code: r.error?.code ?? 'EWORKER', message: `xdplab's rxonly on the peer: ${r.error?.message ?? 'failed'}` });
    const g1 = await readGuestNic(this.vm, GUEST_IF);
    const [v1, p1] = await this.readHost();

    const stats = (r.stats ?? {}) as Record<string, number>;
    const sent = pktgen.sent;
    const received = r.rx;
    // The socket's own drop count (rx_dropped includes the fill-ring-empty ones). The peer veth's
    // rx_dropped is not added: in native mode it counts the same frames (failed XDP redirects).
    const xskDropped = (stats.rxDropped ?? 0) + (stats.rxRingFull ?? 0);
    const vethDropped = delta(v0, v1, t.vmSide.ifname, 'txDropped');
    const tapLost = t.tap ? sent - delta(v0, v1, t.tap, 'rxPackets') : 0;
    const metrics: Record<string, number> = {
      sentPackets: sent,
      receivedPackets: received,
      droppedPackets: sent - received,
      pktgenErrors: pktgen.errors,
      guestTxPackets: g1.txPackets - g0.txPackets,
      guestTxDroppedPackets: g1.txDropped - g0.txDropped,
      // tapRxBytes / tapRxPackets is the frame length QEMU wrote, no FCS: pktgen's pkt_size.
      ...(t.tap ? { tapRxPackets: delta(v0, v1, t.tap, 'rxPackets'), tapRxBytes: delta(v0, v1, t.tap, 'rxBytes'), tapRxDroppedPackets: delta(v0, v1, t.tap, 'rxDropped') } : {}),
      // Sent by pktgen but never written into the tap by QEMU.
      ...(t.tap ? { guestToTapLostPackets: tapLost } : {}),
      vethDroppedPackets: vethDropped,
      peerRxDroppedPackets: delta(p0, p1, t.peer.ifname, 'rxDropped'),
      xskDroppedPackets: xskDropped,
      // Of those, frames that found no free buffer: xdplab did not refill its fill ring in time.
      xskFillRingEmpty: stats.rxFillRingEmpty ?? 0,
      otherDroppedPackets: sent - received - tapLost - (t.tap ? delta(v0, v1, t.tap, 'rxDropped') : 0) - vethDropped - xskDropped,
    };
    if (rate) Object.assign(metrics, { packetsPerSecond: rate.pps, bitsPerSecond: rate.pps * o.frameBytes * 8, seconds: rate.seconds });
    this.addBackendCost(metrics, cpu0, metrics.sentPackets);
    return { metrics, commandLines: [this.commandLines[0]!, w.commandLine, ...pktgenLines, `echo start > /proc/net/pktgen/pgctrl`, ...this.commandLines.slice(1)], attached };
  }

  /**
   * rxonly's window from the worker's cumulative samples (its own clock): the first sample
   * after the warm-up, and the first one durationMs after that. Streams one sample per interval.
   */
  private async windowFromSamples(o: PacketRunOptions, samples: Array<WorkerSampleEvent & { hostMs: number }>): Promise<{ pps: number; seconds: number } | undefined> {
    const startHost = performance.now() + o.warmupMs;
    const next = async (afterHost: number, from: number) => {
      const limit = Math.max(afterHost, performance.now()) + 10_000;
      for (;;) {
        const i = samples.findIndex((s, k) => k >= from && s.hostMs >= afterHost);
        if (i >= 0) return i;
        if (performance.now() > limit || o.stopSignal?.stop) return samples.length - 1;
        await sleep(20);
      }
    };
    const a = await next(startHost, 0);
    const first = samples[a];
    if (!first) {
      if (o.stopSignal?.stop) return undefined; // stopped before the window began
      throw new LabError({ code: 'EWORKER', message: "xdplab's rxonly sent no samples within 10 s" });
    }
    // The window began when the first sample came (its tMs 0), on the wall clock.
    o.onWindow?.(Date.now() - (performance.now() - first.hostMs));
    let i = a;
    for (;;) {
      const j = await next(0, i + 1);
      if (j <= i) break;
      const prev = samples[i]!, cur = samples[j]!;
      const dt = cur.tMs - prev.tMs;
      const pps = dt > 0 ? ((cur.rx - prev.rx) * 1000) / dt : 0;
      o.sample?.({ row: o.rowId ?? 'vm-rxonly', trial: o.trial ?? 0, tMs: Math.round(cur.tMs - first.tMs), intervalMs: Math.round(dt), metrics: { packetsPerSecond: pps, bitsPerSecond: pps * o.frameBytes * 8 } });
      i = j;
      // Samples come every interval (+ jitter): the window ends at the one nearest durationMs.
      if (cur.tMs - first.tMs >= o.durationMs - sampleIntervalMs(o.durationMs) / 2 || o.stopSignal?.stop) break;
    }
    const last = samples[i]!;
    const seconds = (last.tMs - first.tMs) / 1000;
    return { pps: seconds > 0 ? (last.rx - first.rx) / seconds : 0, seconds };
  }
}

/**
 * The VmTrialRunner for tests txonly and rxonly: a rig of its own, opened and closed here.
 * ctx.lab is not used: the trial's VM, namespaces and worker live in a Lab of its own, closed
 * before the trial returns (its state file lets `xdplab doctor --cleanup` find them after a crash).
 */
export const runVmPacketTrial: VmTrialRunner = async (ctx) => {
  if (ctx.test !== 'txonly' && ctx.test !== 'rxonly') throw invalidOption('test', `the packet runner runs txonly or rxonly, got '${ctx.test}'`);
  const run: PacketRunOptions = {
    mode: ctx.mode, frameBytes: ctx.frameBytes, warmupMs: ctx.warmupMs, durationMs: ctx.durationMs,
    rowId: ctx.rowId, trial: ctx.trial, sample: (s) => ctx.sample(s), stopSignal: ctx.stopSignal,
    ...(ctx.onWindow ? { onWindow: ctx.onWindow } : {}),
  };
  checkRun(run);
  const rig = await VmPacketRig.open({
    // The VM is named vmpkt-<id of the trial's lab>, so its QEMU, temp dir and namespaces can be found by one id.
    image: ctx.image, qemuBinary: ctx.qemuBinary, backend: ctx.backend, nicModel: ctx.nicModel,
    ...(ctx.progress ? { progress: ctx.progress } : {}),
    ...(ctx.onQmp ? { onQmp: ctx.onQmp } : {}),
  });
  try {
    ctx.onVms?.(rig.vms);
    ctx.progress?.(`${ctx.test} over ${ctx.backend}: ${ctx.frameBytes}-byte frames, xdplab in ${ctx.mode} mode`);
    return ctx.test === 'txonly' ? await rig.txonly(run) : await rig.rxonly(run);
  } finally {
    await rig.close();
    ctx.onVms?.([]);
  }
};
