// The machine a report was measured on: enough to judge and to reproduce its numbers.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, hostname, release, totalmem } from 'node:os';
import { PROJECT_ROOT as ROOT } from '../paths.js';
import type { Environment } from '../contracts/report.js';

function out(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    return '';
  }
}

function packageVersion(): string {
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

/** Tool versions, each only when present. */
export function toolVersions(qemuBinary = process.env.XDPLAB_QEMU ?? 'qemu-system-x86_64'): Record<string, string> {
  const tools: Record<string, string> = {};
  const iperf = out('iperf3', ['--version']).split('\n')[0];
  if (iperf) tools.iperf3 = iperf;
  const dpdk = debVersion('dpdk');
  if (dpdk) tools['dpdk-testpmd'] = `DPDK ${dpdk}`;
  const libxdp = debVersion('libxdp1');
  if (libxdp) tools.libxdp = libxdp;
  const qemu = out(qemuBinary, ['--version']).split('\n')[0];
  if (qemu) tools.qemu = `${qemu} (${qemuBinary})`;
  return tools;
}

export function collectEnvironment(interfaces: Environment['interfaces'] = []): Environment {
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
    tools: toolVersions(),
    interfaces,
  };
}
