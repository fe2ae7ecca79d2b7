// xdplab vhost serve against bad input and faults: one real back end (the CLI, its AF_XDP port on
// a veth end) and a FAKE front end (test/helpers/vhost-front-end.ts) for the messages and ring
// contents QEMU never sends. Each fault is refused with a `refused` event naming the request and
// the field, the connection is dropped (the fake sees EOF), and the back end serves the next
// connection. A good frame through the fake reaches the veth peer (the fake is right); 100
// connect / set-mem-table / disconnect cycles leave no fd and no mapping behind; SIGTERM stops it
// cleanly (exit 0, socket removed, no XDP program left).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeFd } from '../../native/sys/libc.js';
import { FLAG_VERSION } from '../../native/vhost/protocol.js';
import { suite } from '../helpers/requirements.js';
import {
  BUFFERS, eventFd, FakeFrontEnd, MEM_BYTES, Memfd, memTable, negotiate, publish, Req, ringLayout, setDesc, signalEventFd, startRing,
  u64, usedIdx, USER_BASE, vringAddr, vringState, GUEST_BASE,
} from '../helpers/vhost-front-end.js';
import { createVethLab, type VethLab } from '../helpers/veth-lab.js';

const ROOT = join(import.meta.dirname, '..', '..');
const VIRTQ_DESC_F_NEXT = 1;

interface Served { proc: ChildProcess; events: Array<Record<string, unknown>>; exited: Promise<number | null>; count(kind: string): number; waitFor(kind: string, n?: number, ms?: number): Promise<Record<string, unknown>> }

