// The topologies of one run, created on first use and checked before every row: when a fault
// damages the embedded lab (a namespace removed, a link deleted), the rows after it get a fresh
// one, so one fault ends the affected row and not the whole matrix. Interfaces the user named
// are theirs: damage there is reported, never repaired.
import { execFileSync } from 'node:child_process';
import { LabError } from '../contracts/errors.js';
import type { Lab } from '../lab/lab.js';
import type { Scenario } from '../contracts/scenario.js';
import { checkExisting, createForwardTopology, createPacketTopology, macOf, type Endpoint, type ForwardTopology, type PacketTopology } from '../lab/topology.js';

function namespaces(): Set<string> {
  try {
    return new Set(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean));
  } catch {
    return new Set();
  }
}

function linkExists(e: Endpoint): boolean {
  try {
    execFileSync('ip', [...(e.netns ? ['-n', e.netns] : []), 'link', 'show', 'dev', e.ifname], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** What is missing from a topology, or null when it is whole. */
export function damageOf(endpoints: Endpoint[]): string | null {
  const ns = namespaces();
  const missing: string[] = [];
  for (const e of endpoints) {
    if (e.netns && !ns.has(e.netns)) missing.push(`namespace ${e.netns} is gone`);
    else if (!linkExists(e)) missing.push(`interface ${e.ifname}${e.netns ? ` in ${e.netns}` : ''} is gone`);
  }
  return missing.length ? [...new Set(missing)].join(', ') : null;
}

const packetEnds = (t: PacketTopology, peerHere = true): Endpoint[] => (peerHere ? [t.dut, t.peer] : [t.dut]);
const forwardEnds = (t: ForwardTopology): Endpoint[] => [t.a, t.ma, t.mb, t.b];

export class RunTopologies {
  private packet: PacketTopology | undefined;
  private forward: ForwardTopology | undefined;
  private generation = 0;
  macs: { dut: string; peer: string } | undefined;

  /** remotePeerMac: --peer-host's interface there (its damage is the agent's to report). */
  constructor(private readonly lab: Lab, private readonly s: Scenario, private readonly onRebuild: (why: string) => void, private readonly remotePeerMac?: string) {}

  /** The DUT/peer pair, rebuilt first if a fault damaged the embedded one. */
  packetTopology(): PacketTopology {
    if (this.packet) {
      const damage = damageOf(packetEnds(this.packet, !this.remotePeerMac));
      if (!damage) return this.packet;
      if (!this.packet.embedded) throw new LabError({ code: 'ETOPOLOGY', message: `the interfaces given with --ifname/--peer are damaged: ${damage}` });
      this.onRebuild(`the lab's DUT/peer pair was damaged (${damage}): rebuilt it for the rows that follow`);
      this.discard(packetEnds(this.packet));
      this.packet = undefined;
    }
    this.packet = this.s.ifname ? checkExisting(this.s) : createPacketTopology(this.lab, this.s, this.generation++);
    this.macs = { dut: macOf(this.lab, this.packet.dut), peer: this.remotePeerMac ?? macOf(this.lab, this.packet.peer) };
    return this.packet;
  }

  /** A <-> M <-> B for iperf3, rebuilt first if damaged. */
  forwardTopology(): ForwardTopology {
    if (this.forward) {
      const damage = damageOf(forwardEnds(this.forward));
      if (!damage) return this.forward;
      this.onRebuild(`the lab's iperf3 topology was damaged (${damage}): rebuilt it for the rows that follow`);
      this.discard(forwardEnds(this.forward));
      this.forward = undefined;
    }
    this.forward = createForwardTopology(this.lab, this.generation++);
    return this.forward;
  }

  /** What a fault has removed from the topologies in use, for the failed trial's reason. */
  damage(): string | null {
    return damageOf([...(this.packet ? packetEnds(this.packet, !this.remotePeerMac) : []), ...(this.forward ? forwardEnds(this.forward) : [])]);
  }

  private discard(ends: Endpoint[]): void {
    const present = namespaces();
    for (const ns of new Set(ends.flatMap((e) => (e.netns ? [e.netns] : [])))) {
      if (present.has(ns)) this.lab.removeNetns(ns);
    }
  }
}
