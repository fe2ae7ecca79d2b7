// xdplab helper for real: the helper runs as root in a child process with a temporary socket and
// config; its clients run as uid 65534 with no capabilities (setpriv). It refuses interfaces and
// namespaces outside what a session may use, malformed requests and users the config does not
// allow; an unprivileged `xdplab bench --helper` completes its engine rows; and whatever a
// session made is gone once its client leaves (or dies) and once the helper stops.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { checkHelperCapabilities } from '../../benchmarks/helper/capabilities.js';
import { suite } from '../helpers/requirements.js';
import { exited, start, UNPRIVILEGED, type Child } from '../helpers/processes.js';
import { checkoutFor } from '../helpers/readable-checkout.js';
import { until } from '../helpers/wait.js';
import { createVethLab, type VethLab } from '../helpers/veth-lab.js';

const XDPLAB = fileURLToPath(new URL('../../bin/xdplab.js', import.meta.url));
const schema = JSON.parse(readFileSync(new URL('../../benchmarks/report/report.schema.json', import.meta.url), 'utf8'));
// stderr ignored: listing while the helper deletes a namespace prints "Peer netns reference is invalid.".
const namespaces = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
/** setpriv for another user with no capabilities (UNPRIVILEGED is uid/gid 65534). */
const asUser = (uid: number, gid: number) => UNPRIVILEGED.map((a) => a.replace('--reuid=65534', `--reuid=${uid}`).replace('--regid=65534', `--regid=${gid}`));