function serve(args: string[]): Served {
  const proc = spawn(process.execPath, [join(ROOT, 'bin/xdplab.js'), 'vhost', 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const events: Array<Record<string, unknown>> = [];
  let buf = '';
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) { const line = buf.slice(0, i); buf = buf.slice(i + 1); try { events.push(JSON.parse(line) as Record<string, unknown>); } catch { /* not ours */ } }
  });
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const count = (kind: string) => events.filter((e) => e.kind === kind).length;
  const waitFor = async (kind: string, n = 1, ms = 15_000) => {
    const until = Date.now() + ms;
    for (;;) {
      const hits = events.filter((e) => e.kind === kind);
      if (hits.length >= n) return hits[n - 1]!;
      if (proc.exitCode !== null || Date.now() > until) throw new Error(`xdplab vhost serve: no '${kind}' event (#${n}); last events ${JSON.stringify(events.slice(-8))}; stderr ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { proc, events, exited, count, waitFor };
}

suite('xdplab vhost serve: bad input and faults from a fake front end', { root: true, tools: ['ip'] }, () => {
  let veth: VethLab | undefined;
  let dir: string | undefined;
  let backend: Served | undefined;
  const sock = () => join(dir!, 'vh.sock');
  const b = () => backend!;

  beforeAll(async () => {
    veth = createVethLab();
    // No IPv6 (router solicitations, DAD) on the pair: the peer's rx_packets counts our frame only.
    for (const [ns, ifname] of [[veth.nsA, veth.ifA], [veth.nsB, veth.ifB]] as const) {
      veth.lab.exec(ns, 'sysctl', ['-qw', `net.ipv6.conf.${ifname}.disable_ipv6=1`]);
      veth.lab.ip(ns, ['link', 'set', ifname, 'up']);
    }
    dir = mkdtempSync(join(tmpdir(), 'xl-vhf-'));
    backend = serve(['--socket', sock(), '--ifname', veth.ifA, '--netns', veth.nsA]);
    await b().waitFor('port');
    await b().waitFor('listening');
  }, 60_000);

  afterAll(async () => {
    try {
      if (backend && backend.proc.exitCode === null) { backend.proc.kill('SIGTERM'); await Promise.race([backend.exited, new Promise((r) => setTimeout(r, 5000))]); }
      if (backend && backend.proc.exitCode === null) backend.proc.kill('SIGKILL');
    } finally {
      veth?.lab.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  /** The next connection is served: GET_FEATURES answered (VERSION_1 offered). */
  async function servesNext(): Promise<void> {
    const d = b().count('disconnected');
    const fe = await FakeFrontEnd.connect(sock());
    try { expect(fe.getFeatures() & (1n << 32n)).not.toBe(0n); } finally { fe.close(); }
    await b().waitFor('disconnected', d + 1);
  }

  /** Runs `act` on a fresh connection and its memfd; expects the refusal, the EOF, and the next connection served. */
  async function refused(request: string, field: string, act: (fe: FakeFrontEnd, mem: Memfd) => void): Promise<Record<string, unknown>> {
    const r = b().count('refused');
    const d = b().count('disconnected');
    const fe = await FakeFrontEnd.connect(sock());
    const mem = new Memfd(MEM_BYTES);
    try {
      act(fe, mem);
      expect(fe.waitEof(5000), 'the back end hangs up').toBe(true);
    } finally {
      fe.close();
      mem.close();
    }
    const e = await b().waitFor('refused', r + 1);
    expect(e).toMatchObject({ request, field });
    expect(String(e.message)).toContain(request);
    expect(String(e.message)).toContain(field);
    await b().waitFor('disconnected', d + 1);
    await servesNext();
    return e;
  }

  describe('refused, dropped, and the next connection served', () => {
    it('a header with a bad version', async () => {
      await refused('GET_FEATURES', 'flags', (fe) => fe.send(Req.GET_FEATURES, Buffer.alloc(0), [], 2));
    });

    it('a payload size over the limit', async () => {
      await refused('SET_MEM_TABLE', 'size', (fe) => {
        const h = Buffer.alloc(12);
        h.writeUInt32LE(Req.SET_MEM_TABLE, 0); h.writeUInt32LE(FLAG_VERSION, 4); h.writeUInt32LE(5000, 8);
        fe.sendRaw(h);
      });
    });

    it('SET_MEM_TABLE with an mmap_offset past the end of its memfd', async () => {
      const e = await refused('SET_MEM_TABLE', 'regions[0].mmap_offset', (fe, mem) => {
        fe.getFeatures();
        fe.send(Req.SET_MEM_TABLE, memTable([{ guestAddr: GUEST_BASE, size: MEM_BYTES, userAddr: USER_BASE, mmapOffset: 4096 }]), [mem.fd]);
      });
      expect(String(e.message)).toContain('past the end');
    });

    it('SET_MEM_TABLE with 0 regions', async () => {
      await refused('SET_MEM_TABLE', 'nregions', (fe, mem) => fe.send(Req.SET_MEM_TABLE, memTable([], 0), [mem.fd]));
    });

    it('SET_MEM_TABLE with fds not matching its regions', async () => {
      await refused('SET_MEM_TABLE', 'fds', (fe, mem) => {
        fe.send(Req.SET_MEM_TABLE, memTable([{ guestAddr: GUEST_BASE, size: MEM_BYTES, userAddr: USER_BASE, mmapOffset: 0 }]), [mem.fd, mem.fd]);
      });
    });

    it('SET_VRING_NUM not a power of two (100)', async () => {
      await refused('SET_VRING_NUM', 'num', (fe) => fe.send(Req.SET_VRING_NUM, vringState(1, 100)));
    });

    it('SET_VRING_KICK before SET_VRING_ADDR', async () => {
      const kick = eventFd();
      try {
        const e = await refused('SET_VRING_KICK', 'index', (fe, mem) => {
          negotiate(fe, mem);
          fe.send(Req.SET_VRING_NUM, vringState(1, 256));
          fe.send(Req.SET_VRING_KICK, u64(1n), [kick]);
        });
        expect(String(e.message)).toContain('SET_VRING_ADDR');
      } finally { closeFd(kick); }
    });

    it('SET_VRING_ADDR outside the memory table', async () => {
      await refused('SET_VRING_ADDR', 'desc', (fe, mem) => {
        negotiate(fe, mem);
        fe.send(Req.SET_VRING_NUM, vringState(1, 256));
        const l = ringLayout(1);
        fe.send(Req.SET_VRING_ADDR, vringAddr(1, { desc: USER_BASE + MEM_BYTES, used: USER_BASE + l.used, avail: USER_BASE + l.avail }));
      });
    });

    it('a running tx ring with a descriptor outside guest memory', async () => {
      await refused('virtqueue 1', 'desc[0].addr', (fe, mem) => {
        setDesc(mem, 1, 0, { addr: MEM_BYTES + 0x1000, len: 64, flags: 0, next: 0 });
        negotiate(fe, mem);
        const { kick, call } = startRing(fe, 1);
        publish(mem, 1, 0);
        signalEventFd(kick);
        closeFd(kick); closeFd(call);
      });
    });

    it('a running tx ring whose chain loops', async () => {
      const e = await refused('virtqueue 1', 'desc[0].next', (fe, mem) => {
        setDesc(mem, 1, 0, { addr: BUFFERS, len: 64, flags: VIRTQ_DESC_F_NEXT, next: 1 });
        setDesc(mem, 1, 1, { addr: BUFFERS + 2048, len: 64, flags: VIRTQ_DESC_F_NEXT, next: 0 });
        negotiate(fe, mem);
        const { kick, call } = startRing(fe, 1);
        publish(mem, 1, 0);
        signalEventFd(kick);
        closeFd(kick); closeFd(call);
      });
      expect(String(e.message)).toContain('loops');
    });
  });

  it('a good frame through the fake reaches the veth peer', async () => {
    const rxPackets = () => Number(veth!.lab.exec(veth!.nsB, 'cat', [`/sys/class/net/${veth!.ifB}/statistics/rx_packets`]).trim());
    const d = b().count('disconnected');
    const before = rxPackets();
    const fe = await FakeFrontEnd.connect(sock());
    const mem = new Memfd(MEM_BYTES);
    try {
      // 12 zero bytes of virtio-net header, then a broadcast frame with a local experimental ethertype.
      const frame = Buffer.alloc(64);
      frame.fill(0xff, 0, 6);
      Buffer.from([0x02, 0, 0, 0, 0, 0x01]).copy(frame, 6);
      frame.writeUInt16BE(0x88b5, 12);
      frame.write('xdplab vhost fake front end', 14);
      mem.bytes.fill(0, BUFFERS, BUFFERS + 12);
      mem.bytes.set(frame, BUFFERS + 12);
      setDesc(mem, 1, 0, { addr: BUFFERS, len: 12 + frame.length, flags: 0, next: 0 });
      negotiate(fe, mem);
      const { kick, call } = startRing(fe, 1);
      try {
        publish(mem, 1, 0);
        signalEventFd(kick);
        const until = Date.now() + 5000;
        while (usedIdx(mem, 1) !== 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
        expect(usedIdx(mem, 1), 'the back end returned the chain').toBe(1);
        // Still connected: the frame was not refused.
        expect(fe.getFeatures()).not.toBe(0n);
      } finally { closeFd(kick); closeFd(call); }
    } finally {
      fe.close();
      mem.close();
    }
    const e = await b().waitFor('disconnected', d + 1);
    expect(e.counters).toMatchObject({ txFrames: 1, txBytes: 64, txDropped: 0 });
    const until = Date.now() + 3000;
    while (rxPackets() === before && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(rxPackets() - before).toBe(1);
  });

  it('100 connect / set-mem-table / disconnect cycles leave no fd and no mapping behind', async () => {
    const pid = b().proc.pid!;
    const fds = () => readdirSync(`/proc/${pid}/fd`).length;
    const mappings = () => readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((l) => l.includes('memfd:xl-fake-guest')).length;
    const cycle = async (i: number, during?: () => void) => {
      const d = b().count('disconnected');
      const fe = await FakeFrontEnd.connect(sock());
      const mem = new Memfd(MEM_BYTES);
      try {
        negotiate(fe, mem);
        const { kick, call } = startRing(fe, 1);
        closeFd(kick); closeFd(call);
        fe.getFeatures(); // every message before it was handled
        during?.();
      } finally {
        fe.close();
        mem.close();
      }
      await b().waitFor('disconnected', d + 1);
      void i;
    };
    await cycle(-1); // warm-up: whatever the first connection allocates for good
    const baseFds = fds();
    const baseMaps = mappings();
    expect(baseMaps).toBe(0);
    await cycle(0, () => {
      // The measure sees a live connection's memory and fds.
      expect(mappings()).toBe(1);
      expect(fds()).toBeGreaterThanOrEqual(baseFds + 3); // the socket, kick, call
    });
    for (let i = 1; i < 100; i++) await cycle(i);
    expect(b().count('disconnected')).toBeGreaterThanOrEqual(100);
    expect(mappings()).toBe(baseMaps);
    expect(fds()).toBe(baseFds);
    await servesNext();
  }, 120_000);

  it('SIGTERM stops it: exit code 0, the socket removed, no XDP program left', async () => {
    expect(existsSync(sock())).toBe(true);
    // While it runs the port's program is there (so the check below can fail).
    expect(veth!.lab.ip(veth!.nsA, ['link', 'show', veth!.ifA])).toMatch(/xdp/);
    b().proc.kill('SIGTERM');
    const code = await b().exited;
    expect(code).toBe(0);
    expect(b().events.some((e) => e.kind === 'stopped')).toBe(true);
    expect(existsSync(sock())).toBe(false);
    const link = veth!.lab.ip(veth!.nsA, ['link', 'show', veth!.ifA]);
    expect(link).not.toMatch(/xdp|prog\//);
  });
});
