// Where a veth end's receive work runs (benchmarks/lab/receive-work.ts), on a veth pair this
// file creates: native XDP gets a NAPI kthread pinned to the asked CPU at SCHED_FIFO and it
// goes on restore; skb mode steers the backlog with RPS and restore clears it. The frames still
// arrive: the drop program counts what the peer sent after the placement.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { AfXdpPort, withNetns } from '../../native/index.js';
import { XdpDropProgram } from '../../native/xdp/drop-program.js';
import { createEngine, runEngine } from '../../benchmarks/engines/engine.js';
import { placeReceiveWork } from '../../benchmarks/lab/receive-work.js';
import { suite } from '../helpers/requirements.js';
import { createVethLab, type VethLab } from '../helpers/veth-lab.js';

const CPU = 0;

function affinity(pid: number): string {
  return execFileSync('taskset', ['-pc', String(pid)], { encoding: 'utf8' }).trim().split(':').pop()!.trim();
}

function policy(pid: number): number {
  // Field 41 of /proc/PID/stat: the scheduling policy (1 = SCHED_FIFO).
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]);
}

/** Sends `count` frames from A to B with xdplab's txonly. */
async function send(v: VethLab, count: number): Promise<void> {
  const port = withNetns(v.nsA, () => AfXdpPort.open({ ifname: v.ifA, mode: 'skb' }));
  try {
    const engine = createEngine('txonly');
    engine.prepare(port, { batch: 32, frameBytes: 64, maxPackets: count });
    await runEngine(port, engine, { warmupMs: 0, durationMs: 300 });
  } finally {
    port.close();
  }
}

suite('receive work placement on a veth pair', { root: true, tools: ['taskset', 'chrt', 'ethtool'] }, () => {
  let v: VethLab;
  beforeEach(() => { v = createVethLab(); });
  afterEach(() => { v.lab.close(); });

  it('native: a NAPI kthread pinned at SCHED_FIFO that goes on restore, and frames still arrive', async () => {
    const drop = withNetns(v.nsB, () => XdpDropProgram.attachTo(v.ifB, 'native'));
    try {
      const placed = await placeReceiveWork(v.lab, v.nsB, v.ifB, 'native', CPU);
      expect(placed.placement.warning).toBeUndefined();
      expect(placed.placement.napiThreads?.length).toBeGreaterThan(0);
      for (const th of placed.placement.napiThreads!) {
        expect(affinity(th.pid)).toBe(String(CPU));
        expect(policy(th.pid)).toBe(1);
      }
      expect(readFileSync(`/proc/${placed.placement.napiThreads![0]!.pid}/stat`, 'utf8')).toContain('napi/');
      const before = Number(/rx_queue_0_xdp_drops:\s*(\d+)/.exec(v.lab.exec(v.nsB, 'ethtool', ['-S', v.ifB]))![1]);
      await send(v, 500);
      const after = Number(/rx_queue_0_xdp_drops:\s*(\d+)/.exec(v.lab.exec(v.nsB, 'ethtool', ['-S', v.ifB]))![1]);
      // At least what A sent (IPv6 autoconfiguration may add a frame or two).
      expect(after - before).toBeGreaterThanOrEqual(500);
      placed.restore();
      for (const th of placed.placement.napiThreads!) {
        for (let i = 0; i < 50 && existsSync(`/proc/${th.pid}`); i++) await new Promise((r) => setTimeout(r, 20));
        expect(existsSync(`/proc/${th.pid}`)).toBe(false);
      }
    } finally {
      drop.detach();
    }
  });

  it('skb: RPS to the CPU on every rx queue, cleared on restore', async () => {
    const rps = () => v.lab.exec(v.nsB, 'cat', [`/sys/class/net/${v.ifB}/queues/rx-0/rps_cpus`]).trim();
    const placed = await placeReceiveWork(v.lab, v.nsB, v.ifB, 'skb', 1);
    expect(placed.placement.rpsQueues?.length).toBeGreaterThan(0);
    expect(Number.parseInt(rps(), 16)).toBe(2);
    placed.restore();
    expect(Number.parseInt(rps(), 16)).toBe(0);
  });
});
