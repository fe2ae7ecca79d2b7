// The server side of LabApi without a browser: dispatch (request and argument validation, errors
// naming the field, no stack traces), the LabService handlers over a stand-in RunManager (only
// the given scenario fields reach the engine, compare rows, exports from the run directory),
// event validation, `ip` parsing, the QMP console's refusals, and the web server's guards.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import WebSocket from 'ws';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabError } from '../../benchmarks/contracts/errors.js';
import type { EventMessage } from '../../benchmarks/api/lab-api.js';
import { dispatch, dispatchText } from '../../benchmarks/server/dispatch.js';
import { LabService, parseIpLinks, xdpText } from '../../benchmarks/server/lab-service.js';
import { qmpRefusal } from '../../benchmarks/server/vm-manager.js';
import { isLoopback, startWebServer, tokenMatches } from '../../benchmarks/server/web-server.js';
import { FakeRunManager, noVms } from '../helpers/fake-run-manager.js';

const req = (command: string, args: unknown, id = 1) => ({ type: 'request', id, command, args });

describe('dispatch and LabService', () => {
  let dir: string;
  let runs: FakeRunManager;
  let service: LabService;
  const warnings: string[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'xdplab-service-'));
    runs = new FakeRunManager(dir, { intervalMs: 1 });
    service = new LabService({
      runs, vms: noVms(), warn: (m) => warnings.push(m),
      doctor: async () => [{ id: 'af-xdp', ok: true, detail: 'fine', severity: 'required' }],
      listInterfaces: async () => [{ name: 'lo', driver: 'loopback', up: true, xdp: 'none' }],
    });
  });
  afterAll(async () => { runs.close(); await service.close(); rmSync(dir, { recursive: true, force: true }); });

  it('answers a valid request', async () => {
    expect(await dispatch(service.handlers, req('doctor', {}, 4))).toEqual({ type: 'response', id: 4, ok: true, result: { checks: [{ id: 'af-xdp', ok: true, detail: 'fine', severity: 'required' }] } });
    expect(await dispatch(service.handlers, req('listInterfaces', undefined))).toMatchObject({ ok: true, result: [{ name: 'lo' }] });
  });

  it('rejects malformed requests with the field named and the request shape as hint', async () => {
    for (const [raw, field] of [
      [null, 'request'], [[], 'request'], ['doctor', 'request'],
      [{ type: 'request', id: -1, command: 'doctor', args: {} }, 'request.id'],
      [{ type: 'request', id: 1.5, command: 'doctor', args: {} }, 'request.id'],
      [{ type: 'reply', id: 1, command: 'doctor', args: {} }, 'request.type'],
      [{ type: 'request', id: 1, command: 7, args: {} }, 'request.command'],
      [{ type: 'request', id: 1, command: 'doctor', args: {}, x: 1 }, 'request.x'],
    ] as const) {
      const r = await dispatch(service.handlers, raw);
      expect(r.ok, JSON.stringify(raw)).toBe(false);
      if (r.ok) continue;
      expect(r.error.code).toBe('EBADREQUEST');
      expect(r.error.field, JSON.stringify(raw)).toBe(field);
      expect(r.error.hint).toContain('"type":"request"');
    }
  });

  it('rejects unknown commands with the list of commands, prototype names included', async () => {
    for (const command of ['nope', 'constructor', '__proto__', 'toString']) {
      const r = await dispatch(service.handlers, req(command, {}));
      expect(r).toMatchObject({ ok: false, error: { code: 'EUNKNOWNCOMMAND', field: 'command' } });
      if (!r.ok) expect(r.error.message).toContain('commands: doctor, listInterfaces, startRun, planRun, stopRun, listRuns, getReport, compareReports, exportReport, listVms, startVm, stopVm, vmConsole, qmpExecute, qmpCommands, runVms, runQmp, runStep, runQmpCommands, vmBackends, qemuBinaries, selectQemu');
    }
  });

  it('names the argument that is wrong, and lists the allowed fields for unknown ones', async () => {
    const trials = await dispatch(service.handlers, req('startRun', { scenario: { trials: 0 } }));
    expect(trials).toMatchObject({ ok: false, error: { code: 'EINVALIDARGS', field: 'args.scenario.trials' } });
    if (!trials.ok) expect(trials.error.message).toMatch(/^args\.scenario\.trials: /);
    const frames = await dispatch(service.handlers, req('startRun', { scenario: { frameBytes: [64, 9000] } }));
    expect(frames).toMatchObject({ ok: false, error: { field: 'args.scenario.frameBytes[1]' } });
    const unknown = await dispatch(service.handlers, req('startRun', { scenario: { engines: ['txonly'] } }));
    expect(unknown).toMatchObject({ ok: false, error: { code: 'EINVALIDARGS', field: 'args.scenario.engines' } });
    if (!unknown.ok) {
      expect(unknown.error.message).toBe("args.scenario: unknown field 'engines'");
      expect(unknown.error.hint).toContain('allowed fields: tests, modes, copy, frameBytes');
    }
    // The ssh command line would be a program the renderer chose: refused from the app, with why.
    const ssh = await dispatch(service.handlers, req('startRun', { scenario: { peerHost: 'root@gen', ifname: 'a', peer: 'b', ssh: 'sh -c id' } }));
    expect(ssh).toMatchObject({ ok: false, error: { code: 'EINVALIDARGS', field: 'args.scenario.ssh', message: expect.stringContaining('not taken from the app') } });
    const sshPlan = await dispatch(service.handlers, req('planRun', { scenario: { ssh: 'ssh -o ProxyCommand=id' } }));
    expect(sshPlan).toMatchObject({ ok: false, error: { field: 'args.scenario.ssh' } });
    const vm = await dispatch(service.handlers, req('qmpExecute', { vmId: 'vm-1', command: 'Query Version' }));
    expect(vm).toMatchObject({ ok: false, error: { field: 'args.command' } });
    if (!vm.ok) expect(vm.error.message).toContain('must be a QMP command name');
    const id = await dispatch(service.handlers, req('getReport', { runId: '../../etc/passwd' }));
    expect(id).toMatchObject({ ok: false, error: { field: 'args.runId' } });
  });

  it('passes LabErrors through and hides the stack of anything else', async () => {
    const handlers = {
      ...service.handlers,
      listRuns: async () => { throw new LabError({ code: 'EX', message: 'what went wrong', field: 'f', hint: 'what to do' }); },
      listVms: async () => { throw new TypeError('cannot read x of undefined'); },
    };
    expect(await dispatch(handlers, req('listRuns', {}))).toEqual({ type: 'response', id: 1, ok: false, error: { code: 'EX', message: 'what went wrong', field: 'f', hint: 'what to do' } });
    const logged: string[] = [];
    const r = await dispatch(handlers, req('listVms', {}), (m) => logged.push(m));
    expect(r).toMatchObject({ ok: false, error: { code: 'EINTERNAL', message: 'listVms failed: cannot read x of undefined' } });
    expect(JSON.stringify(r)).not.toMatch(/\bat .*\.ts:\d+/);
    expect(logged[0]).toContain('TypeError');
  });

  it('reads text frames: bad JSON and oversize messages are answered, not thrown', async () => {
    expect(await dispatchText(service.handlers, '{"type":')).toMatchObject({ id: -1, ok: false, error: { code: 'EBADJSON' } });
    expect(await dispatchText(service.handlers, 'x'.repeat((1 << 20) + 1))).toMatchObject({ ok: false, error: { code: 'ETOOBIG' } });
    expect(await dispatchText(service.handlers, JSON.stringify(req('listVms', {}, 3)))).toMatchObject({ id: 3, ok: true, result: [] });
  });

  it('gives the run engine only the scenario fields the caller sent, and quick', async () => {
    const r = await dispatch(service.handlers, req('startRun', { scenario: { tests: ['txonly'], trials: 2 }, quick: true }));
    expect(r.ok).toBe(true);
    expect(runs.started.at(-1)).toEqual({ scenario: { tests: ['txonly'], trials: 2 }, quick: true });
    await dispatch(service.handlers, req('startRun', { scenario: {} }));
    expect(runs.started.at(-1)).toEqual({ scenario: {} });
    const refused = await dispatch(service.handlers, req('startRun', { scenario: { trials: 60 } }));
    expect(refused).toMatchObject({ ok: false, error: { code: 'EINVALIDOPTION', field: '--trials' } });
  });

  it('forwards run events, validated; drops and reports malformed ones', async () => {
    const seen: EventMessage[] = [];
    const off = service.onEvent((m) => seen.push(m));
    const r = await dispatch(service.handlers, req('startRun', { scenario: {} }));
    const runId = r.ok ? (r.result as { runId: string }).runId : '';
    await runs.runs.get(runId)!.done;
    await new Promise((res) => setImmediate(res));
    const mine = seen.filter((m) => (m.payload as { runId?: string }).runId === runId);
    expect(mine.filter((m) => m.event === 'sample')).toHaveLength(24);
    expect(mine.some((m) => m.event === 'runProgress')).toBe(true);
    expect(mine.filter((m) => m.event === 'runState').map((m) => (m.payload as { state: string }).state)).toEqual(['running', 'complete']);
    const before = seen.length;
    runs.emit('sample', { runId: 'bad id!', sample: { row: 'x', trial: 0, tMs: 0, intervalMs: 1, metrics: {} } });
    runs.emit('runState', { runId: 'r1', state: 'exploded' as 'failed' });
    expect(seen.length).toBe(before);
    expect(warnings.filter((w) => w.startsWith('dropped a'))).toHaveLength(2);
    expect(warnings.at(-1)).toContain("'runState'");
    off();
  });

  it('lists runs, opens, compares and exports reports', async () => {
    const a = await (await runs.start({})).done;
    const b = await (await runs.start({})).done;
    const list = await dispatch(service.handlers, req('listRuns', {}));
    expect(list.ok && (list.result as { runId: string }[]).map((x) => x.runId).slice(0, 2)).toEqual([b.id, a.id]);
    expect(list.ok && Object.keys((list.result as object[])[0]!)).toEqual(['runId', 'createdAt', 'status', 'command', 'rows']);
    expect(await dispatch(service.handlers, req('getReport', { runId: a.id }))).toMatchObject({ ok: true, result: { id: a.id, status: 'complete' } });
    expect(await dispatch(service.handlers, req('getReport', { runId: 'missing' }))).toMatchObject({ ok: false, error: { code: 'ENORUN', field: 'runId' } });
    const c = await dispatch(service.handlers, req('compareReports', { a: a.id, b: b.id }));
    expect(c.ok).toBe(true);
    const cmp = (c.ok ? c.result : undefined) as { rows: { key: string; metric: string; relative: number; ci95: number[]; beyondNoise: boolean }[]; onlyInA: string[] };
    expect(cmp.rows.map((x) => `${x.key} ${x.metric}`)).toContain('txonly/xdplab/native/64/1 packetsPerSecond');
    for (const row of cmp.rows) {
      expect(row.relative).toBeCloseTo(0.2, 2);
      expect(row.beyondNoise).toBe(true);
      expect(row.ci95[0]).toBeGreaterThan(0);
    }
    for (const [format, type, start] of [['html', 'text/html; charset=utf-8', '<!doctype html>'], ['csv', 'text/csv; charset=utf-8', 'row,test'], ['json', 'application/json', '{']] as const) {
      const e = await dispatch(service.handlers, req('exportReport', { runId: a.id, format }));
      expect(e).toMatchObject({ ok: true, result: { fileName: `xdplab-${a.id}.${format}`, mediaType: type } });
      expect(e.ok && (e.result as { content: string }).content.startsWith(start)).toBe(true);
    }
    // From the run directory as written, not rebuilt:
    writeFileSync(join(runs.directory(a.id), 'report.csv'), 'as on disk\n');
    expect(await dispatch(service.handlers, req('exportReport', { runId: a.id, format: 'csv' }))).toMatchObject({ ok: true, result: { content: 'as on disk\n' } });
    expect(await dispatch(service.handlers, req('exportReport', { runId: a.id, format: 'pdf' }))).toMatchObject({ ok: false, error: { field: 'args.format' } });
    // A run without rate searches: search-trials.csv is not on disk; its header alone.
    expect(await dispatch(service.handlers, req('exportReport', { runId: a.id, format: 'search-trials-csv' }))).toMatchObject({ ok: true, result: { fileName: `xdplab-${a.id}-search-trials.csv`, mediaType: 'text/csv; charset=utf-8', content: expect.stringMatching(/^row,test,tool,mode,frameBytes,frameMix,trial,step,phase,[^\n]*\n$/) } });
  });
});

