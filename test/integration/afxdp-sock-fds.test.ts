// inhibit=on + sock-fds: a separate process attaches the XSK program and creates the sockets,
// passes them over a unix socket, and the port that receives them loads nothing.
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AfXdpPort, FdReceiver, queryXdp, withNetns } from '../../native/index.js';
import { resolveIfindex } from '../../native/afxdp/port.js';
import { suite } from '../helpers/requirements.js';
import { deliver, send } from '../helpers/traffic.js';
import { nodeInNetns, start, fixture, UNPRIVILEGED, type Child } from '../helpers/processes.js';
import { createVethLab, type VethLab } from '../helpers/veth-lab.js';

suite('inhibit=on with sock-fds from another process', { root: true, tools: ['ip', 'ethtool', 'setpriv'] }, () => {
  let v: VethLab;
  let dir: string;
  const children: Child[] = [];
  beforeAll(() => {
    v = createVethLab({ channels: 2 });
    dir = mkdtempSync(join(tmpdir(), 'xdplab-fds-'));
    chmodSync(dir, 0o777);
  });
  afterAll(() => {
    for (const c of children) c.kill();
    v?.lab.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const progOn = () => withNetns(v.nsB, () => queryXdp(resolveIfindex(v.ifB)));

  it('sockets passed over SCM_RIGHTS carry traffic; the port loads and detaches nothing', async () => {
    const path = join(dir, 'in.sock');
    const receiver = new FdReceiver(path);
    let port: AfXdpPort | undefined;
    let sender: AfXdpPort | undefined;
    const provider = start(process.execPath, [fixture('provide-sockets.mjs'), v.nsB, v.ifB, '2', path, 'native']);
    children.push(provider);
    try {
      const { fds, payload } = receiver.receive(15000);
      expect(fds.length).toBe(2);
      expect(payload).toMatchObject({ mode: 'native', queues: 2 });
      const progId = progOn().drvProgId;
      expect(progId).toBeGreaterThan(0);
      port = withNetns(v.nsB, () => AfXdpPort.open({ ifname: v.ifB, inhibit: true, 'sock-fds': fds.join(':'), queues: 2 }));
      expect(port.mode).toBe('native');
      sender = withNetns(v.nsA, () => AfXdpPort.open({ ifname: v.ifA, mode: 'native', queues: 2 }));
      const d0 = deliver(sender, port, 400, 8, 0);
      const d1 = deliver(sender, port, 400, 9, 1);
      expect([d0.received.length, d1.received.length, d0.corrupt + d1.corrupt]).toEqual([400, 400, 0]);
      expect([d0.perQueue, d1.perQueue]).toEqual([[400, 0], [0, 400]]);
      port.close();
      port = undefined;
      // The provider attached the program; the inhibited port must leave it in place.
      expect(progOn().drvProgId).toBe(progId);
    } finally {
      port?.close();
      sender?.close();
      receiver.close();
      provider.proc.stdin!.end();
      await new Promise((r) => provider.proc.once('exit', r));
    }
    // Once the provider has closed, its program is gone.
    expect(progOn().mode).toBe('none');
  });

  it('an unprivileged process (uid 65534, no capabilities) receives the sockets and gets every frame', async () => {
    const path = join(dir, 'unpriv.sock');
    const consumer = nodeInNetns(v.nsB, 'consume-sockets.mjs', [v.ifB, path, '300', '10'], UNPRIVILEGED);
    children.push(consumer);
    await consumer.next((l) => l === 'listening' || l.startsWith('{'));
    const provider = start(process.execPath, [fixture('provide-sockets.mjs'), v.nsB, v.ifB, '1', path, 'skb']);
    children.push(provider);
    let sender: AfXdpPort | undefined;
    try {
      const ready = await consumer.next((l) => l === 'ready' || l.startsWith('{'));
      expect(ready).toBe('ready');
      sender = withNetns(v.nsA, () => AfXdpPort.open({ ifname: v.ifA, mode: 'skb' }));
      expect(send(sender, 300, 10)).toBe(300);
      const out = JSON.parse(await consumer.next((l) => l.startsWith('{')));
      expect(out).toMatchObject({ ok: true, uid: 65534, got: 300, mode: 'skb', providerMode: 'skb' });
    } finally {
      sender?.close();
      provider.proc.stdin!.end();
      await new Promise((r) => provider.proc.once('exit', r));
      consumer.kill();
    }
  });
});
