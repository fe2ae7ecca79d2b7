// What the helper needs from the kernel, checked at start so a missing capability is one clear
// error instead of an EPERM halfway through a client's session.
import { readFileSync } from 'node:fs';
import { LabError } from '../contracts/errors.js';

export const HELPER_CAPABILITIES: Array<{ name: string; bit: number; why: string }> = [
  { name: 'CAP_NET_ADMIN', bit: 12, why: 'veth pairs, attaching XDP programs, ethtool' },
  { name: 'CAP_NET_RAW', bit: 13, why: 'creating AF_XDP sockets' },
  { name: 'CAP_SYS_ADMIN', bit: 21, why: 'creating and entering network namespaces (ip netns add, setns)' },
  { name: 'CAP_BPF', bit: 39, why: 'loading the XSK and drop programs and their maps' },
];

function capSet(status: string, key: 'CapEff' | 'CapAmb'): bigint {
  const m = status.match(new RegExp(`^${key}:\\s*([0-9a-f]+)$`, 'm'));
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

/** Giving the socket file to socketGroup (when the helper creates the socket itself). */
export const CAP_CHOWN = { name: 'CAP_CHOWN', bit: 0, why: 'giving the socket file to socketGroup' };

/** Throws unless this process (and, when not root, the tools it starts) has every capability. */
export function checkHelperCapabilities(status = readFileSync('/proc/self/status', 'utf8'), uid = process.getuid?.() ?? 0, extra: typeof HELPER_CAPABILITIES = []): void {
  const eff = capSet(status, 'CapEff');
  const amb = capSet(status, 'CapAmb');
  // ip and ethtool run as children: as root they get the bounding set back, otherwise only
  // ambient capabilities survive execve.
  const missing = [...HELPER_CAPABILITIES, ...extra].filter((c) => !(eff & (1n << BigInt(c.bit))) || (uid !== 0 && !(amb & (1n << BigInt(c.bit)))));
  if (!missing.length) return;
  throw new LabError({
    code: 'EPERM', field: 'capabilities',
    message: `capabilities: xdplab helper needs ${missing.map((c) => `${c.name} (${c.why})`).join(', ')}${uid !== 0 ? ' as effective and ambient capabilities' : ''}`,
    hint: `run it as root, or grant ${missing.map((c) => c.name).join(' ')} (the systemd unit in the README does)`,
  });
}