describe('interfaces from ip -j -d link', () => {
  it('names the driver, the state and what XDP program is attached in which mode', () => {
    const json = JSON.stringify([
      { ifname: 'lo', flags: ['LOOPBACK', 'UP'], link_type: 'loopback' },
      { ifname: 'xlxa', flags: ['BROADCAST', 'UP'], link_type: 'ether', linkinfo: { info_kind: 'veth' }, xdp: { mode: 1, prog: { id: 2798, name: 'xsk_def_prog' }, attached: [{ mode: 1, prog: { id: 2798, name: 'xsk_def_prog' } }] } },
      { ifname: 'xlxb', flags: ['BROADCAST'], link_type: 'ether', linkinfo: { info_kind: 'veth' }, xdp: { mode: 4, attached: [{ mode: 1, prog: { id: 1, name: 'a' } }, { mode: 2, prog: { id: 2, name: 'b' } }] } },
    ]);
    expect(parseIpLinks(json, 'xl-x-a')).toEqual([
      { name: 'lo', netns: 'xl-x-a', driver: 'loopback', up: true, xdp: 'none' },
      { name: 'xlxa', netns: 'xl-x-a', driver: 'veth', up: true, xdp: 'native: xsk_def_prog (id 2798)' },
      { name: 'xlxb', netns: 'xl-x-a', driver: 'veth', up: false, xdp: 'native: a (id 1), skb: b (id 2)' },
    ]);
    expect(parseIpLinks('')).toEqual([]);
    expect(xdpText({ xdp: { mode: 2, prog: { id: 5, name: 'p' } } })).toBe('skb: p (id 5)');
  });
});

