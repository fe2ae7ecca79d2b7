// Where a bench runs. The embedded default needs no setup: a pair of namespaces joined by a veth
// pair (DUT and peer) and, for iperf3, A <-> veth <-> M <-> veth <-> B with addresses from the
// benchmarking range 198.18.0.0/15. All of it belongs to the run's Lab and goes with it. Or
// an existing interface and its peer named by the user, checked before anything is created.
import { LabError } from '../contracts/errors.js';
import { ifNameToIndex, withNetns } from '../../native/index.js';
import { Lab } from './lab.js';
import type { Scenario } from '../contracts/scenario.js';

export interface Endpoint { netns?: string; ifname: string }
export interface PacketTopology { dut: Endpoint; peer: Endpoint; embedded: boolean }
export interface ForwardTopology { a: Endpoint; ma: Endpoint; mb: Endpoint; b: Endpoint; serverAddress: string }

export function macOf(lab: Lab, e: Endpoint): string {
  const out = lab.ip(e.netns, ['-j', 'link', 'show', 'dev', e.ifname]);
  return (JSON.parse(out) as Array<{ address: string }>)[0]!.address;
}

/** Checks a user-named interface and peer before any resource is created. */
export function checkExisting(s: Scenario): PacketTopology {
  const dut: Endpoint = { ifname: s.ifname!, ...(s.netns ? { netns: s.netns } : {}) };
  const peer: Endpoint = { ifname: s.peer!, ...(s.peerNetns ? { netns: s.peerNetns } : {}) };
  // A peer on another host (--peer-host) is checked there, through its agent.
  const here = s.peerHost ? [[dut, '--ifname'] as const] : [[dut, '--ifname'] as const, [peer, '--peer'] as const];
  for (const [e, field] of here) {
    let index = 0;
    try {
      index = withNetns(e.netns, () => ifNameToIndex(e.ifname));
    } catch (err) {
      throw new LabError({ code: 'ENONETNS', field: field === '--ifname' ? '--netns' : '--peer-netns', message: `${field === '--ifname' ? '--netns' : '--peer-netns'}: ${(err as Error).message}` });
    }
    if (!index) {
      throw new LabError({ code: 'ENODEV', field, message: `${field}: no interface '${e.ifname}'${e.netns ? ` in namespace '${e.netns}'` : ' in this network namespace'}`, hint: `ip ${e.netns ? `-n ${e.netns} ` : ''}link show lists the interfaces${field === '--peer' ? '; a peer in another namespace needs --peer-netns' : ''}` });
    }
  }
  return { dut, peer, embedded: false };
}

/** `generation` > 0 names a rebuilt topology apart from the damaged one (d1, p1, ...). */
export function createPacketTopology(lab: Lab, s: Pick<Scenario, 'queues'>, generation = 0): PacketTopology {
  const g = generation ? String(generation) : '';
  const d = lab.addNetns(`d${g}`);
  const p = lab.addNetns(`p${g}`);
  const [di, pi] = lab.addVethPair({ netns: d, suffix: `d${g}` }, { netns: p, suffix: `p${g}` });
  if (s.queues > 1) { lab.setChannels(d, di, s.queues); lab.setChannels(p, pi, s.queues); }
  return { dut: { netns: d, ifname: di }, peer: { netns: p, ifname: pi }, embedded: true };
}

export function createForwardTopology(lab: Lab, generation = 0): ForwardTopology {
  const g = generation ? String(generation) : '';
  const a = lab.addNetns(`a${g}`);
  const m = lab.addNetns(`m${g}`);
  const b = lab.addNetns(`b${g}`);
  const [ai, mai] = lab.addVethPair({ netns: a, suffix: `a${g}` }, { netns: m, suffix: `ma${g}` });
  const [mbi, bi] = lab.addVethPair({ netns: m, suffix: `mb${g}` }, { netns: b, suffix: `b${g}` });
  lab.addAddress(a, ai, '198.18.0.1/24');
  lab.addAddress(b, bi, '198.18.0.2/24');
  // AF_XDP has no checksum or segmentation offload: TCP stalls through it unless the
  // endpoints compute checksums and segment themselves.
  lab.disableOffloads(a, ai);
  lab.disableOffloads(b, bi);
  return { a: { netns: a, ifname: ai }, ma: { netns: m, ifname: mai }, mb: { netns: m, ifname: mbi }, b: { netns: b, ifname: bi }, serverAddress: '198.18.0.2' };
}

export interface ForwardBridge { name: string; netns: string | undefined; commands: string[]; remove(): void }

/** M forwards in the kernel: a Linux bridge over ma and mb, owned by the lab; remove() is idempotent. */
export function addForwardBridge(lab: Lab, f: ForwardTopology): ForwardBridge {
  const netns = f.ma.netns;
  const { name, commands } = lab.addBridge(netns, 'br', [f.ma.ifname, f.mb.ifname]);
  let removed = false;
  return { name, netns, commands, remove: () => { if (!removed) { removed = true; lab.removeLink(netns, name); } } };
}
