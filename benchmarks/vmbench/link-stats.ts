// Kernel counters of the links on the host side of the VM wire (ip -s -j link), read in one
// call per namespace. A tap's tx is toward the guest (frames QEMU read from it), its rx is from
// the guest (frames QEMU wrote); tx_dropped on a tap counts frames the tap's queue had no room
// for because QEMU did not read fast enough.
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface LinkCounters { rxPackets: number; rxBytes: number; rxDropped: number; txPackets: number; txBytes: number; txDropped: number }
export interface LinkSnapshot { atMs: number; links: Record<string, LinkCounters> }

interface IpLink { ifname: string; stats64?: { rx?: Record<string, number>; tx?: Record<string, number> } }

/** The counters of every link in `netns` (performance.now() at the read's midpoint). */
export async function readLinks(netns: string | undefined): Promise<LinkSnapshot> {
  const t0 = performance.now();
  const { stdout } = await execFileAsync('ip', [...(netns ? ['-n', netns] : []), '-s', '-j', 'link', 'show']);
  const t1 = performance.now();
  const links: Record<string, LinkCounters> = {};
  for (const l of JSON.parse(stdout) as IpLink[]) {
    const rx = l.stats64?.rx ?? {}, tx = l.stats64?.tx ?? {};
    links[l.ifname] = {
      rxPackets: rx.packets ?? 0, rxBytes: rx.bytes ?? 0, rxDropped: rx.dropped ?? 0,
      txPackets: tx.packets ?? 0, txBytes: tx.bytes ?? 0, txDropped: tx.dropped ?? 0,
    };
  }
  return { atMs: (t0 + t1) / 2, links };
}

/** b - a for one link's counter (0 when the link is missing from either). */
export function delta(a: LinkSnapshot, b: LinkSnapshot, ifname: string, key: keyof LinkCounters): number {
  const x = a.links[ifname]?.[key], y = b.links[ifname]?.[key];
  return x === undefined || y === undefined ? 0 : y - x;
}
