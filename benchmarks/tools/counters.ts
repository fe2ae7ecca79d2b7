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

/**
 * An interface's loss counters: every ethtool -S counter whose name says it counts drops,
 * errors or a full ring (veth: rx_queue_N_drops, which includes frames an XSK refused with its
 * rx ring full or no fill buffer; rx_queue_N_xdp_tx_errors, tx_queue_N_xdp_xmit_errors), and the
 * link's rx and tx dropped. Not XDP_DROP's own count (xdp_drops): a sink's drops are its work.
 * Empty when they cannot be read (an interface that went away, a driver without ethtool stats).
 */
export async function readLossCounters(netns: string | undefined, ifname: string): Promise<Record<string, number>> {
  const inNs = (cmd: string, args: string[]) => (netns ? execFileAsync('ip', ['netns', 'exec', netns, cmd, ...args]) : execFileAsync(cmd, args));
  const out: Record<string, number> = {};
  try {
    const [eth, link] = await Promise.all([
      inNs('ethtool', ['-S', ifname]).catch(() => ({ stdout: '' })),
      execFileAsync('ip', [...(netns ? ['-n', netns] : []), '-s', '-j', 'link', 'show', 'dev', ifname]),
    ]);
    for (const m of eth.stdout.matchAll(/^\s*(\S+):\s*(\d+)\s*$/gm)) {
      if (/drop|err|full|miss/.test(m[1]!) && !/xdp_drops/.test(m[1]!)) out[m[1]!] = Number(m[2]);
    }
    const s = (JSON.parse(link.stdout) as Array<{ stats64?: { rx?: { dropped?: number }; tx?: { dropped?: number } } }>)[0]?.stats64;
    if (s?.rx?.dropped !== undefined) out['rx dropped'] = s.rx.dropped;
    if (s?.tx?.dropped !== undefined) out['tx dropped'] = s.tx.dropped;
  } catch { /* the interface is gone: nothing to say */ }
  return out;
}

/** What rose between two reads of named interfaces' loss counters: "END COUNTER" -> frames. */
export function lossesBetween(a: Record<string, Record<string, number>>, b: Record<string, Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [end, counters] of Object.entries(b)) {
    for (const [name, v] of Object.entries(counters)) {
      const d = v - (a[end]?.[name] ?? v);
      if (d > 0) out[`${end} ${name}`] = d;
    }
  }
  return out;
}
