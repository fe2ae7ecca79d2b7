// dpdk-testpmd as the reference vhost-user back end: its vhost PMD (net_vhost0, the vhost-user
// server on the socket) and its AF_XDP PMD (net_af_xdp0 on the veth end) forwarding in io mode,
// the same place in the path as xdplab vhost serve. Measured to work here (LAB-RECIPES.md):
// --no-huge needs a larger --total-num-mbufs budget or the mbuf pool cannot be created.
// testpmd polls its forwarding lcore flat out, whatever the traffic: its CPU time shows that.
import { existsSync } from 'node:fs';
import { LabError } from '../contracts/errors.js';
import type { Lab } from '../lab/lab.js';
import { findTestpmd, TESTPMD_BINARY } from '../tools/testpmd.js';
import { processCpuSeconds, type VhostBackendProcess } from './xdplab-switch.js';

let seq = 0;

export function testpmdVhostArgs(o: { socketPath: string; ifname: string; filePrefix: string }): string[] {
  return [
    '-l', '0-1', '--no-huge', '--no-pci', '-m', '512', '--file-prefix', o.filePrefix,
    '--vdev', `net_vhost0,iface=${o.socketPath},queues=1`, '--vdev', `net_af_xdp0,iface=${o.ifname}`,
    '--', '--forward-mode=io', '--total-num-mbufs=16384', '--stats-period', '5', '--auto-start',
  ];
}

/** Starts testpmd in `netns` and resolves once its vhost socket exists (QEMU may connect). */
export async function startTestpmdVhost(lab: Lab, o: { socketPath: string; netns?: string; ifname: string }, timeoutMs = 30_000): Promise<VhostBackendProcess> {
  if (!findTestpmd()) throw new LabError({ code: 'ENOTOOL', message: `${TESTPMD_BINARY} not found`, hint: 'apt-get install dpdk librte-net-af-xdp23 librte-net-vhost23 (npm run setup)' });
  const filePrefix = `xlvh${process.pid}-${seq++}`;
  lab.trackFile(`/var/run/dpdk/${filePrefix}`);
  lab.recordXdp(o.netns, o.ifname);
  const args = testpmdVhostArgs({ socketPath: o.socketPath, ifname: o.ifname, filePrefix });
  const child = lab.spawn(o.netns, TESTPMD_BINARY, args);
  let output = '';
  const keep = (d: Buffer) => { output = (output + d.toString()).slice(-4000); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(o.socketPath)) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new LabError({ code: 'EVHOSTUSER', message: `dpdk-testpmd (vhost-user reference) exited (${child.exitCode ?? child.signalCode}) before it listened: ${output.trim().split('\n').slice(-4).join(' | ')}` });
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new LabError({ code: 'ETIMEDOUT', message: `dpdk-testpmd did not create its vhost-user socket ${o.socketPath} within ${timeoutMs / 1000} s: ${output.trim().split('\n').slice(-4).join(' | ')}` });
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    name: 'testpmd',
    commandLine: `${o.netns ? `ip netns exec ${o.netns} ` : ''}${TESTPMD_BINARY} ${args.join(' ')}`,
    pid: child.pid!,
    events: [],
    cpuSeconds: () => processCpuSeconds(child.pid!),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited; }
    },
  };
}
