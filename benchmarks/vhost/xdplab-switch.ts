// xdplab's own vhost-user back end as a lab process: `xdplab vhost serve` started in the lab
// (so that the lab stops it on close, SIGINT and crash recovery), followed through its JSON
// event lines, with its CPU time read from /proc for the cost per packet.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { LabError } from '../contracts/errors.js';
import type { Lab } from '../lab/lab.js';
import { PROJECT_ROOT } from '../paths.js';

export interface XdplabVhostOptions {
  socketPath: string;
  /** Where the AF_XDP port opens. */
  netns?: string;
  ifname: string;
  /** server: QEMU connects (reconnect-ms on its chardev); client: QEMU's chardev has server=on. */
  role?: 'server' | 'client';
  mode?: 'native' | 'skb';
  /** The CPU of the back end's loop (the lab: 1, where testpmd's forwarding lcore runs). */
  cpu?: number;
}

/** A userspace vhost-user back end the lab runs (xdplab's, or testpmd's as the reference). */
export interface VhostBackendProcess {
  /** Which: 'xdplab' or 'testpmd'. */
  name: string;
  commandLine: string;
  pid: number;
  /** Every event line so far (xdplab's: port, listening, connected, ready, refused, disconnected, ...). */
  events: Array<{ kind: string } & Record<string, unknown>>;
  /** User + system CPU seconds the back end has used. */
  cpuSeconds(): number;
  /** SIGTERM and the exit (the back end detaches its XDP program on the way out). */
  stop(): Promise<void>;
}

const TICKS_PER_SECOND = 100;

/** CPU seconds (utime + stime) of a process, from /proc/PID/stat; NaN when it has gone. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (in parentheses, which may hold spaces): utime is the 14th, stime the 15th.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** Starts the back end and resolves once it listens (server) or is trying to connect (client). */
export async function startXdplabVhost(lab: Lab, o: XdplabVhostOptions, timeoutMs = 15_000): Promise<VhostBackendProcess> {
  const args = [join(PROJECT_ROOT, 'bin', 'xdplab.js'), 'vhost', 'serve', '--socket', o.socketPath, '--ifname', o.ifname,
    ...(o.netns ? ['--netns', o.netns] : []), ...(o.role === 'client' ? ['--client'] : []), ...(o.mode ? ['--mode', o.mode] : []),
    ...(o.cpu !== undefined ? ['--cpu', String(o.cpu)] : [])];
  lab.recordXdp(o.netns, o.ifname);
  const child = lab.spawn(undefined, process.execPath, args, { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } });
  const events: VhostBackendProcess['events'] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  const started = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new LabError({ code: 'ETIMEDOUT', message: `xdplab vhost serve did not start within ${timeoutMs / 1000} s: ${stderr.trim().slice(-300)}` })), timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let e: VhostBackendProcess['events'][number];
      try { e = JSON.parse(line) as typeof e; } catch { return; }
      events.push(e);
      if (e.kind === 'listening' || e.kind === 'connecting') { clearTimeout(timer); resolve(); }
    });
    void exited.then(() => { clearTimeout(timer); reject(new LabError({ code: 'EVHOSTUSER', message: `xdplab vhost serve exited (${child.exitCode ?? child.signalCode}) before it was ready: ${stderr.trim().slice(-400) || 'no output'}` })); });
  });
  try {
    await started;
  } catch (err) {
    if (child.exitCode === null) child.kill('SIGKILL');
    throw err;
  }
  const q = (a: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a}'`);
  return {
    name: 'xdplab',
    commandLine: ['xdplab', ...args.slice(1)].map(q).join(' '),
    pid: child.pid!,
    events,
    cpuSeconds: () => processCpuSeconds(child.pid!),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
