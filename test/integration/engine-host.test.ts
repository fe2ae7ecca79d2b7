// The lab engine in a child process, as the desktop shell runs it but with child_process.fork
// instead of Electron's utilityProcess: answers through EngineClient (the shell's forwarding
// code), the host's dispatch as the one validation gate, the child's death turned into clear
// answers (and one restart), timeouts for a child that does not answer, and a host that stops
// when told (SIGTERM) or when its parent goes away.
import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, afterAll, expect, it } from 'vitest';
import { Commands, type EventMessage, type Response } from '../../benchmarks/api/lab-api.js';
import { FromHostSchema } from '../../benchmarks/server/engine-channel.js';
import { ENGINE_HOST_PATH, EngineClient, exitText, forkEngineHost, type EngineChild, type EngineClientOptions } from '../../benchmarks/server/engine-client.js';
import { suite } from '../helpers/requirements.js';

const req = (command: string, args: unknown, id = 1) => ({ type: 'request', id, command, args });

interface Harness {
  client: EngineClient;
  children: (EngineChild & { pid: number | undefined })[];
  exits: string[];
  events: EventMessage[];
  /** Resolves when the n-th child (1-based) has its engine up. */
  ready(n: number): Promise<void>;
}

suite('the engine host in a child process', {}, () => {
  let reports: string;
  const harnesses: Harness[] = [];

  beforeAll(() => {
    expect(existsSync(ENGINE_HOST_PATH), `${ENGINE_HOST_PATH} is missing: npm run build`).toBe(true);
    reports = mkdtempSync(join(tmpdir(), 'xdplab-engine-host-'));
  });
  afterAll(() => rmSync(reports, { recursive: true, force: true }));
  afterEach(async () => {
    for (const h of harnesses.splice(0)) {
      for (const c of h.children) if (c.pid !== undefined) { try { process.kill(c.pid, 'SIGCONT'); } catch { /* gone */ } }
      await h.client.close();
    }
  });

  function harness(opts: Partial<EngineClientOptions> = {}): Harness {
    const children: Harness['children'] = [];
    const exits: string[] = [];
    const events: EventMessage[] = [];
    let readyCount = 0;
    const waiters: { n: number; resolve: () => void }[] = [];
    const client = new EngineClient({
      start: () => {
        const child = forkEngineHost({ env: { ...process.env, XDPLAB_REPORTS_DIR: reports } });
        child.onExit((exit) => exits.push(exitText(exit)));
        children.push(child);
        return child;
      },
      onReady: () => { readyCount++; for (const w of waiters.filter((x) => x.n <= readyCount)) w.resolve(); },
      warn: () => {},
      closeGraceMs: 10_000,
      ...opts,
    });
    client.onEvent((m) => events.push(m));
    client.start();
    const h: Harness = {
      client, children, exits, events,
      ready: (n) => (readyCount >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
    };
    harnesses.push(h);
    return h;
  }

  function failure(r: Response) {
    if (r.ok) throw new Error(`expected a failure, got ${JSON.stringify(r.result)}`);
    return r.error;
  }

  it('answers listRuns and qemuBinaries with results that match their schemas', async () => {
    const { client } = harness();
    const runs = await client.call(req('listRuns', {}, 7));
    expect(runs).toMatchObject({ type: 'response', id: 7, ok: true });
    expect(runs.ok && Commands.listRuns.result.parse(runs.result)).toEqual([]);
    const qemu = await client.call(req('qemuBinaries', {}, 8));
    expect(qemu).toMatchObject({ id: 8, ok: true });
    expect(qemu.ok && Commands.qemuBinaries.result.safeParse(qemu.result).success).toBe(true);
  });

  it("answers invalid requests with the dispatch's validation error naming the field", async () => {
    const { client } = harness();
    expect(failure(await client.call(req('startVm', { backend: 'carrier-pigeon' }, 3)))).toMatchObject({ code: 'EINVALIDARGS', field: 'args.backend' });
    expect(failure(await client.call(req('nope', {}, 4)))).toMatchObject({ code: 'EUNKNOWNCOMMAND', field: 'command' });
    // No usable id: the channel's own sequence number still pairs the answer with its call.
    const broken = await Promise.all([client.call({ id: 'x' }), client.call({ type: 'request', id: 5, command: 'listRuns', args: {}, extra: 1 })]);
    expect(broken.map((r) => [r.id, failure(r).code, failure(r).field])).toEqual([[-1, 'EBADREQUEST', 'request.type'], [5, 'EBADREQUEST', 'request.extra']]);
    // The size is checked on this side, before anything crosses.
    expect(failure(await client.call(req('listRuns', { pad: 'y'.repeat(1 << 20) })))).toMatchObject({ code: 'ETOOBIG' });
  });

  it('fails pending calls clearly when the child is killed (-9), starts it once more, then stays down', async () => {
    const h = harness();
    await h.ready(1);
    // Stopped first, so that the call is surely pending when the child dies.
    process.kill(h.children[0]!.pid!, 'SIGSTOP');
    const pending = h.client.call(req('listRuns', {}, 11));
    process.kill(h.children[0]!.pid!, 'SIGKILL');
    const first = failure(await pending);
    expect(first).toMatchObject({ code: 'EENGINEEXITED', hint: expect.stringMatching(/started again/) });
    expect(first.message).toMatch(/^listRuns: the lab engine process exited unexpectedly \(signal SIGKILL\)/);
    expect(h.events.find((e) => e.event === 'log')).toMatchObject({ payload: { level: 'error', source: 'engine', message: expect.stringMatching(/exited unexpectedly.*starting it again/) } });

    // The one restart answers again.
    expect(await h.client.call(req('listRuns', {}, 12))).toMatchObject({ id: 12, ok: true, result: [] });
    expect(h.children).toHaveLength(2);

    process.kill(h.children[1]!.pid!, 'SIGSTOP');
    const again = h.client.call(req('qemuBinaries', {}, 13));
    process.kill(h.children[1]!.pid!, 'SIGKILL');
    expect(failure(await again)).toMatchObject({ code: 'EENGINEEXITED', hint: expect.stringMatching(/not started again/) });
    expect(h.events.filter((e) => e.event === 'log').at(-1)).toMatchObject({ payload: { level: 'error', message: expect.stringMatching(/not starting it again/) } });
    const down = failure(await h.client.call(req('listRuns', {}, 14)));
    expect(down).toMatchObject({ code: 'EENGINEDOWN', message: expect.stringMatching(/^listRuns cannot run: the lab engine process exited unexpectedly/) });
    expect(h.children).toHaveLength(2);
  });

  it('does not start again a child stopped on purpose from outside (SIGTERM, exit code 0)', async () => {
    const h = harness();
    await h.ready(1);
    const gone = new Promise<void>((resolve) => h.children[0]!.onExit(() => resolve()));
    process.kill(h.children[0]!.pid!, 'SIGTERM');
    await gone;
    expect(h.exits).toEqual(['code 0']);
    expect(h.events.filter((e) => e.event === 'log').at(-1)).toMatchObject({ payload: { level: 'error', message: expect.stringMatching(/stopped from outside \(code 0\); not starting it again/) } });
    expect(failure(await h.client.call(req('listRuns', {})))).toMatchObject({ code: 'EENGINEDOWN' });
    expect(h.children).toHaveLength(1);
  });

  it('times out a call that the child does not answer', async () => {
    const h = harness({ timeoutMs: 300 });
    await h.ready(1);
    process.kill(h.children[0]!.pid!, 'SIGSTOP');
    expect(failure(await h.client.call(req('listRuns', {}, 21)))).toMatchObject({ code: 'ETIMEDOUT', message: expect.stringMatching(/^listRuns: the lab engine gave no answer/) });
    process.kill(h.children[0]!.pid!, 'SIGCONT');
    // The late answer is dropped; the next call is answered.
    expect(await h.client.call(req('listRuns', {}, 22))).toMatchObject({ id: 22, ok: true });
  });

  it('stops the child on close (SIGTERM: the engine closes, exit code 0), and later calls say so', async () => {
    const h = harness();
    await h.ready(1);
    await h.client.close();
    expect(h.exits).toEqual(['code 0']);
    expect(failure(await h.client.call(req('listRuns', {})))).toMatchObject({ code: 'ECLOSING' });
  });

  it('exits by itself when its parent channel closes', async () => {
    const child = fork(ENGINE_HOST_PATH, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced', env: { ...process.env, XDPLAB_REPORTS_DIR: reports } });
    try {
      await new Promise<void>((resolve) => child.on('message', (m: unknown) => { if (FromHostSchema.safeParse(m).data?.kind === 'ready') resolve(); }));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.disconnect();
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
