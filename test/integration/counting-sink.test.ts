// The XDP counting sink (the receiver of NDR searches through a DUT): on a veth end in native
// and skb mode it counts exactly the stamped frames xdplab's generator sent, counts unstamped
// frames apart (ping's, and the generator's own frames when unstamped), drops everything (the
// namespace's stack sees none of it), and goes with detach or with the lab.
import { existsSync } from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import { Lab } from '../../benchmarks/lab/lab.js';
import { createPacketTopology, macOf, type PacketTopology } from '../../benchmarks/lab/topology.js';
import { attachedXdp } from '../../benchmarks/lab/xdp-leftovers.js';
import { startWorker } from '../../benchmarks/engines/worker-client.js';
import { STAMP } from '../../benchmarks/contracts/traffic.js';
import { distPath } from '../../benchmarks/paths.js';
import { XdpStampCounter, withNetns } from '../../native/index.js';
import { suite } from '../helpers/requirements.js';

const haveWorker = existsSync(distPath('benchmarks', 'engines', 'worker.js'));
const MAGIC = { offset: STAMP.offset + STAMP.magicOffset, magic: STAMP.magic };

suite('XDP counting sink', { root: true, tools: ['ip', 'ping', 'sysctl'] }, () => {
  let lab: Lab | undefined;
  afterEach(() => { lab?.close(); lab = undefined; });

  function build(): { l: Lab; t: PacketTopology } {
    const l = new Lab('test');
    lab = l;
    const t = createPacketTopology(l, { queues: 1 });
    // No IPv6 chatter: every frame the sink sees is the test's.
    for (const ns of [t.dut.netns, t.peer.netns]) l.exec(ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    return { l, t };
  }

  const send = async (l: Lab, t: PacketTopology, n: number, stamp: boolean) => {
    const w = startWorker(l, {
      netns: t.peer.netns, ifname: t.peer.ifname, engine: 'txonly', mode: 'skb', seconds: 2, warmupMs: 0, sampleMs: 0, maxPackets: n, flows: 4,
      ...(stamp ? { stamp: true } : {}), srcMac: macOf(l, t.peer), dstMac: macOf(l, t.dut),
    });
    const r = await w.done;
    if (!r.ok) throw new Error(r.error.message);
    return r.tx;
  };

  for (const mode of ['native', 'skb'] as const) it.skipIf(!haveWorker)(`${mode} mode: every stamped frame counted, the others apart, all dropped`, async () => {
    const { l, t } = build();
    l.recordXdp(t.dut.netns, t.dut.ifname);
    const sink = withNetns(t.dut.netns, () => XdpStampCounter.attachTo(t.dut.ifname, mode, MAGIC));
    expect(attachedXdp(t.dut.netns, t.dut.ifname)).toMatchObject([{ mode, name: 'xdplab_count' }]);
    const stamped = await send(l, t, 50_000, true);
    const plain = await send(l, t, 3_000, false);
    l.exec(t.dut.netns, 'ip', ['addr', 'add', '10.77.0.1/24', 'dev', t.dut.ifname]);
    l.exec(t.peer.netns, 'ip', ['addr', 'add', '10.77.0.2/24', 'dev', t.peer.ifname]);
    // ping's ARP requests reach the sink, which drops them: no reply, so no echo request either.
    expect(() => l.exec(t.peer.netns, 'ping', ['-c', '3', '-i', '0.2', '-W', '1', '10.77.0.1'])).toThrow();
    await new Promise((r) => setTimeout(r, 100));
    const c = sink.counts();
    expect(stamped).toBe(50_000);
    expect(c.stamped).toBe(stamped);
    expect(c.other).toBeGreaterThanOrEqual(plain + 1);
    expect(c.other).toBeLessThan(plain + 20);
    sink.detach();
    expect(attachedXdp(t.dut.netns, t.dut.ifname)).toEqual([]);
    // The counts read at detach stay readable.
    expect(sink.counts()).toEqual(c);
  }, 60_000);
});
