// PVP (physical-virtual-physical, as CSIT, NFVbench and VSPERF call it): xdplab's generator ->
// host end G -> backend -> guest eth0 -> the guest forwards (the kernel bridge,
// qemu/guest/forwarder.ts) -> guest eth1 -> backend -> host end R -> xdplab's receiver.
//
// withPvpPath builds the path in the caller's Lab (backend-topology.ts buildPvpTopology: the
// namespaces with the taps, bridges or veths of the backend), boots the forwarding VM with two
// NICs (vm-group.ts), sets up the forwarder in the guest, hands the two host ends to the caller
// and takes everything down again when the caller's function returns or throws: the VM is
// powered off (then killed) and the namespaces are removed. Every resource is recorded in the
// Lab as it is created, so Ctrl-C (the Lab's signal handlers) and `xdplab doctor --cleanup`
// after a crash remove it too.
//
// Under TCG the guest (one emulated vCPU doing the bridge's work per frame) bounds the rate; the
// method is the same on a KVM host.
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { LabError } from '../contracts/errors.js';
import type { AfXdpMode } from '../contracts/datapath.js';
import type { Lab } from '../lab/lab.js';
import { buildPvpTopology, isPvpBackend, pvpUnavailable, PVP_BACKENDS, type HostEnd, type PvpBackend, type PvpTopology } from '../qemu/backend-topology.js';
import { backendInfo, VM_BACKEND_NAMES } from '../qemu/backends.js';
import { qemuCapabilities } from '../qemu/capabilities.js';
import { FORWARDER, FORWARDER_COMMANDS, FORWARDER_SCRIPT } from '../qemu/guest/forwarder.js';
import type { QmpClient } from '../qemu/qmp.js';
import type { Vm } from '../qemu/vm.js';
import { commandLineOf, VmGroup } from '../qemu/vm-group.js';

export { isPvpBackend, PVP_BACKENDS, pvpUnavailable, type PvpBackend };

export interface PvpOptions {
  /** A backend name (VM_BACKENDS); those without host ends fail with "not available: <why>". */
  backend: string;
  image: { kernelPath: string; initrdPath: string };
  /** Default: $XDPLAB_QEMU, else qemu-system-x86_64 on PATH. */
  qemu?: string;
  /** Both NICs' model; default virtio-net-pci. */
  nicModel?: string;
  memoryMiB?: number;
  progress?: (message: string) => void;
  /** The VM's QMP client as soon as it connects. */
  onQmp?: (vm: string, qmp: QmpClient) => void;
}

/** A host end with its MAC: the generator sends from gen.mac to recv.mac. */
export interface PvpEndpoint extends HostEnd { mac: string }

export interface PvpPath {
  backend: PvpBackend;
  /** Where xdplab's generator sends (its AF_XDP port), and where its receiver counts. */
  gen: PvpEndpoint;
  recv: PvpEndpoint;
  /** The AF_XDP mode for ports on gen and recv: skb on taps (tap, tap-vhost), native on veth ends. */
  mode: AfXdpMode;
  vm: Vm;
  qmp: QmpClient;
  /** What forwards in the guest (FORWARDER). */
  forwarder: string;
  /** From QEMU's start to the guest ready (marker and agent), and the forwarder's setup after it. */
  bootMs: number;
  forwarderSetupMs: number;
  topology: PvpTopology;
  /** QEMU's command line (with its wrapper), the host side's setup, then the guest's forwarder commands. */
  commandLines: string[];
}

const IpLinkJson = z.array(z.object({ address: z.string() }));

function macOf(lab: Lab, e: HostEnd): string {
  const parsed = IpLinkJson.safeParse(JSON.parse(lab.ip(e.netns, ['-j', 'link', 'show', 'dev', e.ifname])));
  const mac = parsed.success ? parsed.data[0]?.address : undefined;
  if (!mac) throw new LabError({ code: 'ECOMMAND', message: `ip link show ${e.ifname}: no MAC address in its output` });
  return mac;
}

/**
 * Builds a PVP path over `o.backend` in `lab`, runs `fn` with it, and removes the path (VM,
 * namespaces and what is in them) when `fn` settles, or when building or booting fails.
 */
