// The guest's side of the packet tests, through the guest agent: its NIC's counters, and
// kernel pktgen (the module is in the image, loaded on demand).
//
// pktgen's pkt_size is the length of the frame it hands to the driver, without FCS (pktgen.c:
// UDP payload = pkt_size - 14 - 20 - 8, at least its 16-byte header): the same meaning as
// xdplab's frameBytes (testpmd's --txpkts), so pkt_size = frameBytes. Checked on this machine:
// the peer's rx_bytes / rx_packets is exactly frameBytes.
import { invalidOption, LabError } from '../contracts/errors.js';
import type { Vm } from '../qemu/vm.js';

export interface GuestNicCounters {
  rxPackets: number; rxBytes: number; rxDropped: number;
  txPackets: number; txBytes: number; txDropped: number;
  /** The guest's uptime when the counters were read, in ms (the guest's own clock). */
  uptimeMs: number;
}

/**
 * One agent call: the NIC's counters and the guest's uptime. /proc/net/dev gives all counters
 * of a device from one snapshot (reading the statistics/ files one by one let rx_bytes run
 * ahead of rx_packets under load), then /proc/uptime right after.
 */
export async function readGuestNic(vm: Vm, ifname = 'eth0'): Promise<GuestNicCounters> {
  const r = await vm.readNic(ifname);
  return parseGuestNic(`${r.nic}\n${r.uptime}\n`, ifname, vm.name);
}

/** /proc/net/dev's line for `ifname` (rx: bytes packets errs drop ...; tx from the 9th field) and /proc/uptime's first number. */
export function parseGuestNic(text: string, ifname: string, who = 'guest'): GuestNicCounters {
  const line = text.split('\n').find((l) => l.trim().startsWith(`${ifname}:`));
  const f = line?.trim().slice(ifname.length + 1).trim().split(/\s+/).map(Number) ?? [];
  const uptime = Number(/^(\d+\.\d+)\s+\d+\.\d+\s*$/m.exec(text)?.[1]);
  if (f.length < 16 || f.some((x) => !Number.isFinite(x)) || !Number.isFinite(uptime)) {
    throw new LabError({ code: 'EGUESTCOMMAND', message: `${who}: could not read the counters of ${ifname} in the guest: '${text.trim().slice(0, 300)}'` });
  }
  return { rxBytes: f[0]!, rxPackets: f[1]!, rxDropped: f[3]!, txBytes: f[8]!, txPackets: f[9]!, txDropped: f[11]!, uptimeMs: Math.round(uptime * 1000) };
}

export interface PktgenConfig {
  ifname: string;
  dstMac: string;
  dstIp: string;
  srcIp: string;
  /** Frame length without FCS, as xdplab's frameBytes. */
  frameBytes: number;
  /** Frames to send; 0: until stopped. */
  count: number;
  udpPort?: number;
  /** Frames per driver call (pktgen's burst); default 32 for timed runs, 1 for fixed counts. */
  burst?: number;
}

export const PKTGEN_DIR = '/proc/net/pktgen';
const CLONE_SKB = 1000;
const DEFAULT_BURST = 32;

