// QEMU for tests: a control-only QEMU (-M none, QMP only), and the small resources some netdev
// drivers need (a fake vhost-user backend, a bridge helper, a vde switch). Everything started
// here is tracked and removed by cleanupQemuResources(), which afterAll hooks call.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpClient } from '../../benchmarks/qemu/qmp.js';

export const QEMU_BIN = process.env.XDPLAB_QEMU || 'qemu-system-x86_64';

const processes = new Set<ChildProcess>();
const dirs = new Set<string>();
const links = new Set<string>();
const servers = new Set<Server>();
const clients = new Set<QmpClient>();

/** Six random hex digits: names are xl-<6hex>-<x>. */
export function hex6(): string {
  return randomBytes(3).toString('hex');
}

/** A private directory for sockets (short, so unix paths stay under 108 bytes). */
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'xl-t-'));
  dirs.add(d);
  return d;
}

export interface ControlQemu {
  proc: ChildProcess;
  dir: string;
  socket: string;
  stderr(): string;
  /** Connects a QMP client (tracked: closed by cleanup). */
  connect(options?: { timeoutMs?: number; commandTimeoutMs?: number }): Promise<QmpClient>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
}

/** QEMU with no machine, no devices, no display: only a QMP monitor on a unix socket. */
export function startControlQemu(extraArgs: string[] = []): ControlQemu {
  const dir = tempDir();
  const socket = join(dir, 'qmp.sock');
  const proc = spawn(QEMU_BIN, ['-M', 'none', '-nodefaults', '-display', 'none', '-qmp', `unix:${socket},server=on,wait=off`, ...extraArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
  processes.add(proc);
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    proc, dir, socket,
    stderr: () => stderr,
    async connect(options = {}) {
      const c = await QmpClient.connect(socket, { waitForSocket: true, timeoutMs: options.timeoutMs ?? 10_000, commandTimeoutMs: options.commandTimeoutMs ?? 10_000 });
      clients.add(c);
      return c;
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

export { freeUdpPort } from '../../benchmarks/lab/ports.js';

/**
 * A vhost-user backend that does just enough of the protocol for QEMU's netdev_add to succeed:
 * it answers GET_FEATURES (no features, no protocol features) and ignores the rest.
 */
export function startFakeVhostUser(path: string): Promise<{ requests: number[]; close(): void }> {
  const requests: number[] = [];
  const conns = new Set<Socket>();
  const server = createServer((c) => {
    conns.add(c);
    let buf = Buffer.alloc(0);
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 12) {
        const request = buf.readUInt32LE(0);
        const size = buf.readUInt32LE(8);
        if (buf.length < 12 + size) break;
        buf = buf.subarray(12 + size);
        requests.push(request);
        if (request === 1) { // VHOST_USER_GET_FEATURES: reply (version 1 | reply flag) with a u64
          const r = Buffer.alloc(20);
          r.writeUInt32LE(1, 0);
          r.writeUInt32LE(0x1 | 0x4, 4);
          r.writeUInt32LE(8, 8);
          r.writeBigUInt64LE(0n, 12);
          c.write(r);
        }
      }
    });
    c.on('error', () => { /* QEMU went away */ });
    c.on('close', () => conns.delete(c));
  });
  servers.add(server);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve({
      requests,
      close: () => { for (const c of conns) c.destroy(); server.close(); servers.delete(server); },
    }));
  });
}

/** A Linux bridge named `name` (tracked and deleted by cleanup). */
export function addBridge(name: string): void {
  links.add(name);
  execFileSync('ip', ['link', 'add', name, 'type', 'bridge'], { stdio: 'pipe' });
}

/** Names of interfaces to delete at cleanup if they still exist (taps QEMU should remove). */
export function trackLink(name: string): void {
  links.add(name);
}

export function linkExists(name: string): boolean {
  try { execFileSync('ip', ['link', 'show', 'dev', name], { stdio: 'pipe' }); return true; } catch { return false; }
}

/** The bridge (master) a link is attached to, if any. */
export function linkMaster(name: string): string | undefined {
  const out = execFileSync('ip', ['-o', 'link', 'show', 'dev', name], { encoding: 'utf8' });
  return / master (\S+)/.exec(out)?.[1];
}

/**
 * A bridge helper for -netdev bridge/tap helper=: QEMU runs it as `HELPER --use-vnet --fd=N
 * --br=BR`; it creates the tap `tap`, attaches it to BR, and passes its fd back over fd N.
 * (The distribution's qemu-bridge-helper needs an ACL in /etc/qemu/bridge.conf.)
 */
export function writeBridgeHelper(dir: string, tap: string): string {
  const script = join(dir, 'bridge-helper.py');
  writeFileSync(script, `import fcntl, os, socket, struct, subprocess, sys
tap = sys.argv[1]
opts = dict(a[2:].split('=', 1) for a in sys.argv[2:] if a.startswith('--') and '=' in a)
fd = os.open('/dev/net/tun', os.O_RDWR)
flags = 0x0002 | 0x1000 | (0x4000 if '--use-vnet' in sys.argv else 0)  # IFF_TAP | IFF_NO_PI | IFF_VNET_HDR
fcntl.ioctl(fd, 0x400454ca, struct.pack('16sH22x', tap.encode(), flags))  # TUNSETIFF
subprocess.run(['ip', 'link', 'set', tap, 'master', opts['br'], 'up'], check=True)
socket.send_fds(socket.socket(fileno=int(opts['fd'])), [b'\\0'], [fd])
`);
  trackLink(tap);
  return `/usr/bin/python3 ${script} ${tap}`;
}

/** A vde_switch on a control directory in `dir`; it stops when its stdin closes. */
export async function startVdeSwitch(dir: string): Promise<string> {
  const sock = join(dir, 'vde');
  const proc = spawn('vde_switch', ['-s', sock, '-M', join(dir, 'vde.mgmt')], { stdio: ['pipe', 'ignore', 'ignore'] });
  processes.add(proc);
  for (let i = 0; i < 100 && !existsSync(join(sock, 'ctl')); i++) await new Promise((r) => setTimeout(r, 50));
  if (!existsSync(join(sock, 'ctl'))) throw new Error(`vde_switch did not create ${sock}/ctl`);
  return sock;
}

export function hasExecutable(path: string): boolean {
  try { execFileSync('sh', ['-c', `command -v ${path}`], { stdio: 'ignore' }); return true; } catch { return false; }
}

/** Stops every QEMU and helper started here, closes servers and clients, removes taps,
 * bridges and directories. Safe to call more than once. */
export async function cleanupQemuResources(): Promise<void> {
  for (const c of clients) c.destroy();
  clients.clear();
  await Promise.all([...processes].map((p) => new Promise<void>((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) { resolve(); return; }
    p.once('exit', () => resolve());
    p.kill('SIGKILL');
  })));
  processes.clear();
  for (const s of servers) s.close();
  servers.clear();
  for (const l of links) {
    try { execFileSync('ip', ['link', 'del', l], { stdio: 'pipe' }); } catch { /* already gone */ }
  }
  links.clear();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

/** Names of this test process's children still running, `ps` itself left out (should be none). */
export function childProcesses(): string[] {
  try {
    return execFileSync('ps', ['-o', 'comm=', '--ppid', String(process.pid)], { encoding: 'utf8' })
      .split('\n').map((l) => l.trim()).filter((c) => c && c !== 'ps');
  } catch { return []; }
}
