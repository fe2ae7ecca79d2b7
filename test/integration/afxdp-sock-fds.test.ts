// inhibit=on + sock-fds: a separate process attaches the XSK program and creates the sockets,
// passes them over a unix socket, and the port that receives them loads nothing.
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AfXdpPort, FdReceiver, queryXdp, withNetns } from '../../native/index.js';
import { resolveIfindex } from '../../native/afxdp/port.js';
import { itNeeds, suite } from '../helpers/requirements.js';
import { deliver, send } from '../helpers/traffic.js';
import { nodeInNetns, start, fixture, UNPRIVILEGED, type Child } from '../helpers/processes.js';
import { checkoutFor } from '../helpers/readable-checkout.js';
import { createVethLab, type VethLab } from '../helpers/veth-lab.js';

suite('inhibit=on with sock-fds from another process', { root: true, tools: ['ip', 'ethtool', 'setpriv'] }, () => {
  let v: VethLab;
  let dir: string;
  const children: Child[] = [];
  /** Where uid 65534 finds the consumer fixture (a copy if it cannot read this checkout). */
  const unprivileged = checkoutFor(UNPRIVILEGED);
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
      const { fds, payload } = receiver.receive(30000);
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
      await provider.closed;
    }
    // Once the provider has closed, its program is gone.
    expect(progOn().mode).toBe('none');
  });

  itNeeds('an unprivileged process (uid 65534, no capabilities) receives the sockets and gets every frame', { asUser: UNPRIVILEGED }, async () => {
    const path = join(dir, 'unpriv.sock');
    // The consumer gives up 20 s after it is ready: its result then says how many frames came.
    const FRAMES = 300, TAG = 10, CONSUMER_TIMEOUT_MS = 20000;
    // Sent in windows smaller than the consumer's rings (256), each once the consumer has the
    // previous ones, so that a consumer waiting for a CPU drops nothing.
    const WINDOW = 100;
    const consumer = nodeInNetns(v.nsB, unprivileged.fixture('consume-sockets.mjs'), [v.ifB, path, String(FRAMES), String(TAG), String(CONSUMER_TIMEOUT_MS)], UNPRIVILEGED);
    children.push(consumer);
    await consumer.next((l) => l === 'listening' || l.startsWith('{'));
    const provider = start(process.execPath, [fixture('provide-sockets.mjs'), v.nsB, v.ifB, '1', path, 'skb']);
    children.push(provider);
    let sender: AfXdpPort | undefined;
    try {
      const ready = await consumer.next((l) => l === 'ready' || l.startsWith('{'));
      expect(ready).toBe('ready');
      sender = withNetns(v.nsA, () => AfXdpPort.open({ ifname: v.ifA, mode: 'skb' }));
      const got = (l: string) => (l.startsWith('got ') ? Number(l.slice(4)) : -1);
      for (let first = 0; first < FRAMES; first += WINDOW) {
        expect(send(sender, WINDOW, TAG, { first })).toBe(WINDOW);
        // The consumer's count reaching this window, or its result (it gave up: frames were lost).
        const line = await consumer.next((l) => got(l) >= first + WINDOW || l.startsWith('{'), CONSUMER_TIMEOUT_MS + 10000);
        if (line.startsWith('{')) break;
      }
      const out = JSON.parse(await consumer.next((l) => l.startsWith('{'), CONSUMER_TIMEOUT_MS + 10000));
      expect(out).toMatchObject({ ok: true, uid: 65534, got: FRAMES, mode: 'skb', providerMode: 'skb' });
    } finally {
      sender?.close();
      provider.proc.stdin!.end();
      await provider.closed;
      consumer.kill();
    }
  });
});