/** The lines written to pktgen's files, in order: [file, line]. */
export function pktgenWrites(c: PktgenConfig): Array<[string, string]> {
  if (!/^[a-z0-9_.-]{1,15}$/i.test(c.ifname)) throw invalidOption('ifname', `'${c.ifname}' is not an interface name`);
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(c.dstMac)) throw invalidOption('dstMac', `'${c.dstMac}' is not a MAC address`);
  for (const [f, v] of [['dstIp', c.dstIp], ['srcIp', c.srcIp]] as const) {
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(v)) throw invalidOption(f, `'${v}' is not an IPv4 address`);
  }
  if (!Number.isInteger(c.frameBytes) || c.frameBytes < 60 || c.frameBytes > 1514) {
    throw invalidOption('frameBytes', `pktgen frames: expected an integer from 60 to 1514 (no FCS; the guest's MTU is 1500), got ${c.frameBytes}`);
  }
  if (!Number.isInteger(c.count) || c.count < 0) throw invalidOption('count', `expected a whole number of frames (0: until stopped), got ${c.count}`);
  const port = String(c.udpPort ?? 9);
  const dev = `${PKTGEN_DIR}/${c.ifname}`;
  // One vCPU: one pktgen thread, kpktgend_0. Reusing the skb (clone_skb) and handing the driver
  // bursts (xmit_more: one virtio kick per burst) gave 2.5x the rate under TCG here (24 vs 9.7
  // kpps). A burst can overshoot `count` by up to burst-1 frames (pktgen checks the count
  // between bursts only), so fixed counts are sent one frame per call.
  const burst = c.burst ?? (c.count === 0 ? DEFAULT_BURST : 1);
  if (!Number.isInteger(burst) || burst < 1 || burst > 1024) throw invalidOption('burst', `expected an integer from 1 to 1024, got ${burst}`);
  return [
    [`${PKTGEN_DIR}/kpktgend_0`, 'rem_device_all'],
    [`${PKTGEN_DIR}/kpktgend_0`, `add_device ${c.ifname}`],
    [dev, `count ${c.count}`],
    [dev, `clone_skb ${CLONE_SKB}`],
    [dev, `burst ${burst}`],
    [dev, `pkt_size ${c.frameBytes}`],
    [dev, 'delay 0'],
    [dev, `dst ${c.dstIp}`],
    [dev, `src_min ${c.srcIp}`],
    [dev, `src_max ${c.srcIp}`],
    [dev, `dst_mac ${c.dstMac}`],
    [dev, `udp_src_min ${port}`],
    [dev, `udp_src_max ${port}`],
    [dev, `udp_dst_min ${port}`],
    [dev, `udp_dst_max ${port}`],
  ];
}

/** The config as a shell script that checks pktgen's "Result: OK" after every write. */
export function pktgenScript(c: PktgenConfig): string {
  const lines = ['set -e', 'modprobe pktgen', `echo reset > ${PKTGEN_DIR}/pgctrl`];
  for (const [file, line] of pktgenWrites(c)) {
    lines.push(`echo '${line}' > ${file}`);
    // The thread file reports on its own Result line too.
    lines.push(`grep -q '^Result: OK' ${file} || { echo "pktgen refused '${line}': $(grep ^Result ${file})" >&2; exit 1; }`);
  }
  return lines.join('\n');
}

export interface PktgenResult { sent: number; errors: number; resultLine: string }

/** pkts-sofar and errors from /proc/net/pktgen/IF. */
export function parsePktgenResult(text: string): PktgenResult {
  const m = /pkts-sofar:\s*(\d+)\s+errors:\s*(\d+)/.exec(text);
  if (!m) throw new LabError({ code: 'EPKTGEN', message: `pktgen's device file has no pkts-sofar line: '${text.slice(0, 300)}'` });
  return { sent: Number(m[1]), errors: Number(m[2]), resultLine: /^Result:.*$/m.exec(text)?.[0] ?? '' };
}

/** Writes the config in the guest (loads the module first). */
export async function configurePktgen(vm: Vm, c: PktgenConfig): Promise<void> {
  await vm.run('sh', ['-c', pktgenScript(c)], { timeoutMs: 30_000 });
}

/** Runs pktgen until its count is sent, or until stopPktgen(); resolves with its result. */
export async function runPktgen(vm: Vm, ifname: string, timeoutMs: number): Promise<PktgenResult> {
  // Writing "start" blocks until every pktgen thread is done (count reached or "stop").
  await vm.run('sh', ['-c', `echo start > ${PKTGEN_DIR}/pgctrl`], { timeoutMs });
  return parsePktgenResult(await vm.run('cat', [`${PKTGEN_DIR}/${ifname}`]));
}

export async function stopPktgen(vm: Vm): Promise<void> {
  await vm.run('sh', ['-c', `echo stop > ${PKTGEN_DIR}/pgctrl`], { timeoutMs: 20_000 });
}
