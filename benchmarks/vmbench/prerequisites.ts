// What each backend needs of this machine and of the QEMU in use, checked before any VM starts:
// a missing piece is a LabError with code ENOTOOL saying what is missing and what to install,
// which the matrix turns into an `unavailable` row.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { LabError } from '../contracts/errors.js';
import { which } from '../lab/exec.js';
import { qemuCapabilities, type QemuCapabilities } from '../qemu/capabilities.js';
import { formatNetdevArg } from '../qemu/netdev.js';
import { backendInfo, type VmBackendName } from '../qemu/backends.js';
import { afXdpNetdev } from '../qemu/backend-topology.js';
import { distPath } from '../paths.js';

/** The facts about this host the checks use (read once per run; tests may pass their own). */
export interface HostFacts {
  root: boolean;
  tun: boolean;
  vhostNet: boolean;
  vhostVdpa: string[];
  vdeSwitch: boolean;
  iperf3: boolean;
  bridgeHelper?: string;
  /** dpdk-testpmd on PATH, and the PMDs in DPDK's plugin directory (librte_net_vhost, ...). */
  testpmd?: boolean;
  dpdkPmds?: string[];
  /** The helper's ACL file and its allow lines. */
  bridgeAcl: { path: string; exists: boolean; allowAll: boolean };
}

export const BRIDGE_HELPER_PATHS = ['/usr/lib/qemu/qemu-bridge-helper', '/usr/libexec/qemu-bridge-helper', '/usr/local/libexec/qemu-bridge-helper'];
export const BRIDGE_ACL = '/etc/qemu/bridge.conf';

export function hostFacts(): HostFacts {
  let allowAll = false;
  const exists = existsSync(BRIDGE_ACL);
  if (exists) {
    try { allowAll = /^\s*allow\s+all\s*$/m.test(readFileSync(BRIDGE_ACL, 'utf8')); } catch { /* unreadable: not allowed */ }
  }
  let vdpa: string[] = [];
  try { vdpa = readdirSync('/dev').filter((f) => f.startsWith('vhost-vdpa-')); } catch { /* none */ }
  const helper = BRIDGE_HELPER_PATHS.find((p) => existsSync(p));
  const pmds: string[] = [];
  try {
    const base = '/usr/lib/x86_64-linux-gnu/dpdk';
    for (const d of readdirSync(base).filter((x) => x.startsWith('pmds-'))) for (const f of readdirSync(`${base}/${d}`)) { const m = /^(librte_net_[a-z_]+)\.so$/.exec(f); if (m) pmds.push(m[1]!); }
  } catch { /* no DPDK */ }
  return {
    testpmd: !!which('dpdk-testpmd'),
    dpdkPmds: pmds,
    root: process.getuid?.() === 0,
    tun: existsSync('/dev/net/tun'),
    vhostNet: existsSync('/dev/vhost-net'),
    vhostVdpa: vdpa,
    vdeSwitch: !!which('vde_switch'),
    iperf3: !!which('iperf3'),
    ...(helper ? { bridgeHelper: helper } : {}),
    bridgeAcl: { path: BRIDGE_ACL, exists, allowAll },
  };
}

const missing = (backend: string, message: string, hint: string): LabError =>
  new LabError({ code: 'ENOTOOL', message: `${backend}: ${message}`, hint });

