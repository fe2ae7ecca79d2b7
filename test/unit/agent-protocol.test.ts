// The peer agent's protocol: its schemas refuse bad requests with the field named, the hello
// checks both versions, and the ssh command line is built and split as documented.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argsError } from '../../benchmarks/agent/args-error.js';
import { splitCommandLine, sshArgv } from '../../benchmarks/agent/peer-client.js';
import { AGENT_PROTOCOL_VERSION, AgentCommands, AgentHelloSchema, versionMismatch, type AgentCommandName } from '../../benchmarks/contracts/agent.js';
import { LabError } from '../../benchmarks/contracts/errors.js';

function refused(command: AgentCommandName, args: unknown): LabError {
  const r = AgentCommands[command].args.safeParse(args);
  if (r.success) throw new Error(`${command} accepted ${JSON.stringify(args)}`);
  return argsError(command, r.error.issues, args);
}

describe('agent request schemas', () => {
  it('refuse bad arguments, naming the field and the command', () => {
    expect(refused('netns.create', { suffix: 'Bad!' })).toMatchObject({ field: 'suffix', message: expect.stringMatching(/^netns\.create: suffix: must be 1-5 lowercase/) });
    expect(refused('netns.create', {}).field).toBe('suffix');
    expect(refused('veth.create', { a: { suffix: 'a' }, b: { suffix: 'toolong' } }).field).toBe('b.suffix');
    expect(refused('addr.add', { ifname: 'eth0', cidr: '10.0.0.1' })).toMatchObject({ field: 'cidr', message: expect.stringContaining('192.0.2.1/24') });
    expect(refused('addr.add', { ifname: 'an-interface-name-too-long', cidr: '10.0.0.1/24' }).field).toBe('ifname');
    expect(refused('iperf3.server.start', { address: '10.0.0.1', port: 70000 })).toMatchObject({ field: 'port', message: expect.stringContaining('at most 65535') });
    expect(refused('worker.start', { spec: { ifname: 'veth0', engine: 'warp' } }).field).toBe('spec.engine');
    expect(refused('worker.start', { spec: { ifname: 'veth0', engine: 'rxonly', rate: 1000 } }).field).toBe('spec.rate');
    expect(refused('link.counters', { ifname: 'lo', extra: 1 }).field).toBe('extra');
    expect(refused('iperf3.server.stop', { id: '../x' }).field).toBe('id');
  });

  it('accept what the client sends, with defaults', () => {
    expect(AgentCommands['iperf3.server.start'].args.parse({ address: '192.0.2.1' })).toEqual({ address: '192.0.2.1', port: 5201 });
    expect(AgentCommands['veth.create'].args.parse({ a: { netns: 'xl-abcdef-p', suffix: 'pa' }, b: { suffix: 'pb' } })).toBeTruthy();
    expect(AgentCommands.environment.args.parse({})).toEqual({});
  });

  it('hello carries both versions; a mismatch names both', () => {
    expect(AgentHelloSchema.safeParse({ type: 'hello', role: 'client', xdplab: '0.1.0' }).success).toBe(false);
    const m = versionMismatch({ protocol: AGENT_PROTOCOL_VERSION, xdplab: '0.1.0' }, { protocol: AGENT_PROTOCOL_VERSION, xdplab: '9.9.9' }, 'peer h');
    expect(m?.code).toBe('EVERSION');
    expect(m?.message).toContain('xdplab 9.9.9');
    expect(m?.message).toContain('xdplab 0.1.0');
    expect(versionMismatch({ protocol: 1, xdplab: '0.1.0' }, { protocol: 2, xdplab: '0.1.0' }, 'peer h')?.message).toContain('agent protocol 2');
    expect(versionMismatch({ protocol: 1, xdplab: '0.1.0' }, { protocol: 1, xdplab: '0.1.0' }, 'peer h')).toBeUndefined();
  });
});