suite('xdplab helper', { root: true, tools: ['ip', 'ethtool', 'setpriv', 'nsenter'], asUser: UNPRIVILEGED }, () => {
  let dir: string;
  let sock: string;
  let config: string;
  let helper: Child;
  /** The helper runs inside v.nsB, whose v.ifB stands for a host interface its config allows. */
  let v: VethLab;
  const children: Child[] = [];
  /** What the clients run (the helper itself runs as root from this checkout). */
  const user = checkoutFor(UNPRIVILEGED);

  /** Runs the client fixture as uid:gid; returns its JSON lines once it exits (or holds). */
  const client = (requests: unknown[], o: { uid?: number; gid?: number; hold?: boolean } = {}): Child => {
    const c = start('setpriv', [...asUser(o.uid ?? 65534, o.gid ?? 65534), process.execPath, user.fixture('helper-client.mjs'), sock, JSON.stringify(requests), ...(o.hold ? ['hold'] : [])]);
    children.push(c);
    return c;
  };
  const answers = async (c: Child) => { await exited(c); return c.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)); };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xdplab-helper-'));
    chmodSync(dir, 0o755);
    for (const d of ['reports', 'state']) { mkdirSync(join(dir, d)); chmodSync(join(dir, d), 0o777); }
    sock = join(dir, 'helper.sock');
    config = join(dir, 'helper.json');
    // Group 65534 may open the socket file; only user 65534 may use the helper.
    v = createVethLab();
    writeFileSync(config, JSON.stringify({ socket: sock, socketMode: '0660', socketGroup: 65534, allowUsers: [65534], interfaces: [v.ifB] }));
    // nsenter --net, not ip netns exec: the helper must share the host's mount namespace, or the
    // namespaces it adds (bind mounts under /run/netns) would be invisible outside it.
    helper = start('nsenter', [`--net=/run/netns/${v.nsB}`, process.execPath, XDPLAB, 'helper', '--config', config]);
    children.push(helper);
    await helper.next((l) => l.includes('listening on'));
  });

  afterAll(async () => {
    // The helper first, gracefully, so that it removes what its sessions made even after a failure.
    if (helper && helper.proc.exitCode === null) { helper.proc.kill('SIGTERM'); await Promise.race([exited(helper), new Promise((r) => setTimeout(r, 10000))]); }
    for (const c of children) c.kill();
    v?.lab.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('listens on a socket file with the configured mode and group', () => {
    const st = statSync(sock);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o660);
    expect([st.uid, st.gid]).toEqual([0, 65534]);
  });

  it('refuses interfaces and namespaces a session was not allowed, and malformed requests, naming the field', async () => {
    const out = await answers(client([
      { op: 'topology' },
      { op: 'sockets', ifname: 'lo', mode: 'skb' },
      { op: 'sockets', netns: 'xl-someone-else', ifname: 'xl-x-d' },
      { op: 'counters', ifname: 'eth0' },
      'not a request',
      { op: 'reboot' },
      { op: 'sockets', ifname: 'eth0;reboot', queues: 'two' },
      { op: 'sockets', ifname: 'lo', extra: true },
      { op: 'release', handle: 7 },
    ]));
    expect(out[0]).toMatchObject({ ok: true, stage: 'connect', uid: 65534 });
    const topo = out[1];
    expect(topo.ok).toBe(true);
    const own = [topo.body.dut.netns, topo.body.peer.netns];
    const errs = out.slice(2).map((o) => o.error);
    expect(errs.map((e) => [e.code, e.field])).toEqual([
      ['ENOTALLOWED', 'request.ifname'],
      ['ENOTALLOWED', 'request.netns'],
      ['ENOTALLOWED', 'request.ifname'],
      ['EINVALIDOPTION', 'request.op'],
      ['EINVALIDOPTION', 'request.op'],
      ['EINVALIDOPTION', 'request.ifname'],
      ['EINVALIDOPTION', 'request.extra'],
      ['ENOENT', 'request.handle'],
    ]);
    // The refusal says what is allowed: the session's own interfaces and the config's list.
    expect(errs[0].message).toContain(`${topo.body.dut.ifname} in ${topo.body.dut.netns}`);
    expect(errs[0].message).toContain(`interfaces: [${v.ifB}]`);
    expect(errs[4].message).toMatch(/expected one of hello, topology, sockets, drop, release, counters, got "reboot"/);
    // The client has gone: its topology with it.
    await until('the session topology to be removed', () => own.every((ns) => !namespaces().includes(ns)));
  });

  it('refuses a user the config does not allow (SO_PEERCRED), and one the socket file keeps out', async () => {
    const inGroup = await answers(client([{ op: 'topology' }], { uid: 65533, gid: 65534 }));
    expect(inGroup[0]).toMatchObject({ ok: false, stage: 'connect', error: { code: 'EACCES', field: 'uid' } });
    expect(inGroup[0].error.message).toMatch(/user 65533 .*not allowed.*allowed: users \[65534\]/);
    const outside = await answers(client([{ op: 'topology' }], { uid: 65533, gid: 65533 }));
    expect(outside[0]).toMatchObject({ ok: false, stage: 'connect', error: { code: 'EACCES', field: 'helper' } });
  });

  it('an unprivileged xdplab bench --helper completes txonly and rxonly (skb) with a valid report', async () => {
    const out = join(dir, 'reports');
    const bench = start('setpriv', [...UNPRIVILEGED, 'env', `XDPLAB_STATE_DIR=${join(dir, 'state')}`, process.execPath, user.path('bin', 'xdplab.js'),
      'bench', '--helper', sock, '--engines', 'txonly,rxonly', '--modes', 'skb', '--quick', '--out', out, '--json']);
    children.push(bench);
    const code = await exited(bench);
    const runDir = readdirSync(out).map((d) => join(out, d)).find((d) => existsSync(join(d, 'report.json')));
    expect(runDir, `bench exited ${code}: ${bench.lines.slice(-5).join(' | ')}`).toBeDefined();
    const report = JSON.parse(readFileSync(join(runDir!, 'report.json'), 'utf8'));
    expect(report.rows.map((r: { id: string; status: string }) => `${r.id}:${r.status}`)).toEqual([
      'txonly-skb-64B:ok', 'rxonly-skb-64B:ok', 'rxonly-skb-64B-xdp-drop:unavailable',
    ]);
    expect(report.rows[2].reason).toMatch(/^needs root; run without --helper as root/);
    expect(report.status).toBe('complete');
    expect(code).toBe(0);
    for (const r of report.rows.slice(0, 2)) {
      expect(r.attached).toEqual({ mode: 'skb', zeroCopy: false });
      expect(r.stats.packetsPerSecond.median).toBeGreaterThan(0);
      // The workers opened their ports on sockets from the helper.
      expect(r.commandLines.join(' ')).toMatch(/"provided":\{"sockFds":"3","ifindex":\d+\}/);
    }
    expect(report.rows[0].trials[0].metrics.peerReceivedPackets).toBeGreaterThan(0);
    const validate = new Ajv2020.default({ strict: false }).compile(schema);
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    expect(statSync(join(runDir!, 'report.json')).uid).toBe(65534);
    // Once the engine has gone, so has everything the helper made for it.
    const own = report.environment.interfaces.map((i: { netns: string }) => i.netns);
    expect(own).toHaveLength(2);
    await until('the bench topology to be removed', () => own.every((ns: string) => !namespaces().includes(ns)));
  });

  const SESSION = [
    { op: 'topology' },
    { op: 'sockets', netns: '$dut.netns', ifname: '$dut.ifname', mode: 'skb' },
    { op: 'drop', netns: '$peer.netns', ifname: '$peer.ifname', mode: 'skb' },
    { op: 'counters', netns: '$peer.netns', ifname: '$peer.ifname' },
  ];
  const xdpOn = (netns: string, ifname: string) => /xdpgeneric/.test(execFileSync('ip', ['-n', netns, 'link', 'show', 'dev', ifname], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));

  /** A client holding a session with a topology, an XSK program + socket and a drop program. */
  async function heldSession(): Promise<{ c: Child; own: string[] }> {
    const c = client(SESSION, { hold: true });
    await c.next((l) => l === 'holding');
    const out = c.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    expect(out.map((o) => o.ok)).toEqual([true, true, true, true, true]);
    expect(out[2].body).toMatchObject({ mode: 'skb', queues: 1 });
    expect(out[2].fds).toBe(1);
    expect(out[4].body.rxPackets).toBeGreaterThanOrEqual(0);
    const topo = out[1].body;
    expect(xdpOn(topo.dut.netns, topo.dut.ifname)).toBe(true);
    expect(xdpOn(topo.peer.netns, topo.peer.ifname)).toBe(true);
    return { c, own: [topo.dut.netns, topo.peer.netns] };
  }

  it('serves a host interface its config allows (QEMU\'s case), and detaches when the client leaves', async () => {
    const c = client([{ op: 'sockets', ifname: v.ifB, mode: 'skb', queues: 1 }], { hold: true });
    await c.next((l) => l === 'holding');
    const out = c.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    expect(out[1]).toMatchObject({ ok: true, fds: 1, body: { mode: 'skb', queues: 1 } });
    expect(xdpOn(v.nsB, v.ifB)).toBe(true);
    c.proc.stdin!.end();
    await exited(c);
    await until('the program on the host interface to be detached', () => !xdpOn(v.nsB, v.ifB));
  });

  const labFiles = () => (existsSync('/run/xdplab/labs') ? readdirSync('/run/xdplab/labs') : []);

  it('a client killed mid-session leaves nothing: its namespaces, links and XDP programs go', async () => {
    const { c, own } = await heldSession();
    const id = own[0]!.split('-')[1]!;
    expect(labFiles()).toContain(`${id}.json`);
    c.kill();
    await until('the killed client\'s topology to be removed', () => own.every((ns) => !namespaces().includes(ns)));
    await until('the session\'s state file to be removed', () => !labFiles().includes(`${id}.json`));
  });

  it('when the helper stops, every session\'s namespaces and programs and the socket file go', async () => {
    const { c, own } = await heldSession();
    // Another session may not touch this one's interfaces.
    const other = await answers(client([{ op: 'sockets', netns: own[0], ifname: own[0] }]));
    expect(other[1].error).toMatchObject({ code: 'ENOTALLOWED', field: 'request.netns' });
    const id = own[0]!.split('-')[1]!;
    helper.proc.kill('SIGTERM');
    expect(await exited(helper)).toBe(0);
    expect(own.filter((ns) => namespaces().includes(ns))).toEqual([]);
    expect(existsSync(sock)).toBe(false);
    expect(labFiles()).not.toContain(`${id}.json`);
    c.proc.stdin!.end();
    await exited(c);
  });

  it('the helper says which capabilities it lacks', async () => {
    expect(() => checkHelperCapabilities('CapEff:\t0000000000003000\nCapAmb:\t0000000000000000\n', 1000))
      .toThrow(/CAP_SYS_ADMIN .*CAP_BPF .*effective and ambient/);
    const run = start('setpriv', [...UNPRIVILEGED, process.execPath, user.path('bin', 'xdplab.js'), 'helper', '--config', config, '--check']);
    let err = '';
    run.proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    children.push(run);
    expect(await exited(run)).toBe(1);
    expect(err).toMatch(/capabilities: xdplab helper needs CAP_NET_ADMIN/);
  });
});
