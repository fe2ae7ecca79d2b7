// Property tests of LabApi's message path (benchmarks/server/dispatch.ts in front of LabService),
// which both transports use: arbitrary JSON values, arbitrary text frames and mutated valid
// commands get one well-formed response each (a LabError in `ok: false`, or a result that matches
// the command's schema), never an exception, an EINTERNAL (a handler that crashed) or a hang.
// Then the WebSocket server itself: a burst of malformed frames (garbage bytes, huge and deeply
// nested text, mutated requests) is answered frame by frame, frames the protocol forbids close
// only their own connection, a wrong token gets no socket, and a valid request is answered after.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Commands, ResponseSchema, type CommandName, type Response } from '../../benchmarks/api/lab-api.js';
import { COMMAND_NAMES, MAX_MESSAGE_BYTES, dispatch, dispatchText } from '../../benchmarks/server/dispatch.js';
import { LabService } from '../../benchmarks/server/lab-service.js';
import { startWebServer, type WebServer } from '../../benchmarks/server/web-server.js';
import { FakeRunManager, noVms } from '../helpers/fake-run-manager.js';
import { BOUND_MS, RUNS } from '../helpers/outcome.js';

/** A response within BOUND_MS, or a failure that says which input hung. */
async function bounded<T>(what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${BOUND_MS} ms`)), BOUND_MS); });
  try { return await Promise.race([p, timeout]); } finally { clearTimeout(timer); }
}

/** One response as both transports send it: valid on the wire, JSON-writable, errors well-formed,
 * results matching the command's result schema, no internal error. */
function checkResponse(r: Response, raw: unknown): void {
  expect(ResponseSchema.safeParse(r).success, JSON.stringify(r)).toBe(true);
  expect(() => JSON.stringify(r)).not.toThrow();
  const id = raw && typeof raw === 'object' ? (raw as { id?: unknown }).id : undefined;
  if (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0) expect(r.id).toBe(id);
  if (!r.ok) {
    expect(r.error.code, r.error.message).not.toBe('EINTERNAL');
    expect(r.error.message.length).toBeGreaterThan(0);
    return;
  }
  const command = (raw as { command: CommandName }).command;
  const result = Commands[command].result.safeParse(r.result);
  expect(result.success, `${command} result: ${JSON.stringify(result.error?.issues[0])}`).toBe(true);
}

// ---- inputs -----------------------------------------------------------------------------------

const jsonish: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.constantFrom('__proto__', 'constructor', 'toString', -1, 2 ** 53, 1.5, '', null),
  fc.anything({ maxDepth: 2, withNullPrototype: true, withSparseArray: true }),
);

/** A valid request for every LabApi command; `run` is a run that exists. */
function seeds(run: string, other: string): Record<CommandName, unknown> {
  return {
    doctor: {}, listInterfaces: {}, listRuns: {}, listVms: {},
    startRun: { scenario: { tests: ['txonly'], modes: ['skb'], trials: 1, frameBytes: [64] }, quick: true },
    stopRun: { runId: run },
    getReport: { runId: run },
    compareReports: { a: run, b: other },
    exportReport: { runId: run, format: 'csv' },
    startVm: { backend: 'user', nic: 'e1000' },
    stopVm: { vmId: 'vm-1' },
    vmConsole: { vmId: 'vm-1', tailBytes: 100 },
    qmpExecute: { vmId: 'vm-1', command: 'query-status', arguments: { a: 1 } },
    qmpCommands: { vmId: 'vm-1' },
    qemuBinaries: {},
    selectQemu: { path: '/usr/bin/qemu-system-x86_64' },
    runVms: { runId: run },
    runQmp: { runId: run, vm: 'vm-1', command: 'set_link', arguments: { name: 'n0', up: false } },
    runStep: { runId: run, vm: 'vm-1', action: { kind: 'netdev_swap' } },
    runQmpCommands: { runId: run, vm: 'vm-1' },
    vmBackends: {},
    planRun: { scenario: { tests: ['txonly'], modes: ['skb'], trials: 1 } },
  };
}

/** Every path into a value: [], ['args'], ['args', 'scenario', 'tests', 0], ... */
function paths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out = [prefix];
  if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, Array.isArray(v) ? Number(k) : k]));
  return out;
}

type Mutation = { kind: 'set' | 'delete' | 'add' | 'command'; at: number; value: unknown; key: string };

/** Applies mutations to a copy of a valid request: replace, delete or add a member anywhere,
 * or change the command name. */
function mutate(request: Record<string, unknown>, mutations: Mutation[]): unknown {
  let root: unknown = structuredClone(request);
  for (const m of mutations) {
    if (m.kind === 'command' && root && typeof root === 'object') { (root as Record<string, unknown>).command = m.key; continue; }
    const all = paths(root);
    const path = all[m.at % all.length]!;
    if (path.length === 0) { if (m.kind === 'set') root = m.value; continue; }
    // Own members only: a '__proto__' key must not lead into a prototype.
    let parent: unknown = root;
    for (const k of path.slice(0, -1)) parent = parent && typeof parent === 'object' && Object.hasOwn(parent, k) ? (parent as Record<string | number, unknown>)[k] : undefined;
    if (!parent || typeof parent !== 'object') continue;
    const last = path[path.length - 1]!;
    // An array's length is not a member a JSON message can carry: leave it.
    const own = (o: object, k: string | number, v: unknown) => (Array.isArray(o) && k === 'length' ? o : Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true }));
    if (m.kind === 'set') own(parent, last, m.value);
    else if (m.kind === 'delete') delete (parent as Record<string | number, unknown>)[last];
    else {
      const target = Object.hasOwn(parent, last) ? (parent as Record<string | number, unknown>)[last] : undefined;
      own(target && typeof target === 'object' ? target : parent, m.key, m.value);
    }
  }
  return root;
}

function mutatedRequest(valid: () => Record<CommandName, unknown>): fc.Arbitrary<unknown> {
  const mutation = fc.record({
    kind: fc.constantFrom<Mutation['kind']>('set', 'set', 'delete', 'add', 'command'),
    at: fc.nat(),
    value: jsonish,
    key: fc.oneof(fc.constantFrom(...COMMAND_NAMES, '__proto__', 'constructor', 'x'), fc.string({ maxLength: 10 })),
  });
  return fc.tuple(fc.constantFrom(...COMMAND_NAMES), fc.nat(1 << 30), fc.array(mutation, { minLength: 1, maxLength: 3 }))
    .map(([command, id, ms]) => mutate({ type: 'request', id, command, args: valid()[command] }, ms));
}

// ---- the service under test ---------------------------------------------------------------------

let dir: string;
let runs: FakeRunManager;
let service: LabService;
let valid: () => Record<CommandName, unknown>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'xdplab-props-'));
  // Runs started by the properties stay running (one sample a minute) until afterAll stops them.
  runs = new FakeRunManager(dir, { intervalMs: 60_000 });
  service = new LabService({
    runs, vms: noVms(),
    warn: (m) => { throw new Error(`unexpected server warning: ${m}`); },
    doctor: async () => [{ id: 'af-xdp', ok: true, detail: 'fine', severity: 'required' }],
    listInterfaces: async () => [{ name: 'lo', driver: 'loopback', up: true, xdp: 'none' }],
  });
  const done = new FakeRunManager(dir, { intervalMs: 1 });
  const [a, b] = [await (await done.start({})).done, await (await done.start({})).done];
  // The finished reports, known to the manager under test too.
  for (const r of [a, b]) runs.runs.set(r.id, { ...done.runs.get(r.id)!, status: 'complete' });
  valid = () => seeds(a.id, b.id);
});

afterAll(async () => {
  runs.close();
  await service.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('LabApi messages: properties', () => {
  it('the seeds cover every command and are answered ok', async () => {
    expect(Object.keys(valid()).sort()).toEqual([...COMMAND_NAMES].sort());
    for (const command of ['doctor', 'listInterfaces', 'listRuns', 'listVms', 'startRun', 'getReport', 'compareReports', 'exportReport'] as const) {
      const raw = { type: 'request', id: 1, command, args: valid()[command] };
      const r = await dispatch(service.handlers, raw);
      expect(r.ok, JSON.stringify(r)).toBe(true);
      checkResponse(r, raw);
    }
  });

  it('any JSON value gets one well-formed response', async () => {
    await fc.assert(fc.asyncProperty(jsonish, async (raw) => {
      checkResponse(await bounded('dispatch', dispatch(service.handlers, raw)), raw);
    }), { numRuns: RUNS });
  });

  it('a mutated valid command gets one well-formed response: its result, or a LabError', async () => {
    await fc.assert(fc.asyncProperty(mutatedRequest(() => valid()), async (raw) => {
      checkResponse(await bounded('dispatch', dispatch(service.handlers, raw)), raw);
    }), { numRuns: RUNS * 2 });
  });

  it('any text frame gets one well-formed response', async () => {
    const text = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
      mutatedRequest(() => valid()).map((r) => JSON.stringify(r) ?? 'undefined'),
      fc.tuple(fc.constantFrom('[', '{"a":', '{"type":"request","id":1,"command":"qmpExecute","args":{"vmId":"v","command":"x","arguments":{"a":'), fc.integer({ min: 1, max: 200_000 }))
        .map(([open, n]) => open.repeat(Math.ceil(n / open.length))),
    );
    await fc.assert(fc.asyncProperty(text, async (t) => {
      let raw: unknown;
      try { raw = JSON.parse(t); } catch { raw = undefined; }
      checkResponse(await bounded('dispatchText', dispatchText(service.handlers, t)), raw);
    }), { numRuns: RUNS });
  });
});

describe('LabApi messages: counterexamples found by the properties', () => {
  it('an id beyond 2^53 is refused with id -1, so that the error response itself is valid', async () => {
    for (const id of [2 ** 53, 1e300]) {
      const r = await dispatch(service.handlers, { type: 'request', id, command: 'listRuns', args: {} });
      expect(r).toMatchObject({ id: -1, ok: false, error: { code: 'EBADREQUEST', field: 'request.id' } });
      expect(ResponseSchema.safeParse(r).success).toBe(true);
    }
  });
});

// ---- the WebSocket server ---------------------------------------------------------------------

describe('the WebSocket server under malformed frames', () => {
  let server: WebServer;
  beforeAll(async () => {
    const root = join(dir, 'renderer');
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'index.html'), '<!doctype html>');
    server = await startWebServer({ service, port: 0, rendererDir: root, token: 'tok', warn: () => {} });
  });
  afterAll(async () => { await server.close(); });

  function connect(token = 'tok'): Promise<WebSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api?token=${token}`);
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => { ws.terminate(); reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })); });
    });
  }

  /** Sends frames and collects as many responses, then a valid request's answer. */
  function exchange(ws: WebSocket, frames: (string | Buffer)[]): Promise<{ replies: Response[]; after: Response }> {
    return new Promise((resolve, reject) => {
      const replies: Response[] = [];
      const timer = setTimeout(() => reject(new Error(`${replies.length} of ${frames.length} answers within ${BOUND_MS * 5} ms`)), BOUND_MS * 5);
      ws.on('message', (data) => {
        const r = JSON.parse(data.toString()) as Response | { type: 'event' };
        if (r.type === 'event') return; // runs started by the burst broadcast their state
        if (replies.length < frames.length) {
          replies.push(r);
          if (replies.length === frames.length) ws.send(JSON.stringify({ type: 'request', id: 777, command: 'listRuns', args: {} }));
        } else { clearTimeout(timer); ws.removeAllListeners('message'); resolve({ replies, after: r }); }
      });
      ws.once('close', (code) => { clearTimeout(timer); reject(new Error(`connection closed (${code})`)); });
      for (const f of frames) ws.send(f, { binary: Buffer.isBuffer(f) });
    });
  }

  const frame = fc.oneof(
    fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
    fc.string({ maxLength: 100 }),
    fc.integer({ min: 1, max: 1000 }).map((n) => 'x'.repeat(n * 1000)),
    fc.integer({ min: 1000, max: 100_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
    fc.integer({ min: 1000, max: 100_000 }).map((n) => `{"type":"request","id":5,"command":"startRun","args":{"scenario":{"tests":${'['.repeat(n)}${']'.repeat(n)}}}}`),
    mutatedRequest(() => valid()).map((r) => JSON.stringify(r) ?? 'null'),
  );

  it('answers every malformed frame of a burst, then a valid request on the same connection', async () => {
    await fc.assert(fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 60 }), async (frames) => {
      const ws = await connect();
      try {
        const { replies, after } = await exchange(ws, frames);
        for (const r of replies) expect(ResponseSchema.safeParse(r).success, JSON.stringify(r)).toBe(true);
        expect(replies.filter((r) => !r.ok).every((r) => !r.ok && r.error.code !== 'EINTERNAL')).toBe(true);
        expect(after).toMatchObject({ id: 777, ok: true });
      } finally { ws.terminate(); }
    }), { numRuns: Math.max(10, Math.round(RUNS / 20)) });
  });

  it('a frame over the size limit or with invalid UTF-8 closes only its connection; a wrong token gets no socket', async () => {
    const big = await connect();
    const closed = new Promise<number>((r) => big.once('close', (code) => r(code)));
    big.send('y'.repeat(MAX_MESSAGE_BYTES + 1));
    expect(await bounded('close after a big frame', closed)).toBe(1009);

    const bad = await connect();
    const closedUtf8 = new Promise<number>((r) => bad.once('close', (code) => r(code)));
    bad.send(Buffer.from([0xc3, 0x28, 0xff]), { binary: false });
    expect(await bounded('close after invalid UTF-8', closedUtf8)).toBe(1007);

    for (const token of ['wrong', '', 'tok '.trim() + 'x', '%00']) await expect(connect(token)).rejects.toMatchObject({ status: 403 });

    const ws = await connect();
    try {
      const { after } = await exchange(ws, ['not json']);
      expect(after).toMatchObject({ id: 777, ok: true });
    } finally { ws.terminate(); }
    expect(server.clients()).toBeLessThanOrEqual(1);
  });
});