/** What a backend lacks here, or undefined when it can run. */
export function backendProblem(name: VmBackendName, caps: QemuCapabilities, host: HostFacts): LabError | undefined {
  const info = backendInfo(name);
  if (name === 'af-xdp') {
    // Built and validated with the model whatever the QEMU: a model error is a bug, not a lack.
    const arg = formatNetdevArg(afXdpNetdev('xl-000000-vx'));
    if (!caps.afXdp.present) {
      return missing(name, `this QEMU (${caps.version}, ${caps.binary.path}) lacks af-xdp: it needs QEMU >= 8.2 built with libxdp >= 1.4 (configure --enable-af-xdp); the -netdev xdplab would pass validates: ${arg}`,
        'install libxdp >= 1.4 and libbpf (xdp-tools 1.4 or later; Debian bookworm has 1.3.1), build QEMU >= 8.2 with --enable-af-xdp, and point --qemu PATH or XDPLAB_QEMU at it');
    }
  }
  const driver = caps.drivers[info.netdev];
  if (!driver.available) {
    const extra = name === 'netmap' ? ' (Linux needs the out-of-tree netmap kernel module and a QEMU configured with --enable-netmap)' : '';
    return missing(name, `${driver.reason ?? `this QEMU lacks ${info.netdev}`}${extra}`, 'point --qemu PATH or XDPLAB_QEMU at a QEMU built with it');
  }
  if (info.pair === 'host<->guest' && !host.iperf3) return missing(name, 'iperf3 is not installed on the host (the client runs there)', 'apt-get install iperf3 (npm run setup)');
  const needsRoot = ['tap', 'tap-bridge', 'tap-vhost', 'bridge', 'af-xdp'].includes(name);
  if (needsRoot && !host.root) return missing(name, 'needs root: the lab creates a network namespace and a tap or veth pair for it', 'run xdplab vm bench as root (sudo)');
  if ((info.netdev === 'tap' || info.netdev === 'bridge') && !host.tun) return missing(name, '/dev/net/tun is absent (no tun/tap in this kernel or container)', 'modprobe tun, or give the container /dev/net/tun');
  switch (name) {
    case 'tap-vhost':
      if (!host.vhostNet) return missing(name, '/dev/vhost-net is absent: the vhost_net module is not loaded (or this kernel or container lacks it), so tap cannot use vhost=on', 'modprobe vhost_net (kernel config CONFIG_VHOST_NET), or give the container /dev/vhost-net');
      break;
    case 'bridge':
      if (!host.bridgeHelper) return missing(name, `qemu-bridge-helper not found (looked in ${BRIDGE_HELPER_PATHS.join(', ')})`, 'install qemu-system-common (Debian), which ships it');
      if (!host.bridgeAcl.allowAll) {
        return missing(name, `qemu-bridge-helper refuses every bridge its ACL does not allow, and ${host.bridgeAcl.path} ${host.bridgeAcl.exists ? 'has no "allow all" line' : 'does not exist'}; the lab's bridges have per-run names (xl-<id>-br)`,
          `add the line "allow all" to ${host.bridgeAcl.path} (xdplab does not change system files); tap-bridge measures the same path without the helper`);
      }
      break;
    case 'vde':
      if (!host.vdeSwitch) return missing(name, 'vde_switch is not installed (the VMs plug into a switch the lab starts)', 'apt-get install vde2');
      break;
    case 'vhost-user':
      // xdplab's own back end (xdplab vhost serve) on a veth through AF_XDP.
      if (!host.root) return missing(name, 'needs root: xdplab vhost serve opens an AF_XDP port in a lab namespace', 'run xdplab vm bench as root (sudo)');
      if (!existsSync(distPath('benchmarks', 'cli', 'main.js'))) return missing(name, `xdplab vhost serve runs the compiled CLI, and ${distPath('benchmarks', 'cli', 'main.js')} is missing`, 'npm run build');
      break;
    case 'vhost-user-testpmd': {
      if (!host.root) return missing(name, 'needs root: dpdk-testpmd opens an AF_XDP port in a lab namespace', 'run xdplab vm bench as root (sudo)');
      const pmds = host.dpdkPmds ?? [];
      const lacking = ['librte_net_vhost', 'librte_net_af_xdp'].filter((p) => !pmds.includes(p));
      if (!host.testpmd || lacking.length) {
        return missing(name, `needs dpdk-testpmd with the vhost and AF_XDP PMDs: ${!host.testpmd ? 'dpdk-testpmd not found' : `missing ${lacking.join(', ')}`}`, 'apt-get install dpdk librte-net-af-xdp23 librte-net-vhost23 (npm run setup)');
      }
      break;
    }
    case 'vhost-vdpa':
      if (host.vhostVdpa.length === 0) {
        return missing(name, 'no /dev/vhost-vdpa-N device: needs a vDPA device (a vDPA NIC, or the simulator: modprobe vdpa_sim_net; vdpa dev add mgmtdev vdpasim_net name vdpa0) and the vhost_vdpa module',
          'modprobe vhost_vdpa vdpa_sim_net, then vdpa dev add (iproute2)');
      }
      return missing(name, `${host.vhostVdpa.join(', ')} present, but xdplab has no vhost-vdpa topology yet`, 'netdev check validates vhost-vdpa options');
    case 'netmap':
      return missing(name, 'xdplab has no netmap topology (netmap needs its out-of-tree kernel module on Linux)', 'netdev check validates netmap options');
    default:
      break;
  }
  return undefined;
}

/** Throws the backend's problem (ENOTOOL) if it has one. */
export function requireBackend(name: VmBackendName, caps: QemuCapabilities, host: HostFacts): void {
  const p = backendProblem(name, caps, host);
  if (p) throw p;
}

const capsByBinary = new Map<string, Promise<QemuCapabilities>>();

/** The QEMU's capabilities, once per binary and process (the binary's facts are cached on disk too). */
export function capabilitiesFor(qemuBinary: string): Promise<QemuCapabilities> {
  let c = capsByBinary.get(qemuBinary);
  if (!c) {
    c = qemuCapabilities({ qemu: qemuBinary });
    c.catch(() => capsByBinary.delete(qemuBinary));
    capsByBinary.set(qemuBinary, c);
  }
  return c;
}
