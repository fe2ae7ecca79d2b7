// Finding and removing XDP programs that xdplab, or a tool it ran, left on an interface when
// the run died before detaching them. Only programs with the names xdplab's runs attach are
// removed: someone else's program on the same interface stays.
import { execFileSync } from 'node:child_process';
import type { AfXdpMode } from '../contracts/datapath.js';

/**
 * Program names a run attaches: libxdp's default XSK program (xdplab's workers, testpmd's
 * AF_XDP PMD, and QEMU's af-xdp backend all load it), libxdp's dispatcher around it when bpffs
 * is mounted, and xdplab's own drop programs (all, every Nth, and the counting sink).
 */
export const XDPLAB_PROGRAM_NAMES = ['xsk_def_prog', 'xdp_dispatcher', 'xdplab_drop', 'xdplab_drop_nth', 'xdplab_count'] as const;

export interface AttachedXdp { mode: AfXdpMode | 'hw'; id: number; name: string }

const MODES: Record<number, AttachedXdp['mode']> = { 1: 'native', 2: 'skb', 3: 'hw' };
const OFF: Record<AttachedXdp['mode'], string> = { native: 'xdpdrv', skb: 'xdpgeneric', hw: 'xdpoffload' };

interface IpXdp { mode?: number; prog?: { id: number; name?: string }; attached?: { mode: number; prog?: { id: number; name?: string } }[] }

/** The XDP programs attached to an interface, from `ip -j link show`; [] when it is gone. */
export function attachedXdp(netns: string | undefined, ifname: string): AttachedXdp[] {
  let out: string;
  try {
    out = execFileSync('ip', [...(netns ? ['-n', netns] : []), '-j', 'link', 'show', 'dev', ifname], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return [];
  }
  const xdp = (JSON.parse(out) as { xdp?: IpXdp }[])[0]?.xdp;
  if (!xdp) return [];
  const list = xdp.attached ?? (xdp.prog && xdp.mode ? [{ mode: xdp.mode, prog: xdp.prog }] : []);
  return list.flatMap((a) => (a.prog && MODES[a.mode] ? [{ mode: MODES[a.mode]!, id: a.prog.id, name: a.prog.name ?? '' }] : []));
}

/** Detaches xdplab's programs from an interface; returns one line per program removed. */
export function detachXdplabPrograms(netns: string | undefined, ifname: string): string[] {
  const done: string[] = [];
  for (const p of attachedXdp(netns, ifname)) {
    if (!(XDPLAB_PROGRAM_NAMES as readonly string[]).includes(p.name)) continue;
    try {
      execFileSync('ip', [...(netns ? ['-n', netns] : []), 'link', 'set', 'dev', ifname, OFF[p.mode], 'off'], { stdio: 'ignore' });
      done.push(`XDP program ${p.id} '${p.name}' (${p.mode} mode) on ${ifname}${netns ? ` in ${netns}` : ''}`);
    } catch { /* gone meanwhile */ }
  }
  return done;
}
