// Where a veth's receive work runs. veth hands a frame to its peer in the sender's context: by
// default the receiver's NAPI poll (native XDP) or backlog (generic XDP) runs in softirq on the
// sending CPU, so whatever the receiver's XDP does (drop, or redirect into an AF_XDP socket and
// copy into its UMEM) is billed to the sender. A NIC does it the other way round: the receive
// interrupt and NAPI run on the receiving host. This puts a receiver's work on a CPU of its
// own: threaded NAPI with the kthread pinned at SCHED_FIFO (native: veth has a NAPI only while
// a program is attached, so call this after the attach), RPS to that CPU (skb: frames go
// through netif_rx). Undone by restore(). For receivers whose CPU runs nothing else (an XDP
// drop sink): a user-space consumer on the same CPU would wait behind the kthread. bench:datapath
// uses it; the row runners do not (runs/row-runners.ts says what it cost them when they did).
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import type { Lab } from './lab.js';
import { procStat } from './proc.js';

export interface ReceivePlacement {
  how: string;
  cpu: number;
  napiThreads?: Array<{ pid: number; comm: string }>;
  rpsQueues?: string[];
  warning?: string;
}

export interface PlacedReceiveWork { placement: ReceivePlacement; restore: () => void }

/** Kernel threads (children of kthreadd) whose name starts with napi/: pid -> comm. */
function napiThreads(): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = procStat(name);
    if (s?.comm.startsWith('napi/') && s.ppid === 2) out.set(Number(name), s.comm);
  }
  return out;
}

export async function placeReceiveWork(lab: Lab, netns: string | undefined, ifname: string, mode: 'native' | 'skb', cpu: number): Promise<PlacedReceiveWork> {
  const sysfs = `/sys/class/net/${ifname}`;
  const write = (value: string | number, path: string) => lab.exec(netns, 'sh', ['-c', `echo ${value} > ${path}`]);
  if (mode === 'native') {
    // NAPI kthread names are cut to 15 characters, so the interface's threads are the new ones.
    const before = napiThreads();
    write(1, `${sysfs}/threaded`);
    let created: Array<{ pid: number; comm: string }> = [];
    for (let i = 0; i < 20 && created.length === 0; i++) {
      created = [...napiThreads()].filter(([pid]) => !before.has(pid)).map(([pid, comm]) => ({ pid, comm }));
      if (created.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    for (const th of created) {
      execFileSync('taskset', ['-pc', String(cpu), String(th.pid)], { stdio: 'ignore' });
      // Like softirq work, the receiver's poll must not wait behind the busy-polling user thread.
      execFileSync('chrt', ['-f', '-p', '50', String(th.pid)], { stdio: 'ignore' });
    }
    return {
      placement: {
        how: `threaded NAPI on ${ifname}, NAPI kthread pinned to CPU ${cpu} at SCHED_FIFO 50`, cpu, napiThreads: created,
        ...(created.length ? {} : { warning: `no NAPI kthread appeared on ${ifname}: its XDP runs in softirq on the sending CPU` }),
      },
      restore: () => { try { write(0, `${sysfs}/threaded`); } catch { /* the interface is already gone */ } },
    };
  }
  const queues = lab.exec(netns, 'sh', ['-c', `ls -d ${sysfs}/queues/rx-*`]).split('\n').filter(Boolean);
  const mask = (1 << cpu).toString(16);
  for (const q of queues) write(mask, `${q}/rps_cpus`);
  return {
    placement: { how: `RPS on ${ifname} (rps_cpus=${mask}): its backlog and generic XDP run on CPU ${cpu}`, cpu, rpsQueues: queues },
    restore: () => { for (const q of queues) { try { write(0, `${q}/rps_cpus`); } catch { /* gone */ } } },
  };
}
