// What bench:leaks found, kept as tests: a port's open/close leaves no fd behind (libxdp 1.3.1's
// detach leaked the dispatcher program's fd on every cycle) and no XDP program on the
// interface, and a port reopened at once on the same queue binds (the kernel frees a closed
// socket's queue in deferred work).
import { readdirSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AfXdpPort, queryXdp, withNetns } from '../../native/index.js';
import { resolveIfindex } from '../../native/afxdp/port.js';
import { suite } from '../helpers/requirements.js';
import { createVethLab, type VethLab } from '../helpers/veth-lab.js';

function bpfFds(): number {
  return readdirSync('/proc/self/fd').filter((n) => {
    try { return readlinkSync(`/proc/self/fd/${n}`).includes('bpf'); } catch { return false; }
  }).length;
}

suite('AfXdpPort open/close cycles', { root: true, tools: ['ip'] }, () => {
  let v: VethLab;
  beforeAll(() => { v = createVethLab(); });
  afterAll(() => v?.lab.close());

  it('leave no bpf fd and no XDP program behind, in native and skb mode, reopening at once', () => {
    const ifindex = withNetns(v.nsA, () => resolveIfindex(v.ifA));
    const before = bpfFds();
    for (let i = 0; i < 20; i++) {
      const mode = i % 2 ? 'skb' : 'native';
      const port = withNetns(v.nsA, () => AfXdpPort.open({ ifname: v.ifA, mode }));
      expect(port.mode).toBe(mode);
      port.close();
      expect(withNetns(v.nsA, () => queryXdp(ifindex)).mode).toBe('none');
    }
    expect(bpfFds()).toBe(before);
  });
});