export async function withPvpPath<T>(lab: Lab, o: PvpOptions, fn: (path: PvpPath) => Promise<T>): Promise<T> {
  const known = VM_BACKEND_NAMES.find((b) => b === o.backend);
  if (!known) backendInfo(o.backend); // throws EINVALIDOPTION with the allowed names
  if (!known || !isPvpBackend(known)) {
    throw new LabError({ code: 'ENOTAVAILABLE', field: 'backend', message: `PVP over ${o.backend}: ${known ? pvpUnavailable(known) : 'unknown backend'}`, hint: `PVP runs over ${PVP_BACKENDS.join(', ')}` });
  }
  const backend: PvpBackend = known;
  if (backend === 'tap-vhost' && !existsSync('/dev/vhost-net')) {
    throw new LabError({
      code: 'ENOTAVAILABLE', field: 'backend',
      message: 'PVP over tap-vhost: not available: this machine has no /dev/vhost-net (the vhost_net module is not loaded), so QEMU cannot open vhost=on',
      hint: 'modprobe vhost_net, or use backend tap (the same path without vhost-net)',
    });
  }
  if (backend === 'af-xdp') {
    const caps = await qemuCapabilities(o.qemu ? { qemu: o.qemu } : {});
    if (!caps.afXdp.present) {
      throw new LabError({
        code: 'ENOTAVAILABLE', field: 'backend',
        message: `PVP over af-xdp: not available: ${caps.binary.path} (QEMU ${caps.version}) lacks the af-xdp netdev (${caps.afXdp.reason ?? 'NetdevAFXDPOptions is not in its QMP schema'}); it needs QEMU >= 8.2 built with libxdp >= 1.4`,
        hint: 'point --qemu PATH or XDPLAB_QEMU at a QEMU built with --enable-af-xdp',
      });
    }
  }
  const progress = o.progress ?? (() => {});
  const topology = buildPvpTopology(backend, { lab, nicModel: o.nicModel ?? 'virtio-net-pci', namePrefix: `pvp-${lab.id}` });
  let group: VmGroup | undefined;
  try {
    const gen: PvpEndpoint = { ...topology.gen, mac: macOf(lab, topology.gen) };
    const recv: PvpEndpoint = { ...topology.recv, mac: macOf(lab, topology.recv) };
    group = new VmGroup([topology.vm], {
      lab, image: o.image, progress,
      ...(o.qemu ? { qemu: o.qemu } : {}),
      ...(o.memoryMiB ? { memoryMiB: o.memoryMiB } : {}),
      ...(o.onQmp ? { onQmp: (spec, qmp) => o.onQmp!(spec.name, qmp) } : {}),
    });
    const started = (await group.start())[0];
    if (!started) throw new LabError({ code: 'EQEMUEXIT', message: 'the PVP VM did not start' });
    const { vm, qmp } = started;
    if (vm.linksWithoutCarrier.length) progress(`${vm.name}: no carrier on ${vm.linksWithoutCarrier.join(', ')} after boot`);
    const t0 = performance.now();
    const r = await vm.exec('sh', ['-c', FORWARDER_SCRIPT], { timeoutMs: 20_000 });
    if (r.exitCode !== 0) {
      throw new LabError({ code: 'EGUESTCOMMAND', message: `${vm.name}: setting up the guest's bridge (eth0 <-> eth1) failed (exit ${r.exitCode}): ${(r.stderr || r.stdout).trim().slice(-500)}`, hint: 'the guest image needs bridge.ko (ON_DEMAND_MODULES in guest-image.ts): xdplab vm image --rebuild' });
    }
    const forwarderSetupMs = Math.round(performance.now() - t0);
    progress(`${vm.name}: ${FORWARDER} forwards eth0 <-> eth1 (${forwarderSetupMs} ms after boot in ${vm.bootMs} ms)`);
    return await fn({
      backend, gen, recv, mode: topology.hostEndMode, vm, qmp, forwarder: FORWARDER, bootMs: vm.bootMs, forwarderSetupMs, topology,
      commandLines: [commandLineOf(vm), ...topology.setupCommands, ...FORWARDER_COMMANDS.map((c) => `(guest) ${c}`)],
    });
  } finally {
    await group?.stop(8000).catch(() => undefined);
    for (const ns of [...topology.namespaces].reverse()) {
      try { lab.removeNetns(ns); } catch { /* already gone; the lab's close sweeps the rest */ }
    }
  }
}
