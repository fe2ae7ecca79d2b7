// What arrived at an interface, from the kernel's own counters: veth's per-queue XDP counters
// (ethtool -S) in native mode, the link's rx packets in skb mode (generic XDP has no veth
// counter of its own).
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import type { AfXdpMode } from '../contracts/datapath.js';

const execFileAsync = promisify(execFile);

export interface RxCounters { atMs: number; xdpDrops: number; xdpPackets: number; rxPackets: number; rxDropped: number }

export async function readRxCounters(netns: string | undefined, ifname: string): Promise<RxCounters> {
  const inNs = (cmd: string, args: string[]) => (netns ? execFileAsync('ip', ['netns', 'exec', netns, cmd, ...args]) : execFileAsync(cmd, args));
  const t0 = performance.now();
  const [eth, link] = await Promise.all([
    inNs('ethtool', ['-S', ifname]),
    execFileAsync('ip', [...(netns ? ['-n', netns] : []), '-s', '-j', 'link', 'show', 'dev', ifname]),
  ]);
  const t1 = performance.now();
  let xdpDrops = 0, xdpPackets = 0;
  for (const m of eth.stdout.matchAll(/rx_queue_\d+_xdp_(drops|packets):\s*(\d+)/g)) {
    if (m[1] === 'drops') xdpDrops += Number(m[2]); else xdpPackets += Number(m[2]);
  }
  const l = (JSON.parse(link.stdout) as Array<{ stats64?: { rx?: { packets?: number; dropped?: number } } }>)[0];
  return { atMs: (t0 + t1) / 2, xdpDrops, xdpPackets, rxPackets: l?.stats64?.rx?.packets ?? NaN, rxDropped: l?.stats64?.rx?.dropped ?? NaN };
}

/** Frames an XDP drop program took between two reads. */
export function droppedBetween(a: RxCounters, b: RxCounters, mode: AfXdpMode): { frames: number; seconds: number; counter: string } {
  return {
    frames: mode === 'native' ? b.xdpDrops - a.xdpDrops : b.rxPackets - a.rxPackets,
    seconds: (b.atMs - a.atMs) / 1000,
    counter: mode === 'native' ? 'ethtool -S rx_queue_*_xdp_drops' : 'ip -s link rx packets',
  };
}
