// A bench through xdplab helper: the topology, the XSK programs and sockets, the drop sink and
// the counters come from the helper; the workers open their ports with inhibit + sock-fds and
// need no capabilities. Rows that need privileges of their own are marked unavailable.

import { closeSync } from 'node:fs';
import type { Lab } from '../lab/lab.js';
import type { RxCounters } from '../tools/counters.js';
import type { Endpoint, PacketTopology } from '../lab/topology.js';
import { startWorker, type RunningWorker, type WorkerSampleEvent, type WorkerSpec } from '../engines/worker-client.js';
import type { HelperClient } from '../helper/client.js';
import type { AfXdpMode } from '../contracts/datapath.js';

/**
 * UMEM size of a worker through the helper: 512 frames of 4 KiB (2 MiB) and rings of 256, so a
 * generator and a device under test stay under the default 8 MiB RLIMIT_MEMLOCK of one user
 * (UMEM pages count against the user, across its processes, without CAP_IPC_LOCK).
 */
export const HELPER_UMEM = { frameCount: 512, ringSize: 256 };

export const NEEDS_ROOT = 'needs root; run without --helper as root';

export async function helperTopology(helper: HelperClient, queues: number): Promise<{ packet: PacketTopology; macs: { dut: string; peer: string } }> {
  const t = await helper.topology(queues);
  return {
    packet: { dut: { netns: t.dut.netns, ifname: t.dut.ifname }, peer: { netns: t.peer.netns, ifname: t.peer.ifname }, embedded: true },
    macs: { dut: t.dut.mac, peer: t.peer.mac },
  };
}

/** A worker on sockets from the helper; the helper's program goes when the worker ends. */
export async function startWorkerViaHelper(helper: HelperClient, lab: Lab, spec: WorkerSpec, onSample?: (s: WorkerSampleEvent) => void): Promise<RunningWorker> {
  const s = await helper.sockets({ ...(spec.netns ? { netns: spec.netns } : {}), ifname: spec.ifname, mode: spec.mode, queues: 1 });
  const { netns: _inside, ...rest } = spec;
  let w: RunningWorker;
  try {
    w = startWorker(lab, { ...rest, mode: s.mode, provided: { sockFds: '3', ifindex: s.ifindex }, ...HELPER_UMEM }, onSample, s.fds[0]!);
  } catch (err) {
    await helper.release(s.handle).catch(() => undefined);
    throw err;
  } finally {
    // The worker holds its own copy from fork on; ours would keep the socket alive.
    for (const fd of s.fds) closeSync(fd);
  }
  const done = w.done.then(async (r) => { await helper.release(s.handle).catch(() => undefined); return r; });
  return { ...w, done };
}

/** The txonly sink through the helper: its drop program and its counter reads. */
export async function helperDropSink(helper: HelperClient, peer: Endpoint, mode: AfXdpMode): Promise<{ detach(): Promise<void> }> {
  const handle = await helper.drop({ ...(peer.netns ? { netns: peer.netns } : {}), ifname: peer.ifname, mode });
  return { detach: () => helper.release(handle) };
}

export function helperCounters(helper: HelperClient, e: Endpoint): Promise<RxCounters> {
  return helper.counters(e.netns, e.ifname);
}
