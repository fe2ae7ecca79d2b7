// The machine a report was measured on: enough to judge and to reproduce its numbers.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { cpus, hostname, release, totalmem } from 'node:os';
import { PROJECT_ROOT as ROOT } from '../paths.js';
import type { Environment } from '../contracts/report.js';
import { which } from '../lab/exec.js';
import { linkedLibrary } from '../lab/linked-library.js';

function out(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    return '';
  }
}

export function packageVersion(): string {
  try { return (JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { version: string }).version; } catch { return 'unknown'; }
}

export function gitCommit(): string {
  const c = out('git', ['-C', ROOT, 'rev-parse', '--short=12', 'HEAD']);
  if (!c) return 'unknown';
  return out('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no']) ? `${c}-dirty` : c;
}

function debVersion(pkg: string): string {
  return out('dpkg-query', ['-W', '-f=${Version}', pkg]);
}

/**
 * Tool versions, each only when present. qemuBinary: the QEMU the run uses, when the caller knows
 * it (a scenario's vm.qemu); else $XDPLAB_QEMU, else qemu-system-x86_64 on PATH. libxdp is the
 * system's, which xdplab's own datapath loads; qemu-libxdp the one that QEMU links (a QEMU built
 * with af-xdp usually brings its own libxdp >= 1.4).
 */
export function toolVersions(qemuBinary?: string): Record<string, string> {
  const tools: Record<string, string> = {};
  const iperf = out('iperf3', ['--version']).split('\n')[0];
  if (iperf) tools.iperf3 = iperf;
  const dpdk = debVersion('dpdk');
  if (dpdk) tools['dpdk-testpmd'] = `DPDK ${dpdk}`;
  const libxdp = debVersion('libxdp1');
  if (libxdp) tools.libxdp = `${libxdp} (package libxdp1, xdplab's datapath)`;
  const qemuPath = which(qemuBinary || process.env.XDPLAB_QEMU || 'qemu-system-x86_64');
  const qemu = qemuPath ? out(qemuPath, ['--version']).split('\n')[0] : '';
  if (qemuPath && qemu) {
    tools.qemu = `${qemu} (${qemuPath})`;
    const l = linkedLibrary(qemuPath);
    tools['qemu-libxdp'] = l.linked ? `${l.version ?? 'version unknown'} (${l.realPath}, linked by ${qemuPath})` : `none: ${l.reason}`;
  }
  return tools;
}

/**
 * Whether the clock is PTP-synchronised, as far as this host can say: a PTP hardware clock, ptp4l
 * keeping it to the grandmaster and phc2sys keeping the system clock to it. NTP (chronyd, ntpd)
 * is named but is not enough for one-way latency at microseconds.
 */
export function describeClockSync(ptpDevices: string[], processes: string[]): { ptp: boolean; detail: string } {
  const running = (name: string) => processes.includes(name);
  const ntp = ['chronyd', 'ntpd', 'systemd-timesyncd'].filter(running);
  const ptp = ptpDevices.length > 0 && running('ptp4l') && running('phc2sys');
  const parts = [
    ptpDevices.length ? `PTP clocks ${ptpDevices.map((d) => `/dev/${d}`).join(', ')}` : 'no PTP hardware clock (/dev/ptp*)',
    `ptp4l ${running('ptp4l') ? 'running' : 'not running'}`,
    `phc2sys ${running('phc2sys') ? 'running' : 'not running'}`,
    ...(ntp.length ? [`${ntp.join(', ')} running (NTP)`] : []),
  ];
  return { ptp, detail: `${ptp ? 'PTP-synchronised' : 'not PTP-synchronised'}: ${parts.join('; ')}` };
}

function clockSync(): { ptp: boolean; detail: string } {
  const list = (dir: string) => { try { return readdirSync(dir); } catch { return []; } };
  const devices = list('/dev').filter((d) => /^ptp\d+$/.test(d)).sort();
  const comms = new Set<string>();
  for (const pid of list('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try { comms.add(readFileSync(`/proc/${pid}/comm`, 'utf8').trim()); } catch { /* gone */ }
  }
  return describeClockSync(devices, [...comms]);
}

/** options.qemu: the QEMU binary of the run, when the caller knows it (see toolVersions). */
export function collectEnvironment(interfaces: Environment['interfaces'] = [], options: { qemu?: string } = {}): Environment {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpuModel;
  } catch { /* keep os.cpus() */ }
  return {
    hostname: hostname(),
    kernel: release(),
    cpuModel,
    cores: cpus().length,
    memoryBytes: totalmem(),
    node: process.version,
    xdplab: { version: packageVersion(), gitCommit: gitCommit() },
    tools: toolVersions(options.qemu),
    interfaces,
    clock: clockSync(),
  };
}
