// The QMP client against a real QEMU (-M none, QMP only): greeting, query-version, netdev_add
// and netdev_del, QEMU's error classes, events, timeouts (QEMU stopped with SIGSTOP), and a
// QEMU killed while a command is pending. Every QEMU and socket file is removed afterwards.
import { existsSync, readdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { QmpClient, QmpError, type QmpEvent } from '../../benchmarks/qemu/qmp.js';
import { run as qmpCli } from '../../benchmarks/cli/commands/qmp.js';
import { suite } from '../helpers/requirements.js';
import { QEMU_BIN, childProcesses, cleanupQemuResources, startControlQemu } from '../helpers/qemu.js';

async function rejection(p: Promise<unknown>): Promise<LabError> {
  try { await p; } catch (e) { if (e instanceof LabError) return e; throw e; }
  throw new Error('expected a rejection');
}

suite('QMP client against real QEMU', { tools: [QEMU_BIN] }, () => {
  afterAll(async () => {
    await cleanupQemuResources();
    expect(childProcesses().filter((c) => c.startsWith('qemu'))).toEqual([]);
  });

  it('greeting and query-version', async () => {
    const q = startControlQemu();
    const c = await q.connect();
    const v = c.greeting.QMP.version;
    expect(v.qemu.major).toBeGreaterThanOrEqual(8);
    expect(Array.isArray(c.greeting.QMP.capabilities)).toBe(true);
    expect(await c.execute('query-version')).toEqual(v);
    expect(await c.execute('query-status')).toMatchObject({ running: true });
    await c.close();
    await q.kill();
  });

  it('netdev_add then netdev_del of a user netdev; deleting it again is DeviceNotFound', async () => {
    const q = startControlQemu();
    const c = await q.connect();
    expect(await c.execute('netdev_add', { type: 'user', id: 'n1', hostfwd: [{ str: 'tcp:127.0.0.1:0-:22' }] })).toEqual({});
    const dup = await rejection(c.execute('netdev_add', { type: 'user', id: 'n1' }));
    expect(dup).toBeInstanceOf(QmpError);
    expect(dup).toMatchObject({ code: 'QMP_GenericError', desc: "Duplicate ID 'n1'" });
    expect(await c.execute('netdev_del', { id: 'n1' })).toEqual({});
    const gone = await rejection(c.execute('netdev_del', { id: 'n1' }));
    expect(gone).toMatchObject({ code: 'QMP_DeviceNotFound', errorClass: 'DeviceNotFound', desc: "Device 'n1' not found" });
    expect((await rejection(c.execute('no-such-command'))).code).toBe('QMP_CommandNotFound');
    await c.close();
    await q.kill();
  });

  it('concurrent commands get their own answers', async () => {
    const q = startControlQemu();
    const c = await q.connect();
    const [version, status, added] = await Promise.all([
      c.execute('query-version'), c.execute('query-status'), c.execute('netdev_add', { type: 'hubport', id: 'h0', hubid: 0 }),
    ]);
    expect(version.qemu.major).toBeGreaterThanOrEqual(8);
    expect(status.status).toBe('running');
    expect(added).toEqual({});
    await q.kill();
  });

  it('events: STOP and RESUME; NETDEV_STREAM_CONNECTED and DISCONNECTED on a stream netdev', async () => {
    const q = startControlQemu();
    const c = await q.connect();
    const events = c.events((e) => ['STOP', 'RESUME'].includes(e.event));
    await c.execute('stop');
    await c.execute('cont');
    expect((await events.next()).value?.event).toBe('STOP');
    expect((await events.next()).value?.event).toBe('RESUME');
    await events.return!();

    const path = join(q.dir, 'stream.sock');
    await c.execute('netdev_add', { type: 'stream', id: 's0', server: true, addr: { type: 'unix', path } });
    // QEMU listens asynchronously: the socket file appears a little after netdev_add returns.
    for (let i = 0; i < 200 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 25));
    const connected = c.waitForEvent('NETDEV_STREAM_CONNECTED', { timeoutMs: 10_000 });
    const peer = createConnection(path);
    peer.on('error', () => { /* reported through the missing event */ });
    const e: QmpEvent = await connected;
    expect(e.data).toMatchObject({ 'netdev-id': 's0', addr: { type: 'unix', path } });
    const disconnected = c.waitForEvent('NETDEV_STREAM_DISCONNECTED', { timeoutMs: 10_000 });
    peer.destroy();
    expect((await disconnected).data).toEqual({ 'netdev-id': 's0' });
    await c.execute('netdev_del', { id: 's0' });
    await q.kill();
  });

  it('a command QEMU cannot answer in time: QMP_TIMEOUT, and the connection still works', async () => {
    const q = startControlQemu();
    const c = await q.connect();
    process.kill(q.proc.pid!, 'SIGSTOP');
    try {
      const e = await rejection(c.execute('query-status', undefined, { timeoutMs: 200 }));
      expect(e.code).toBe('QMP_TIMEOUT');
      expect(e.message).toMatch(/query-status: QEMU did not answer/);
    } finally {
      process.kill(q.proc.pid!, 'SIGCONT');
    }
    // the late answer to query-status is dropped; the next command gets its own
    expect(await c.execute('query-version')).toEqual(c.greeting.QMP.version);
    await q.kill();
  });

  it('QEMU killed while a command is pending: the promise rejects with QMP_CLOSED', async () => {
    const q = startControlQemu();
    const c = await q.connect();
    process.kill(q.proc.pid!, 'SIGSTOP'); // the command stays pending
    const pending = rejection(c.execute('query-version'));
    const events = c.events();
    await q.kill();
    const e = await pending;
    expect(e.code).toBe('QMP_CLOSED');
    expect(e.message).toMatch(/^query-version: .*before QEMU answered/);
    expect(await events.next()).toEqual({ value: undefined, done: true });
    expect(c.closed).toBe(true);
  });

  it('QEMU serves one QMP client: a second one gets no greeting (QMP_TIMEOUT); quit closes the first', async () => {
    const q = startControlQemu();
    const c = await q.connect();
    const e = await rejection(QmpClient.connect(q.socket, { timeoutMs: 300 }));
    expect(e.code).toBe('QMP_TIMEOUT');
    const shutdown = c.waitForEvent('SHUTDOWN', { timeoutMs: 10_000 });
    await c.execute('quit');
    expect((await shutdown).data).toMatchObject({ reason: 'host-qmp-quit' });
    await c.whenClosed();
    await q.kill();
  });

  it('xdplab qmp: the return as JSON (0), a QMP error (1), bad JSON (2)', async () => {
    const q = startControlQemu();
    await (await q.connect()).close(); // wait until QEMU listens
    const run = async (...args: string[]) => {
      let out = '';
      let err = '';
      const code = await qmpCli(args, { out: (t) => { out += t; }, err: (t) => { err += t; } });
      return { code, out, err };
    };
    const v = await run('--socket', q.socket, 'query-version');
    expect(v.code).toBe(0);
    expect(JSON.parse(v.out).qemu.major).toBeGreaterThanOrEqual(8);
    expect((await run('--socket', q.socket, 'netdev_add', '{"type":"user","id":"n9"}')).code).toBe(0);
    expect((await run('--socket', q.socket, 'netdev_del', '{"id":"n9"}')).code).toBe(0);
    const missing = await run('--socket', q.socket, 'netdev_del', '{"id":"n9"}');
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/netdev_del failed: DeviceNotFound: Device 'n9' not found/);
    expect((await run('--socket', q.socket, 'netdev_del', '{"id":')).code).toBe(2);
    await q.kill();
  });

  it('nothing is left behind', async () => {
    const q = startControlQemu();
    await (await q.connect()).close();
    await q.kill();
    await cleanupQemuResources();
    expect(existsSync(q.dir)).toBe(false);
    expect(childProcesses().filter((c) => c.startsWith('qemu'))).toEqual([]);
    expect(readdirSync('/tmp').filter((f) => f === q.dir.split('/').pop())).toEqual([]);
  });
});
