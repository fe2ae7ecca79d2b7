// The benchmark engines on a real veth pair in namespaces this file creates: txonly on one end,
// rxonly on the other, every frame checked byte for byte; the XDP drop program; the worker
// process (its JSON line, its error line, its teardown on SIGINT). No timing assertions: speed
// belongs to the benchmark.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AfXdpPort, queryXdp, withNetns } from '../../native/index.js';
import { resolveIfindex } from '../../native/afxdp/port.js';
import { XdpDropProgram } from '../../native/xdp/drop-program.js';
import { createEngine } from '../../benchmarks/engines/registry.js';
import { DEFAULT_FRAME, buildUdpFrame, checkUdpFrame, type UdpFrameSpec } from '../../benchmarks/engines/frames.js';
import type { TxOnlyEngine } from '../../benchmarks/engines/txonly.js';
import { suite } from '../helpers/requirements.js';
import { createVethLab, type VethLab } from '../helpers/veth-lab.js';

const WORKER = fileURLToPath(new URL('../../dist/benchmarks/engines/worker.js', import.meta.url));

function open(ns: string, options: Record<string, unknown>): AfXdpPort {
  return withNetns(ns, () => AfXdpPort.open(options));
}

function attachedMode(ns: string, ifname: string): string {
  return withNetns(ns, () => queryXdp(resolveIfindex(ifname)).mode);
}

function xdpDrops(v: VethLab, ns: string, ifname: string): number {
  const out = v.lab.exec(ns, 'ethtool', ['-S', ifname]);
  let n = 0;
  for (const m of out.matchAll(/rx_queue_\d+_xdp_drops:\s*(\d+)/g)) n += Number(m[1]);
  return n;
}

interface Run { code: number | null; stdout: string; events: Array<Record<string, unknown>> }

/** Runs the compiled worker; `onEvent` may signal it. */
function runWorker(args: string[], onEvent?: (e: Record<string, unknown>, kill: (s: NodeJS.Signals) => void) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [WORKER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    const events: Array<Record<string, unknown>> = [];
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    createInterface({ input: p.stderr }).on('line', (l) => {
      if (!l.startsWith('{')) return;
      const e = JSON.parse(l) as Record<string, unknown>;
      events.push(e);
      onEvent?.(e, (s) => p.kill(s));
    });
    const t = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`worker did not exit: ${stdout}`)); }, 60_000);
    p.once('exit', (code) => { clearTimeout(t); setTimeout(() => resolve({ code, stdout, events }), 20); });
  });
}