describe('the QMP console refuses what reaches the host', () => {
  it('refuses HMP, exec: migration, host files, scripts and host devices; allows the rest', () => {
    expect(qmpRefusal('human-monitor-command', { 'command-line': 'info' })).toMatch(/refused/);
    expect(qmpRefusal('migrate', { uri: 'exec:touch /tmp/x' })).toMatch(/host command/);
    expect(qmpRefusal('dump-guest-memory', {})).toMatch(/host file/);
    expect(qmpRefusal('netdev_add', { type: 'tap', id: 't', script: '/tmp/evil' })).toMatch(/script/);
    expect(qmpRefusal('device_add', { driver: 'loader', file: '/etc/shadow' })).toMatch(/loader/);
    expect(qmpRefusal('netdev_add', { type: 'user', id: 'n1' })).toBeUndefined();
    expect(qmpRefusal('set_link', { name: 'n0', up: false })).toBeUndefined();
    expect(qmpRefusal('query-version', undefined)).toBeUndefined();
    expect(qmpRefusal('device_add', { driver: 'virtio-net-pci', netdev: 'n1' })).toBeUndefined();
  });
});

describe('web server guards', () => {
  it('compares tokens whole, whatever their length', () => {
    expect(tokenMatches('abc', 'abc')).toBe(true);
    expect(tokenMatches('abc', 'abd')).toBe(false);
    expect(tokenMatches('abc', 'ab')).toBe(false);
    expect(tokenMatches('abc', '')).toBe(false);
    expect(tokenMatches('abc', null)).toBe(false);
  });

  it('listens on loopback only', async () => {
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('127.1.2.3')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.1.2', 'localhost', '127.0.0.1.evil']) expect(isLoopback(h), h).toBe(false);
    const service = new LabService({ runs: new FakeRunManager(tmpdir()), vms: noVms() });
    await expect(startWebServer({ service, host: '0.0.0.0', port: 0 })).rejects.toMatchObject({ code: 'EINVALIDOPTION', field: '--host' });
  });

  it('serves only files under the renderer directory, and forwards events to every client', async () => {
    const root = mkdtempSync(join(tmpdir(), 'xdplab-web-'));
    mkdirSync(join(root, 'renderer', 'assets'), { recursive: true });
    writeFileSync(join(root, 'renderer', 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(root, 'renderer', 'assets', 'a.js'), 'export {};');
    writeFileSync(join(root, 'secret.txt'), 'secret');
    const runs = new FakeRunManager(root);
    const service = new LabService({ runs, vms: noVms() });
    const server = await startWebServer({ service, port: 0, rendererDir: join(root, 'renderer'), token: 'tok' });
    const get = (path: string, cookie?: string) => new Promise<{ status: number; body: string; cookie?: string; type?: string }>((resolve, reject) => {
      request({ host: '127.0.0.1', port: server.port, path, headers: cookie ? { Cookie: cookie } : {} }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => resolve({ status: res.statusCode ?? 0, body, cookie: res.headers['set-cookie']?.[0], type: res.headers['content-type'] }));
      }).on('error', reject).end();
    });
    try {
      const page = await get('/?token=tok');
      expect(page.status).toBe(200);
      const cookie = page.cookie!.split(';')[0]!;
      expect(cookie).toBe(`xdplab-${server.port}=tok`);
      expect(await get('/assets/a.js', cookie)).toMatchObject({ status: 200, type: 'text/javascript; charset=utf-8' });
      expect((await get('/assets/a.js')).status).toBe(403);
      expect((await get('/assets/a.js', `xdplab-${server.port}=wrong`)).status).toBe(403);
      expect((await get('/', cookie)).status).toBe(403); // the page itself wants the token in its URL
      for (const path of ['/..%2fsecret.txt', '/assets/..%2f..%2fsecret.txt', '/%2e%2e/secret.txt', '/../secret.txt']) {
        const r = await get(path, cookie);
        expect(r.status, path).not.toBe(200);
        expect(r.body, path).not.toContain('secret');
      }
      expect((await get('/nope.js', cookie)).status).toBe(404);

      const clients = await Promise.all([0, 1].map(() => new Promise<{ ws: WebSocket; events: unknown[] }>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api?token=tok`);
        const events: unknown[] = [];
        ws.on('message', (d) => events.push(JSON.parse(String(d))));
        ws.once('open', () => resolve({ ws, events }));
        ws.once('error', reject);
      })));
      expect(server.clients()).toBe(2);
      runs.emit('log', { level: 'info', source: 'test', message: 'hello', time: new Date(0).toISOString() });
      await new Promise((r) => setTimeout(r, 100));
      for (const c of clients) {
        expect(c.events).toEqual([{ type: 'event', event: 'log', payload: { level: 'info', source: 'test', message: 'hello', time: '1970-01-01T00:00:00.000Z' } }]);
        c.ws.close();
      }
    } finally {
      await server.close();
      await service.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
