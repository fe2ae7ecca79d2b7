// Real AF_XDP sockets on a veth pair in namespaces this file creates: every mode QEMU's af-xdp
// backend offers, checked frame by frame.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { AfXdpPort, XskProgram, queryXdp, withNetns } from '../../native/index.js';
import { resolveIfindex } from '../../native/afxdp/port.js';
import { suite } from '../helpers/requirements.js';
import { deliver } from '../helpers/traffic.js';
import { createVethLab, type VethLab } from '../helpers/veth-lab.js';

function open(ns: string, options: Record<string, unknown>, tuning?: Record<string, unknown>): AfXdpPort {
  return withNetns(ns, () => AfXdpPort.open(options, tuning));
}

function attached(ns: string, ifname: string) {
  return withNetns(ns, () => queryXdp(resolveIfindex(ifname)));
}

suite('AfXdpPort on a veth pair', { root: true, tools: ['ip', 'ethtool'] }, () => {
  let v: VethLab;
  beforeAll(() => { v = createVethLab(); });
  afterAll(() => v?.lab.close());

  for (const mode of ['native', 'skb'] as const) {
    for (const forceCopy of [false, true]) {
      it(`${mode} mode${forceCopy ? ', force-copy' : ''}: every frame arrives with the same bytes, statistics agree`, () => {
        const a = open(v.nsA, { ifname: v.ifA, mode, 'force-copy': forceCopy });
        const b = open(v.nsB, { ifname: v.ifB, mode, 'force-copy': forceCopy });
        try {
          expect(a.mode).toBe(mode);
          expect(attached(v.nsA, v.ifA).mode).toBe(mode);
          // veth has no zero-copy support: the kernel must report copy mode either way.
          expect(a.zeroCopy).toBe(false);
          const d = deliver(a, b, 2000, 1);
          expect(d.corrupt).toBe(0);
          expect(d.sent).toBe(2000);
          expect(d.received.length).toBe(2000);
          const sa = a.stats();
          const sb = b.stats();
          expect(sa.txPackets).toBe(2000);
          expect(sa.txInvalidDescs).toBe(0);
          expect(sb.rxPackets).toBeGreaterThanOrEqual(2000);
          expect(sb.rxDropped).toBe(0);
          expect(sb.rxInvalidDescs).toBe(0);
        } finally {
          a.close();
          b.close();
        }
        // Teardown detaches what the port attached.
        expect(attached(v.nsA, v.ifA).mode).toBe('none');
        expect(attached(v.nsB, v.ifB).mode).toBe('none');
      });
    }
  }

  it('busy polling (SO_PREFER_BUSY_POLL with a budget) still delivers every frame', () => {
    const a = open(v.nsA, { ifname: v.ifA, mode: 'native' }, { busyPollBudget: 64 });
    const b = open(v.nsB, { ifname: v.ifB, mode: 'native' }, { busyPollBudget: 64 });
    try {
      const d = deliver(a, b, 1000, 2);
      expect([d.received.length, d.corrupt]).toEqual([1000, 0]);
    } finally {
      a.close();
      b.close();
    }
  });

  it('no mode: tries native first (veth has it)', () => {
    const a = open(v.nsA, { ifname: v.ifA });
    try { expect(a.mode).toBe('native'); } finally { a.close(); }
  });

  it('no mode on a device without native XDP falls back to skb; mode=native there is refused naming the mode', () => {
    const dummy = v.lab.name('d'); // a bridge device: no native XDP in its driver
    v.lab.ip(v.nsA, ['link', 'add', dummy, 'type', 'bridge']);
    v.lab.ip(v.nsA, ['link', 'set', dummy, 'up']);
    try {
      const p = open(v.nsA, { ifname: dummy });
      try { expect(p.mode).toBe('skb'); } finally { p.close(); }
      let err: unknown;
      try { open(v.nsA, { ifname: dummy, mode: 'native' }).close(); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(LabError);
      expect((err as LabError).field).toBe('mode');
      expect((err as LabError).code).toBe('EOPNOTSUPP');
      expect((err as LabError).hint).toMatch(/skb/);
      expect(attached(v.nsA, dummy).mode).toBe('none');
    } finally {
      v.lab.ip(v.nsA, ['link', 'del', dummy]);
    }
  });

  it('an XSK program attached inside a namespace is detached there, from anywhere', () => {
    const p = withNetns(v.nsB, () => XskProgram.attach(v.ifB, resolveIfindex(v.ifB), 'skb', 0));
    expect(attached(v.nsB, v.ifB).skbProgId).toBe(p.id);
    expect(p.detach()).toBe(true);
    expect(attached(v.nsB, v.ifB).mode).toBe('none');
  });

  it('never detaches a program it did not attach', () => {
    v.lab.ip(v.nsB, ['link', 'set', v.ifB, 'xdpgeneric', 'obj', '/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_alw_all.o', 'sec', 'xdp']);
    try {
      const before = attached(v.nsB, v.ifB).skbProgId;
      expect(before).toBeGreaterThan(0);
      let err: unknown;
      try { open(v.nsB, { ifname: v.ifB }).close(); } catch (e) { err = e; }
      expect((err as LabError).code).toBe('EEXIST');
      expect((err as LabError).field).toBe('ifname');
      expect((err as LabError).message).toMatch(/xdpfilt_alw_all/);
      expect(attached(v.nsB, v.ifB).skbProgId).toBe(before);
    } finally {
      v.lab.ip(v.nsB, ['link', 'set', v.ifB, 'xdpgeneric', 'off']);
    }
  });
});

suite('AfXdpPort with 2 queues (veth with 2 channels)', { root: true, tools: ['ip', 'ethtool'] }, () => {
  let v: VethLab;
  beforeAll(() => { v = createVethLab({ channels: 2 }); });
  afterAll(() => v?.lab.close());

  it('native: frames sent on tx queue i arrive on rx queue i, every one intact', () => {
    const a = open(v.nsA, { ifname: v.ifA, mode: 'native', queues: 2 });
    const b = open(v.nsB, { ifname: v.ifB, mode: 'native', queues: 2 });
    try {
      expect(a.queues.map((q) => q.config.queueId)).toEqual([0, 1]);
      const d0 = deliver(a, b, 500, 3, 0);
      const d1 = deliver(a, b, 500, 4, 1);
      expect([d0.corrupt, d1.corrupt]).toEqual([0, 0]);
      expect(d0.perQueue).toEqual([500, 0]);
      expect(d1.perQueue).toEqual([0, 500]);
      const s = a.stats();
      expect(s.perQueue.map((q) => q.txPackets)).toEqual([500, 500]);
      expect(s.txPackets).toBe(1000);
    } finally {
      a.close();
      b.close();
    }
  });

  it('skb: both tx queues deliver every frame (generic XDP on veth receives on queue 0)', () => {
    const a = open(v.nsA, { ifname: v.ifA, mode: 'skb', queues: 2 });
    const b = open(v.nsB, { ifname: v.ifB, mode: 'skb', queues: 2 });
    try {
      const d0 = deliver(a, b, 500, 5, 0);
      const d1 = deliver(a, b, 500, 6, 1);
      expect(d0.received.length + d1.received.length).toBe(1000);
      expect(d0.corrupt + d1.corrupt).toBe(0);
    } finally {
      a.close();
      b.close();
    }
  });

  it('start-queue=1 with queues=1 binds queue 1 only', () => {
    const a = open(v.nsA, { ifname: v.ifA, mode: 'native', 'start-queue': 1 });
    const b = open(v.nsB, { ifname: v.ifB, mode: 'native', queues: 2 });
    try {
      expect(a.queues.map((q) => q.config.queueId)).toEqual([1]);
      const d = deliver(a, b, 300, 7, 0);
      expect(d.perQueue).toEqual([0, 300]);
    } finally {
      a.close();
      b.close();
    }
  });
});
