// The machine a report was measured on: enough to judge and to reproduce its numbers.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
  };
}
