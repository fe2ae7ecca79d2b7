// A planted, known impairment between A and B, for checking what loss and latency counters
// report against what was put there: M forwards in the kernel (a Linux bridge over ma and mb),
// optionally drops every Nth frame arriving from A (the every-Nth XDP program on ma, so before
// the bridge) and optionally delays what the bridge sends to B (netem as mb's root qdisc: the
// bridge's egress to B goes through it; B's replies are not delayed). Everything is recorded
// with the lab first, so Ctrl-C and the crash sweep remove it too; close() removes it now.
import { execFileSync } from 'node:child_process';
import { LabError } from '../contracts/errors.js';
import { XdpEveryNthDropProgram, checkEvery, withNetns, type EveryNthCounts, type XdpMode } from '../../native/index.js';
import type { Lab } from './lab.js';
import { addForwardBridge, type Endpoint, type ForwardTopology } from './topology.js';

export interface ImpairmentOptions {
  /** Drop every Nth frame that reaches ma from A. `mode`: skb (generic XDP) unless asked. */
  drop?: { every: number; mode?: XdpMode };
  /** netem on mb: `delay <ms>ms limit <limit>` (limit in packets, 100000 unless asked). */
  delay?: { ms: number; limit?: number };
}

export interface Impairment {
  bridge: string;
  /** The drop program, when asked for (close() detaches it; its counts() stay readable). */
  drop: XdpEveryNthDropProgram | undefined;
  /** What was set up, as commands (for a report). */
  commandLines: string[];
  /** The drop program's counts; undefined without one. */
  dropCounts(): EveryNthCounts | undefined;
  /** Removes what this added, in reverse order; idempotent; throws nothing. */
  close(): void;
}

function check(o: ImpairmentOptions): void {
  if (o.drop) checkEvery(o.drop.every);
  if (o.delay) {
    if (!Number.isFinite(o.delay.ms) || o.delay.ms < 0) throw new LabError({ code: 'EINVAL', field: 'delay.ms', message: `delay.ms: must be a number of milliseconds >= 0, got ${String(o.delay.ms)}` });
    const limit = o.delay.limit;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new LabError({ code: 'EINVAL', field: 'delay.limit', message: `delay.limit: must be a whole number of packets >= 1, got ${String(limit)}` });
  }
}

const NO_NETEM_HINT = 'load it (modprobe sch_netem) or use a kernel built with CONFIG_NET_SCH_NETEM';

/**
 * Why netem cannot be used here, or null when it can: adds one to lo in a network namespace of
 * a throwaway process (unshare -n), so nothing outlives the probe. Needs root.
 */
export function netemMissing(): string | null {
  try {
    execFileSync('unshare', ['--net', 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    return null;
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
    return /qdisc kind is unknown/i.test(stderr) ? `this kernel has no netem qdisc: ${NO_NETEM_HINT}` : `netem could not be tried (unshare --net tc qdisc add dev lo root netem): ${stderr || String(err)}`;
  }
}

function addNetem(lab: Lab, e: Endpoint, args: string[]): string {
  try {
    return lab.addNetem(e.netns, e.ifname, args);
  } catch (err) {
    if (err instanceof LabError && /qdisc kind is unknown/i.test(err.message)) {
      throw new LabError({ code: 'ENOTSUP', field: 'delay', message: `delay: this kernel has no netem qdisc to delay ${e.ifname} with`, hint: NO_NETEM_HINT, cause: err });
    }
    throw err;
  }
}

/** Bridges ma and mb in M, then adds the delay on mb and the drop program on ma when asked. */
export function addImpairment(lab: Lab, f: ForwardTopology, o: ImpairmentOptions = {}): Impairment {
  check(o);
  const undo: Array<() => void> = [];
  const commandLines: string[] = [];
  let drop: XdpEveryNthDropProgram | undefined;
  let bridge = '';
  const close = () => {
    // Each step alone: one that fails (its namespace gone) must not keep the others.
    for (const u of undo.splice(0).reverse()) { try { u(); } catch { /* the lab's close is the backstop */ } }
  };
  try {
    const br = addForwardBridge(lab, f);
    bridge = br.name;
    undo.push(() => br.remove());
    commandLines.push(...br.commands);
    if (o.delay) {
      const mb = f.mb;
      commandLines.push(addNetem(lab, mb, ['delay', `${o.delay.ms}ms`, 'limit', String(o.delay.limit ?? 100000)]));
      undo.push(() => lab.removeQdisc(mb.netns, mb.ifname));
    }
    if (o.drop) {
      const { every, mode = 'skb' } = o.drop;
      lab.recordXdp(f.ma.netns, f.ma.ifname);
      const prog = withNetns(f.ma.netns, () => XdpEveryNthDropProgram.attachTo(f.ma.ifname, mode, every));
      drop = prog;
      undo.push(() => { prog.detach(); });
      commandLines.push(`XDP every-Nth drop program (N=${every}) on ${f.ma.ifname} in ${f.ma.netns ?? 'this namespace'} (${mode} mode)`);
    }
  } catch (err) {
    close();
    throw err;
  }
  return { bridge, drop, commandLines, dropCounts: () => drop?.counts(), close };
}
