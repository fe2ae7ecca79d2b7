// The QMP client against a scripted QMP server on a unix socket: framing, ids, errors, events,
// timeouts, and what happens when the socket closes mid-command. (Real QEMU: test/integration.)
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { QmpClient, QmpError, qmpExecute } from '../../benchmarks/qemu/qmp.js';
import { run as qmpCli } from '../../benchmarks/cli/commands/qmp.js';

const GREETING = { QMP: { version: { qemu: { major: 10, minor: 0, micro: 2 }, package: 'fake' }, capabilities: ['oob'] } };
type Handler = (msg: { execute: string; arguments?: Record<string, unknown>; id?: string }, sock: Socket) => void;

const dir = mkdtempSync(join(tmpdir(), 'xl-qmpu-'));
let n = 0;
const servers: Server[] = [];
const clients: QmpClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(() => r(undefined)));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A QMP server: greets (unless told not to), answers qmp_capabilities, hands the rest to `handler`. */
async function fakeQmp(handler: Handler, options: { greet?: boolean } = {}): Promise<{ path: string; sockets: Socket[] }> {
  const path = join(dir, `q${++n}.sock`);
  const sockets: Socket[] = [];
  const server = createServer((sock) => {
    sockets.push(sock);
    sock.on('error', () => { /* client went away */ });
    if (options.greet !== false) sock.write(`${JSON.stringify(GREETING)}\r\n`);
    let buf = '';
    sock.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const msg = JSON.parse(line) as { execute: string; id?: string };
        if (msg.execute === 'qmp_capabilities') sock.write(`${JSON.stringify({ return: {}, id: msg.id })}\r\n`);
        else handler(msg, sock);
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(path, r));
  return { path, sockets };
}

async function connect(path: string, options = {}): Promise<QmpClient> {
  const c = await QmpClient.connect(path, options);
  clients.push(c);
  return c;
}

async function rejection(p: Promise<unknown>): Promise<LabError> {
  try { await p; } catch (e) { if (e instanceof LabError) return e; throw e; }
  throw new Error('expected a rejection');
}

const reply = (sock: Socket, obj: unknown) => sock.write(`${JSON.stringify(obj)}\r\n`);

describe('QmpClient', () => {
  it('reads the greeting, negotiates, and matches answers to commands by id', async () => {
    const seen: string[] = [];
    const pending: { id?: string; execute: string }[] = [];
    const { path } = await fakeQmp((msg, sock) => {
      seen.push(msg.execute);
      pending.push(msg);
      if (pending.length === 2) {
        // answer in reverse order: ids must route them
        for (const m of pending.reverse()) reply(sock, { return: { for: m.execute }, id: m.id });
      }
    });
    const c = await connect(path);
    expect(c.greeting.QMP.version.qemu.major).toBe(10);
    const [a, b] = await Promise.all([c.execute('first'), c.execute('second', { x: 1 })]);
    expect(a).toEqual({ for: 'first' });
    expect(b).toEqual({ for: 'second' });
    expect(seen).toEqual(['first', 'second']);
  });

  it('sends execute, arguments and id', async () => {
    let got: unknown;
    const { path } = await fakeQmp((msg, sock) => { got = msg; reply(sock, { return: {}, id: msg.id }); });
    const c = await connect(path);
    await c.execute('netdev_del', { id: 'n0' });
    expect(got).toMatchObject({ execute: 'netdev_del', arguments: { id: 'n0' }, id: expect.stringMatching(/^xl-\d+$/) });
  });

  it('turns error answers into QmpError with class and desc', async () => {
    const { path } = await fakeQmp((msg, sock) => reply(sock, { error: { class: 'DeviceNotFound', desc: "Device 'nope' not found" }, id: msg.id }));
    const c = await connect(path);
    const e = await rejection(c.execute('netdev_del', { id: 'nope' }));
    expect(e).toBeInstanceOf(QmpError);
    expect(e).toMatchObject({ code: 'QMP_DeviceNotFound', errorClass: 'DeviceNotFound', desc: "Device 'nope' not found", command: 'netdev_del' });
    expect(e.message).toBe("netdev_del: DeviceNotFound: Device 'nope' not found");
  });

  it('answers without an id go to the oldest command', async () => {
    const { path } = await fakeQmp((_msg, sock) => reply(sock, { error: { class: 'GenericError', desc: 'JSON parse error' } }));
    const c = await connect(path);
    expect((await rejection(c.execute('x'))).code).toBe('QMP_GenericError');
  });

  it('delivers events to on("event"), to async iterators and to waitForEvent', async () => {
    const { path, sockets } = await fakeQmp((msg, sock) => reply(sock, { return: {}, id: msg.id }));
    const c = await connect(path);
    const seen: string[] = [];
    c.on('event', (e: { event: string }) => seen.push(e.event));
    const it = c.events((e) => e.event !== 'IGNORED');
    const waiting = c.waitForEvent('RESUME');
    const ts = { seconds: 1, microseconds: 2 };
    reply(sockets[0]!, { event: 'STOP', timestamp: ts });
    reply(sockets[0]!, { event: 'IGNORED', timestamp: ts });
    reply(sockets[0]!, { event: 'RESUME', data: { x: 1 }, timestamp: ts });
    expect((await it.next()).value).toMatchObject({ event: 'STOP' });
    expect((await it.next()).value).toMatchObject({ event: 'RESUME', data: { x: 1 } });
    expect(await waiting).toMatchObject({ event: 'RESUME' });
    expect(seen).toEqual(['STOP', 'IGNORED', 'RESUME']);
    // the iteration ends when the connection closes
    const next = it.next();
    sockets[0]!.destroy();
    expect(await next).toEqual({ value: undefined, done: true });
  });

  it('a command that gets no answer times out; its late answer is dropped', async () => {
    const held: { id?: string }[] = [];
    const { path } = await fakeQmp((msg, sock) => {
      if (msg.execute === 'slow') { held.push(msg); return; }
      for (const h of held.splice(0)) reply(sock, { return: 'late', id: h.id });
      reply(sock, { return: 'fast', id: msg.id });
    });
    const c = await connect(path);
    const e = await rejection(c.execute('slow', undefined, { timeoutMs: 50 }));
    expect(e.code).toBe('QMP_TIMEOUT');
    expect(e.message).toMatch(/slow: QEMU did not answer within 50 ms/);
    expect(await c.execute('quick')).toBe('fast');
  });

  it('a socket that closes mid-command rejects every pending command with QMP_CLOSED', async () => {
    const { path, sockets } = await fakeQmp(() => { /* never answers */ });
    const c = await connect(path);
    const a = c.execute('one');
    const b = c.execute('two');
    sockets[0]!.destroy();
    const [ea, eb] = await Promise.all([rejection(a), rejection(b)]);
    expect(ea.code).toBe('QMP_CLOSED');
    expect(ea.message).toMatch(/^one: .*before QEMU answered/);
    expect(eb.code).toBe('QMP_CLOSED');
    expect(c.closed).toBe(true);
    expect((await rejection(c.execute('after'))).code).toBe('QMP_CLOSED');
  });

  it('close() rejects pending commands and resolves', async () => {
    const { path } = await fakeQmp(() => { /* never answers */ });
    const c = await connect(path);
    const p = c.execute('pending');
    await c.close();
    const e = await rejection(p);
    expect(e.code).toBe('QMP_CLOSED');
    expect(e.message).toMatch(/the client closed the QMP connection/);
    await c.close(); // twice is fine
  });

  it('no greeting: QMP_TIMEOUT', async () => {
    const { path } = await fakeQmp(() => { /* nothing */ }, { greet: false });
    const e = await rejection(QmpClient.connect(path, { timeoutMs: 100 }));
    expect(e.code).toBe('QMP_TIMEOUT');
    expect(e.message).toMatch(/no QMP greeting/);
  });

  it('a line that is not JSON: QMP_PROTOCOL', async () => {
    const { path, sockets } = await fakeQmp(() => { /* nothing */ });
    const c = await connect(path);
    const p = c.execute('x');
    sockets[0]!.write('(qemu) help\r\n');
    expect((await rejection(p)).code).toBe('QMP_PROTOCOL');
  });

  it('no such socket: QMP_CONNECT', async () => {
    const e = await rejection(QmpClient.connect(join(dir, 'absent.sock')));
    expect(e.code).toBe('QMP_CONNECT');
    expect(e.message).toMatch(/no such socket \(ENOENT\)/);
  });

  it('qmpExecute: connect, one command, close', async () => {
    const { path } = await fakeQmp((msg, sock) => reply(sock, { return: { ok: msg.execute }, id: msg.id }));
    expect(await qmpExecute(path, 'query-status')).toEqual({ ok: 'query-status' });
  });
});

describe('xdplab qmp (CLI) against a scripted server', () => {
  const runCli = async (...args: string[]) => {
    let out = '';
    let err = '';
    const code = await qmpCli(args, { out: (t) => { out += t; }, err: (t) => { err += t; } });
    return { code, out, err };
  };

  it('prints the return as JSON and exits 0', async () => {
    const { path } = await fakeQmp((msg, sock) => reply(sock, { return: { args: msg.arguments ?? null }, id: msg.id }));
    const r = await runCli('--socket', path, 'netdev_add', '{"type":"user","id":"n1"}');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ args: { type: 'user', id: 'n1' } });
  });

  it('a QMP error: class and desc on stderr, exit 1', async () => {
    const { path } = await fakeQmp((msg, sock) => reply(sock, { error: { class: 'CommandNotFound', desc: "The command nope has not been found" }, id: msg.id }));
    const r = await runCli('--socket', path, 'nope');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/nope failed: CommandNotFound: The command nope has not been found/);
  });

  it('bad JSON, non-object JSON, missing parts: exit 2', async () => {
    expect((await runCli('--socket', '/x', 'netdev_del', '{id:')).code).toBe(2);
    expect((await runCli('--socket', '/x', 'netdev_del', '[1]')).code).toBe(2);
    expect((await runCli('netdev_del')).code).toBe(2);
    expect((await runCli('--socket', '/x')).code).toBe(2);
    expect((await runCli('--socket', '/x', 'a', '{}', 'extra')).code).toBe(2);
    expect((await runCli('--socket', '/x', '--timeout', 'soon', 'a')).code).toBe(2);
    const r = await runCli('--socket', '/x', 'netdev_del', '{id:');
    expect(r.err).toMatch(/JSON-ARGS is not valid JSON/);
  });

  it('a socket that does not exist: exit 1 with why', async () => {
    const r = await runCli('--socket', join(dir, 'none.sock'), 'query-version');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot connect to QMP socket/);
  });

  it('--help exits 0', async () => {
    const r = await runCli('--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Usage: xdplab qmp --socket PATH/);
  });
});