describe('ssh command line', () => {
  it('splits like a shell does for simple cases', () => {
    expect(splitCommandLine('ssh -F /tmp/x')).toEqual(['ssh', '-F', '/tmp/x']);
    expect(splitCommandLine(`  ssh  -o 'ProxyJump a b'  -F "/my dir/cfg" a\\ b ""`)).toEqual(['ssh', '-o', 'ProxyJump a b', '-F', '/my dir/cfg', 'a b', '']);
    expect(splitCommandLine('ssh -o "x=\\"q\\""')).toEqual(['ssh', '-o', 'x="q"']);
    expect(() => splitCommandLine("ssh 'open")).toThrow(/unterminated ' quote/);
  });

  it('puts the user\'s options first, then -T, BatchMode, ConnectTimeout, the host and the remote command', () => {
    expect(sshArgv({ host: 'root@peer', ssh: 'ssh -F cfg', connectTimeoutSeconds: 2, env: {} }))
      .toEqual(['ssh', '-F', 'cfg', '-T', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=2', 'root@peer', 'xdplab agent --stdio']);
    expect(sshArgv({ host: 'peer', env: { XDPLAB_SSH: 'ssh -p 2222', XDPLAB_REMOTE_COMMAND: 'node /opt/x/bin/xdplab.js' } }))
      .toEqual(['ssh', '-p', '2222', '-T', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', 'peer', 'node /opt/x/bin/xdplab.js agent --stdio']);
    expect(() => sshArgv({ host: '-oProxyCommand=x', env: {} })).toThrow(/peerHost: expected \[USER@\]HOST/);
    expect(() => sshArgv({ host: 'a b', env: {} })).toThrow(LabError);
  });
});

describe('the agent in-process (streams, no ssh)', () => {
  let stateDir: string;
  const saved = process.env.XDPLAB_STATE_DIR;
  beforeAll(() => { stateDir = mkdtempSync(join(tmpdir(), 'xdplab-agent-unit-')); process.env.XDPLAB_STATE_DIR = stateDir; });
  afterAll(() => {
    if (saved === undefined) delete process.env.XDPLAB_STATE_DIR; else process.env.XDPLAB_STATE_DIR = saved;
    rmSync(stateDir, { recursive: true, force: true });
  });

  async function session(lines: unknown[], env: Record<string, string> = {}): Promise<{ code: number; out: Array<Record<string, unknown>> }> {
    const { runAgent } = await import('../../benchmarks/agent/agent.js');
    const input = new PassThrough();
    const output = new PassThrough();
    let text = '';
    output.on('data', (d: Buffer) => { text += d.toString(); });
    const old = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    const done = runAgent({ input, output, log: () => undefined });
    for (const k of Object.keys(env)) { if (old[k] === undefined) delete process.env[k]; else process.env[k] = old[k]; }
    for (const l of lines) input.write(typeof l === 'string' ? `${l}\n` : `${JSON.stringify(l)}\n`);
    await new Promise((r) => setTimeout(r, 100));
    input.end();
    const code = await done;
    return { code, out: text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
  }
  const hello = { type: 'hello', role: 'client', protocol: AGENT_PROTOCOL_VERSION, xdplab: '0.1.0' };

  it('answers bad requests with the field named and keeps going', async () => {
    const { code, out } = await session([
      hello,
      { type: 'request', id: 1, command: 'netns.create', args: { suffix: 'NO' } },
      { type: 'request', id: 2, command: 'teleport', args: {} },
      'not json',
      { type: 'request', id: 'x', command: 'doctor' },
    ]);
    expect(code).toBe(0);
    expect(out[0]).toMatchObject({ type: 'hello', role: 'agent', protocol: AGENT_PROTOCOL_VERSION });
    const byId = (id: number) => out.find((m) => m.type === 'response' && m.id === id);
    expect(byId(1)).toMatchObject({ ok: false, error: { code: 'EINVALIDOPTION', field: 'suffix' } });
    expect(byId(2)).toMatchObject({ ok: false, error: { code: 'EUNKNOWNCOMMAND', field: 'command' } });
    const bad = out.filter((m) => m.type === 'response' && m.id === -1);
    expect(bad.map((m) => (m.error as { code: string }).code)).toEqual(['EPROTOCOL', 'EINVALIDOPTION']);
    expect((bad[1]!.error as { field: string }).field).toBe('id');
  });

  it('refuses a client of another version, naming both, and exits 1', async () => {
    const { code, out } = await session([{ ...hello, xdplab: '7.7.7' }]);
    expect(code).toBe(1);
    expect(out[1]).toMatchObject({ type: 'fatal', error: { code: 'EVERSION' } });
    expect(String((out[1]!.error as { message: string }).message)).toMatch(/xdplab 7\.7\.7 .*xdplab 0\.1\.0/);
  });

  it('claims the fake version when told to (for tests), and refuses a first message that is not a hello', async () => {
    const fake = await session([hello], { XDPLAB_AGENT_FAKE_VERSION: '9.9.9' });
    expect(fake.out[0]).toMatchObject({ xdplab: '9.9.9' });
    expect(fake.out[1]).toMatchObject({ type: 'fatal', error: { code: 'EVERSION' } });
    const noHello = await session([{ type: 'request', id: 1, command: 'doctor', args: {} }]);
    expect(noHello.code).toBe(1);
    expect(noHello.out[1]).toMatchObject({ type: 'fatal', error: { field: 'hello.type' } });
  });
});