suite('benchmark engines on a veth pair', { root: true, tools: ['ip', 'ethtool', 'sysctl'] }, () => {
  let v: VethLab;
  beforeAll(() => {
    v = createVethLab();
    // No IPv6 chatter: every frame on the pair is the test's.
    for (const [ns, i] of [[v.nsA, v.ifA], [v.nsB, v.ifB]] as const) {
      v.lab.exec(ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', `net.ipv6.conf.${i}.disable_ipv6=1`]);
    }
  });
  afterAll(() => v?.lab.close());

  for (const mode of ['native', 'skb'] as const) {
    it(`${mode} mode: txonly -> rxonly at a low rate delivers every frame with identical bytes`, () => {
      const count = 3000;
      const spec: UdpFrameSpec = { ...DEFAULT_FRAME, frameBytes: 64, srcPort: 4242, dstPort: 4343 };
      const expected = new Uint8Array(spec.frameBytes);
      buildUdpFrame(expected, 0, spec);
      expect(checkUdpFrame(expected, 0, expected.length).ok).toBe(true);
      let ours = 0;
      let different = 0;
      let invalid = 0;
      let others = 0;
      const inspect = (bytes: Uint8Array, off: number, len: number) => {
        const isOurs = len === expected.length && bytes[off + 12] === 0x08 && bytes[off + 13] === 0x00
          && bytes[off + 34] === (spec.srcPort >> 8) && bytes[off + 35] === (spec.srcPort & 0xff);
        if (!isOurs) { others++; return; }
        ours++;
        for (let i = 0; i < len; i++) if (bytes[off + i] !== expected[i]) { different++; return; }
        if (!checkUdpFrame(bytes, off, len).ok) invalid++;
      };
      const a = open(v.nsA, { ifname: v.ifA, mode });
      const b = open(v.nsB, { ifname: v.ifB, mode });
      try {
        const tx = createEngine('txonly') as TxOnlyEngine;
        const rx = createEngine('rxonly');
        tx.prepare(a, { batch: 16, frameBytes: spec.frameBytes, frame: spec, maxPackets: count });
        rx.prepare(b, { batch: 64, frameBytes: spec.frameBytes, inspect });
        let completed = 0;
        const deadline = Date.now() + 20_000;
        // Low rate: at most 64 frames in flight, so no ring ever overflows.
        while ((completed < count || ours < count) && Date.now() < deadline) {
          if (tx.queued - ours < 64) completed += tx.burst(a, 0).tx;
          else completed += a.reclaim();
          rx.burst(b, 0);
        }
        tx.finish(a);
        rx.finish(b);
        expect({ queued: tx.queued, completed, ours, different, invalid }).toEqual({ queued: count, completed: count, ours: count, different: 0, invalid: 0 });
        expect(others).toBe(0);
        const sa = a.stats();
        const sb = b.stats();
        expect(sa.txPackets).toBe(count);
        expect(sa.txInvalidDescs).toBe(0);
        expect(sb.rxPackets).toBe(count);
        expect(sb.rxDropped).toBe(0);
        // Every frame went back to the pools.
        expect(a.queues[0]!.umem.freeFrames + b.queues[0]!.umem.freeFrames).toBe(2 * 4096 - 2048 - 2048);
      } finally {
        a.close();
        b.close();
      }
      expect(attachedMode(v.nsA, v.ifA)).toBe('none');
      expect(attachedMode(v.nsB, v.ifB)).toBe('none');
    });
  }

  for (const mode of ['native', 'skb'] as const) {
    it(`the XDP drop program attaches in ${mode} mode, drops what arrives, and detaches only itself`, () => {
      const drop = withNetns(v.nsB, () => XdpDropProgram.attachTo(v.ifB, mode));
      try {
        expect(drop.isAttached()).toBe(true);
        expect(attachedMode(v.nsB, v.ifB)).toBe(mode);
        // A second one is refused rather than replacing the first.
        expect(() => withNetns(v.nsB, () => XdpDropProgram.attachTo(v.ifB, mode))).toThrow(/already has an XDP program/);
        const before = xdpDrops(v, v.nsB, v.ifB);
        const a = open(v.nsA, { ifname: v.ifA, mode });
        try {
          const tx = createEngine('txonly') as TxOnlyEngine;
          tx.prepare(a, { batch: 32, frameBytes: 64, maxPackets: 500 });
          let completed = 0;
          const deadline = Date.now() + 10_000;
          while (completed < 500 && Date.now() < deadline) completed += tx.burst(a, 0).tx;
          expect(completed).toBe(500);
        } finally {
          a.close();
        }
        // veth counts XDP verdicts of native programs only; generic (skb) XDP has no counter there.
        if (mode === 'native') expect(xdpDrops(v, v.nsB, v.ifB) - before).toBe(500);
      } finally {
        expect(drop.detach()).toBe(true);
      }
      expect(drop.detach()).toBe(false);
      expect(attachedMode(v.nsB, v.ifB)).toBe('none');
    });
  }

  const haveWorker = existsSync(WORKER);
  it.skipIf(!haveWorker)(`worker: txonly for 1 s prints one JSON result${haveWorker ? '' : ' [skipped: run npm run build first]'}`, async () => {
    const drop = withNetns(v.nsB, () => XdpDropProgram.attachTo(v.ifB, 'native'));
    try {
      const before = xdpDrops(v, v.nsB, v.ifB);
      const r = await runWorker([JSON.stringify({ netns: v.nsA, ifname: v.ifA, engine: 'txonly', mode: 'native', seconds: 1, warmupMs: 200, burst: 64, frameBytes: 64 })]);
      expect(r.code).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toHaveLength(1);
      const res = JSON.parse(lines[0]!) as { ok: boolean; mode: string; zeroCopy: boolean; packets: number; tx: number; seconds: number; stats: { txPackets: number } };
      expect(res).toMatchObject({ ok: true, mode: 'native', zeroCopy: false });
      expect(res.packets).toBe(res.tx);
      expect(res.packets).toBeGreaterThan(0);
      expect(res.stats.txPackets).toBeGreaterThanOrEqual(res.packets);
      const arrived = xdpDrops(v, v.nsB, v.ifB) - before;
      expect(arrived).toBeGreaterThan(0);
      expect(arrived).toBeLessThanOrEqual(res.stats.txPackets);
      expect(r.events.map((e) => e.event)).toEqual(expect.arrayContaining(['ready', 'window']));
    } finally {
      drop.detach();
    }
    expect(attachedMode(v.nsA, v.ifA)).toBe('none');
  });

  it.skipIf(!haveWorker)('worker: SIGINT during the run closes the port and still prints the result', async () => {
    const r = await runWorker([JSON.stringify({ netns: v.nsA, ifname: v.ifA, engine: 'rxonly', mode: 'skb', seconds: 60, warmupMs: 0 })],
      (e, kill) => { if (e.event === 'window' && e.edge === 'start') kill('SIGINT'); });
    expect(r.code).toBe(130);
    const res = JSON.parse(r.stdout.trim()) as { ok: boolean; interrupted: boolean; mode: string };
    expect(res).toMatchObject({ ok: true, interrupted: true, mode: 'skb' });
    expect(attachedMode(v.nsA, v.ifA)).toBe('none');
  });

  it.skipIf(!haveWorker)('worker: a bad interface gives one JSON error line and exit 1', async () => {
    const r = await runWorker([JSON.stringify({ netns: v.nsA, ifname: 'xl-nope0', engine: 'rxonly', seconds: 1 })]);
    expect(r.code).toBe(1);
    const res = JSON.parse(r.stdout.trim()) as { ok: boolean; error: { code: string; message: string } };
    expect(res.ok).toBe(false);
    expect(res.error.message).toMatch(/xl-nope0/);
  });
});
