// Bad options and missing privileges against the real kernel: each a LabError naming the field
// (or the missing privilege) and what to do, and nothing left attached.
import { openSync, closeSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { AfXdpPort, queryXdp, withNetns } from '../../native/index.js';
import { resolveIfindex } from '../../native/afxdp/port.js';
import { itNeeds, suite } from '../helpers/requirements.js';
import { nodeInNetns, UNPRIVILEGED, type Child } from '../helpers/processes.js';
import { checkoutFor } from '../helpers/readable-checkout.js';
import { createVethLab, type VethLab } from '../helpers/veth-lab.js';

suite('AfXdpPort bad input and privileges', { root: true, tools: ['ip', 'ethtool', 'setpriv', 'prlimit'] }, () => {
  let v: VethLab;
  const children: Child[] = [];
  beforeAll(() => { v = createVethLab(); });
  afterAll(() => {
    for (const c of children) c.kill();
    v?.lab.close();
  });
  /** Runs open-port.mjs (a fixture name or path) in v.nsA through `wrap`; its JSON line once it has exited. */
  const openPortAs = async (wrap: string[], script: string, ...args: unknown[]) => {
    const c = nodeInNetns(v.nsA, script, args.map((a) => JSON.stringify(a)), wrap);
    children.push(c);
    const line = await c.next((l) => l.startsWith('{'));
    expect(await c.closed, `open-port.mjs exit code; stdout: ${c.lines.join(' | ')}`).toBe(0);
    return JSON.parse(line);
  };
  /** Where uid 65534 finds the fixture (a copy if it cannot read this checkout). */
  const unprivileged = checkoutFor(UNPRIVILEGED);

  const openErr = (options: Record<string, unknown>, tuning?: Record<string, unknown>): LabError => {
    try {
      withNetns(v.nsA, () => AfXdpPort.open(options, tuning)).close();
    } catch (e) {
      if (e instanceof LabError) return e;
      throw e;
    }
    throw new Error(`expected ${JSON.stringify(options)} to fail`);
  };
  const nothingAttached = () => expect(withNetns(v.nsA, () => queryXdp(resolveIfindex(v.ifA))).mode).toBe('none');

  it('unknown ifname', () => {
    const e = openErr({ ifname: 'xl-nope0' });
    expect(e).toMatchObject({ field: 'ifname', code: 'ENODEV' });
    expect(e.message).toMatch(/failed to get ifindex for 'xl-nope0'/);
  });

  it('start-queue past the device channels (veth: 1 channel in use)', () => {
    const e = openErr({ ifname: v.ifA, 'start-queue': 1 });
    expect(e.field).toBe('start-queue');
    expect(e.message).toMatch(/has 1 queue \(0\.\.0\)/);
    expect(e.hint).toMatch(/ethtool -L/);
    nothingAttached();
  });

  it('more queues than channels', () => {
    expect(openErr({ ifname: v.ifA, queues: 2 }).field).toBe('queues');
    nothingAttached();
  });

  it('queues 0 and negative', () => {
    expect(openErr({ ifname: v.ifA, queues: 0 }).message).toMatch(/invalid number of queues \(0\)/);
    expect(openErr({ ifname: v.ifA, queues: -1 }).field).toBe('queues');
  });

  it('inhibit without sock-fds, and the reverse', () => {
    expect(openErr({ ifname: v.ifA, inhibit: true }).field).toBe('sock-fds');
    expect(openErr({ ifname: v.ifA, 'sock-fds': '5' }).field).toBe('inhibit');
  });

  it('sock-fds count different from queues, and non-numeric fds', () => {
    expect(openErr({ ifname: v.ifA, inhibit: true, 'sock-fds': '5:6' }).message).toMatch(/expected 1 socket fds \(one per queue\), got 2/);
    expect(openErr({ ifname: v.ifA, inhibit: true, 'sock-fds': 'x' }).field).toBe('sock-fds');
  });

  it('sock-fds naming a descriptor that is not an AF_XDP socket', () => {
    const fd = openSync('/dev/null', 'r');
    try {
      const e = openErr({ ifname: v.ifA, inhibit: true, 'sock-fds': String(fd) });
      expect(e.field).toBe('sock-fds');
      expect(e.message).toMatch(/not an open socket \(ENOTSOCK\)/);
    } finally {
      closeSync(fd);
    }
    expect(openErr({ ifname: v.ifA, inhibit: true, 'sock-fds': '999' }).message).toMatch(/EBADF/);
  });

  it('inhibit=on when no XSK program is attached', async () => {
    const { libc } = await import('../../native/sys/libc.js');
    const fd = libc().socket(44, 3, 0) as number;
    const e = openErr({ ifname: v.ifA, inhibit: true, 'sock-fds': String(fd) }, { frameCount: 256, ringSize: 128 });
    expect(e.field).toBe('inhibit');
    expect(e.message).toMatch(/no XDP program loaded on/);
  });

  itNeeds('no permission: an unprivileged user gets EPERM with what to grant', { asUser: UNPRIVILEGED }, async () => {
    const out = await openPortAs(UNPRIVILEGED, unprivileged.fixture('open-port.mjs'), { ifname: v.ifA });
    expect(out.ok).toBe(false);
    expect(out.error.code).toBe('EPERM');
    expect(out.error.hint).toMatch(/CAP_NET_ADMIN/);
    nothingAttached();
  });

  it('UMEM larger than RLIMIT_MEMLOCK allows (root without CAP_IPC_LOCK, 8 MiB limit, 16 MiB UMEM)', async () => {
    const wrap = ['prlimit', '--memlock=8388608:8388608', 'setpriv', '--inh-caps=-ipc_lock', '--bounding-set=-ipc_lock'];
    const out = await openPortAs(wrap, 'open-port.mjs', { ifname: v.ifA }, { frameCount: 4096 });
    expect(out.ok).toBe(false);
    expect(out.error.field).toBe('frameCount');
    expect(out.error.message).toMatch(/16 MiB UMEM/);
    expect(out.error.hint).toMatch(/RLIMIT_MEMLOCK/);
    nothingAttached();
    // The same limit holds a UMEM that fits.
    expect(await openPortAs(wrap, 'open-port.mjs', { ifname: v.ifA }, { frameCount: 1024 })).toMatchObject({ ok: true, mode: 'native' });
    nothingAttached();
  });
});
