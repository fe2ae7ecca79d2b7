// Live samples of a VM trial from a guest's NIC counters (/proc/net/dev through the guest agent),
// every intervalMs: rates over the guest's own clock (its /proc/uptime, read in the same call), tMs
// on the host's clock from the window's origin (the middle of the agent call that read them).
// Used by the iperf3 trials of every backend (rows/vm-cells.ts LIVE_SOURCE says why).
import type { Sample } from '../contracts/report.js';
import type { Vm } from '../qemu/vm.js';
import { readGuestNic, type GuestNicCounters } from './guest-traffic.js';

/** Between reads: below 500 so that the agent call's own time keeps samples at >= 2 Hz. */
export const LIVE_INTERVAL_MS = 400;
/** Before the window began: how often to look for the first data, and how much is data. */
const START_POLL_MS = 100;
const START_PACKETS = 20;
const START_GIVE_UP_MS = 15_000;

export interface NicPollOptions {
  vm: Vm;
  ifname?: string;
  /**
   * Date.now() of tMs 0; undefined: not known yet, the window begins when data first flows (the
   * guest sees more than a few packets within 100 ms: iperf3's test started, after its control
   * exchange), then onStart tells.
   */
  originMs?: number;
  onStart?(originMs: number): void;
  /** rx: count what the guest receives (bits/packets), tx: what it sends. */
  direction: 'rx' | 'tx';
  /** Metric names: bitsPerSecond and packetsPerSecond, prefixed (reverse: reverseBitsPerSecond). */
  prefix?: string;
  row: string;
  trial: number;
  intervalMs?: number;
  sample(s: Sample): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until stop(); a VM that stops answering (QEMU killed) ends the polling quietly. */
export function pollGuestNic(o: NicPollOptions): { stop(): Promise<void> } {
  const interval = o.intervalMs ?? LIVE_INTERVAL_MS;
  let stopped = false;
  const read = async (): Promise<{ c: GuestNicCounters; at: number }> => {
    const t0 = Date.now();
    const c = await readGuestNic(o.vm, o.ifname);
    return { c, at: (t0 + Date.now()) / 2 };
  };
  const name = (m: string) => (o.prefix ? `${o.prefix}${m[0]!.toUpperCase()}${m.slice(1)}` : m);
  const count = (x: GuestNicCounters) => (o.direction === 'rx' ? x.rxPackets : x.txPackets);
  const loop = (async () => {
    let prev = await read();
    let origin = o.originMs;
    // Until data flows: fast reads; the window begins at the read before the first data.
    const giveUp = Date.now() + START_GIVE_UP_MS;
    while (origin === undefined && !stopped && o.vm.running) {
      await sleep(START_POLL_MS);
      const cur = await read();
      if (count(cur.c) - count(prev.c) >= START_PACKETS || Date.now() > giveUp) origin = prev.at;
      else prev = cur;
    }
    if (origin === undefined) return;
    o.onStart?.(origin);
    // Reads on a fixed cadence from the origin (the agent call's time does not add up).
    let next = prev.at + interval;
    let gap = false;
    while (!stopped && o.vm.running) {
      const wait = next - Date.now();
      if (wait > 0) await sleep(wait);
      next = Math.max(next + interval, Date.now());
      if (stopped) break;
      // The NIC may be gone for a moment (a hot swap unplugs and plugs it again): no sample
      // while it is, and none across the swap (the new NIC's counters start from 0).
      let cur: Awaited<ReturnType<typeof read>>;
      try { cur = await read(); } catch (err) {
        if (!o.vm.running) throw err;
        gap = true;
        continue;
      }
      const dt = cur.c.uptimeMs - prev.c.uptimeMs;
      const back = cur.c.rxBytes < prev.c.rxBytes || cur.c.txBytes < prev.c.txBytes;
      if (gap || back) { gap = false; prev = cur; continue; }
      if (dt > 0) {
        const bytes = o.direction === 'rx' ? cur.c.rxBytes - prev.c.rxBytes : cur.c.txBytes - prev.c.txBytes;
        const packets = o.direction === 'rx' ? cur.c.rxPackets - prev.c.rxPackets : cur.c.txPackets - prev.c.txPackets;
        o.sample({
          row: o.row, trial: o.trial, tMs: Math.round(prev.at - origin), intervalMs: Math.round(cur.at - prev.at),
          metrics: { [name('bitsPerSecond')]: (bytes * 8 * 1000) / dt, [name('packetsPerSecond')]: (packets * 1000) / dt },
        });
      }
      prev = cur;
    }
  })().catch(() => { /* the VM is gone or its agent stopped answering: the trial reports it */ });
  return { stop: async () => { stopped = true; await loop; } };
}
