// The peer agent across a real OpenSSH connection: an sshd the test starts in a "remote"
// namespace (test/helpers/ssh-peer.ts), the system's ssh in a "local" one, this checkout's CLI
// as the remote command.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { connectPeer, type PeerClient } from '../../benchmarks/agent/peer-client.js';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { labStateDir } from '../../benchmarks/lab/state.js';
import { PROJECT_ROOT } from '../../benchmarks/paths.js';
import { suite } from '../helpers/requirements.js';
import { SSHD, ownStateFiles, startSshPeer, until, type SshPeer } from '../helpers/ssh-peer.js';

const VERSION = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));



suite('peer agent over ssh (sshd in a namespace)', { root: true, tools: [SSHD, 'ssh', 'ssh-keygen', 'nsenter', 'iperf3'] }, () => {
  let peer: SshPeer;
  const clients: PeerClient[] = [];
  const connect = async (extra: { remoteCommand?: string } = {}) => {
    const c = await connectPeer({ host: peer.host, ssh: peer.ssh, remoteCommand: extra.remoteCommand ?? peer.remoteCommand, connectTimeoutSeconds: 5 });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    if (!existsSync(join(PROJECT_ROOT, 'dist', 'benchmarks', 'cli', 'main.js'))) throw new Error('build first: npx tsc -p tsconfig.json (the remote command runs dist/)');
    peer = await startSshPeer();
  }, 30_000);

  // A test that fails halfway must not leave its session open for the next one's checks.
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close(3000).catch(() => undefined);
  });

  afterAll(async () => {
    await peer?.close();
  }, 30_000);

  it('says hello with both versions and reports the remote environment', async () => {
    const c = await connect();
    expect(c.hello).toMatchObject({ role: 'agent', protocol: 2, xdplab: VERSION });
    expect(c.commandLine).toContain(`-o BatchMode=yes`);
    const { environment } = await c.call('environment', {});
    expect(environment.kernel).toBe(release());
    expect(environment.xdplab.version).toBe(VERSION);
    expect(Object.keys(environment.tools)).toContain('iperf3');
    const doctor = await c.call('doctor', {});
    expect(doctor.checks.length).toBeGreaterThan(3);
    expect(doctor.checks.map((x) => x.id)).toContain('af-xdp');
    // A bad request is refused there with the field named, and the session goes on.
    await expect(c.call('netns.create', { suffix: 'NO!' })).rejects.toMatchObject({ field: 'suffix' });
    const e = await c.call('link.counters', { ifname: 'nosuchif0' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LabError);
    expect((e as LabError).message).toMatch(/peer root@192\.0\.2\.2: .*nosuchif0/);
    await c.close();
  }, 60_000);

  it('creates namespaces, links, an iperf3 server and a worker there; a killed ssh leaves nothing behind', async () => {
    const c = await connect();
    const agentPid = c.hello.pid!;
    const labId = c.hello.labId!;
    const { name: ns } = await c.call('netns.create', { suffix: 'p' });
    expect(ns).toBe(`xl-${labId}-p`);
    const { a, b } = await c.call('veth.create', { a: { netns: ns, suffix: 'pa' }, b: { suffix: 'pb' } });
    await c.call('addr.add', { netns: ns, ifname: a, cidr: '198.51.100.1/24' });
    await c.call('addr.add', { ifname: b, cidr: '198.51.100.2/24' });
    // What the remote host sees: the namespace (in sshd's mount namespace), the link in its own.
    expect(peer.inRemote('ip', ['netns', 'list'])).toContain(ns);
    expect(peer.inRemote('ip', ['-br', 'link', 'show', 'dev', b])).toContain(b);
    const server = await c.call('iperf3.server.start', { netns: ns, address: '198.51.100.1', port: 5201 });
    expect(alive(server.pid)).toBe(true);
    expect(server.commandLine).toBe(`ip netns exec ${ns} iperf3 -s -p 5201 -B 198.51.100.1`);

    // An engine worker there (txonly, skb mode), its samples streamed back; the far end counts.
    const samples: number[] = [];
    c.on('worker.sample', (s) => samples.push(s.sample.tx));
    const done = new Promise<unknown>((resolve) => c.on('worker.done', (d) => resolve(d.result)));
    const before = await c.call('link.counters', { ifname: b });
    const w = await c.call('worker.start', { spec: { netns: ns, ifname: a, engine: 'txonly', mode: 'skb', seconds: 1, warmupMs: 200, sampleMs: 200, frameCount: 256, ringSize: 256 } });
    expect(w.commandLine).toMatch(/worker\.js/);
    const result = await done;
    expect(result).toMatchObject({ ok: true, engine: 'txonly' });
    expect(samples.length).toBeGreaterThan(2);
    const after = await c.call('link.counters', { ifname: b });
    expect(after.rx.packets - before.rx.packets).toBeGreaterThan(100);

    // The connection dies: the agent's stdin closes, it removes all it made and exits.
    const lost = new Promise<LabError>((resolve) => c.onClose(resolve));
    process.kill(c.pid!, 'SIGKILL');
    expect((await lost).code).toBe('EPEERLOST');
    await until('the agent has exited', () => !alive(agentPid));
    expect(alive(server.pid)).toBe(false);
    expect(peer.inRemote('ip', ['netns', 'list'])).not.toContain(ns);
    expect(peer.inRemote('ip', ['-br', 'link', 'show'])).not.toContain(b);
    expect(existsSync(join(labStateDir(), `${labId}.json`))).toBe(false);
    await until('no process is left in the remote namespace but sshd', () => peer.remotePids().length === 0);
  }, 60_000);

  it('refuses a peer that runs another xdplab version, naming both', async () => {
    const err = await connect({ remoteCommand: `env XDPLAB_AGENT_FAKE_VERSION=9.9.9 ${peer.remoteCommand}` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LabError);
    expect((err as LabError).code).toBe('EVERSION');
    expect((err as LabError).message).toContain('9.9.9');
    expect((err as LabError).message).toContain(`xdplab ${VERSION}`);
    expect((err as LabError).message).toContain(peer.host);
    await until('the refused agent has exited', () => peer.remotePids().length === 0);
  }, 30_000);

  it('fails within the connect timeout, naming the host and what ssh said, for a host that does not answer', async () => {
    const filesBefore = ownStateFiles();
    const t0 = Date.now();
    const err = await connectPeer({ host: `root@${peer.silentAddress}`, ssh: peer.ssh, remoteCommand: peer.remoteCommand, connectTimeoutSeconds: 2 }).catch((e: unknown) => e);
    const elapsedMs = Date.now() - t0;
    expect(err).toBeInstanceOf(LabError);
    expect((err as LabError).code).toBe('ESSH');
    expect((err as LabError).message).toContain(`root@${peer.silentAddress}`);
    expect((err as LabError).message).toMatch(/timed out/i);
    expect(elapsedMs).toBeLessThan(6000);
    expect(ownStateFiles()).toEqual(filesBefore);
  }, 30_000);

  it('refuses a login the server does not accept, with ssh\'s words', async () => {
    const err = await connectPeer({ host: 'nobody@192.0.2.2', ssh: peer.ssh, remoteCommand: peer.remoteCommand, connectTimeoutSeconds: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LabError);
    expect((err as LabError).message).toMatch(/nobody@192\.0\.2\.2.*Permission denied/);
  }, 30_000);

  it('xdplab doctor --peer-host shows both hosts, as text and as JSON', async () => {
    const cli = (args: string[]) => new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'xdplab.js'), 'doctor', '--peer-host', peer.host, '--ssh', peer.ssh, ...args], {
        env: { ...process.env, XDPLAB_REMOTE_COMMAND: peer.remoteCommand },
      });
      let stdout = '', stderr = '';
      p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
      p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      p.once('close', (code) => resolve({ code, stdout, stderr }));
    });
    const text = await cli([]);
    expect(text.stdout).toMatch(/^== this host \(.+\) ==$/m);
    expect(text.stdout).toContain(`== peer ${peer.host} (`);
    expect(text.stdout.match(/^doctor: \d+ checks/gm)?.length).toBe(2);
    const json = await cli(['--json']);
    const j = JSON.parse(json.stdout) as { checks: unknown[]; peer: { ok: boolean; host: string; checks: unknown[]; xdplab: string } };
    expect(j.checks.length).toBeGreaterThan(3);
    expect(j.peer).toMatchObject({ ok: true, host: peer.host, xdplab: VERSION });
    expect(j.peer.checks.length).toBe(j.checks.length);
    // No agent left behind by either run.
    await until('the doctor agents have exited', () => peer.remotePids().length === 0);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).toContain(peer.remoteNs);
  }, 120_000);
});

suite('peer agent on signals (no ssh)', { root: true }, () => {
  for (const sig of ['SIGTERM', 'SIGHUP'] as const) {
    it(`removes what it made and exits on ${sig}`, async () => {
      const p = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'xdplab.js'), 'agent', '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
      const lines: string[] = [];
      let buf = '';
      p.stdout.on('data', (d: Buffer) => { buf += d.toString(); const parts = buf.split('\n'); buf = parts.pop()!; lines.push(...parts); });
      const closed = new Promise<number | null>((resolve) => p.once('close', (code) => resolve(code)));
      p.stdin.write(`${JSON.stringify({ type: 'hello', role: 'client', protocol: 2, xdplab: VERSION })}\n`);
      p.stdin.write(`${JSON.stringify({ type: 'request', id: 1, command: 'netns.create', args: { suffix: 's' } })}\n`);
      await until('the namespace is made', () => lines.some((l) => l.includes('"id":1')));
      const made = JSON.parse(lines.find((l) => l.includes('"id":1'))!) as { ok: boolean; result: { name: string } };
      expect(made.ok).toBe(true);
      expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).toContain(made.result.name);
      p.kill(sig);
      expect(await closed).toBe(143);
      expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(made.result.name);
    }, 30_000);
  }
});
