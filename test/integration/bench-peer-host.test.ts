// `xdplab bench --peer-host` across a real OpenSSH connection: the "remote host" is a namespace
// with its own sshd (test/helpers/ssh-peer.ts), joined to this host's DUT namespace by a second
// veth pair that carries the test traffic (the first carries ssh, as a management network does).
// txonly, rxonly and iperf3 run across it; then the ssh connection is killed mid-run.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Report } from '../../benchmarks/contracts/report.js';
import { PROJECT_ROOT } from '../../benchmarks/paths.js';
import { RunManager } from '../../benchmarks/runs/run-manager.js';
import { suite } from '../helpers/requirements.js';
import { SSHD, ownStateFiles, startSshPeer, until, type SshPeer } from '../helpers/ssh-peer.js';

const schema = JSON.parse(readFileSync(new URL('../../benchmarks/report/report.schema.json', import.meta.url), 'utf8'));



/** The local ssh processes that carry an agent session to `host`. */
function sshSessions(host: string): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,comm=,args='], { encoding: 'utf8' });
  return out.split('\n').map((l) => /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(l)).filter((m): m is RegExpExecArray => !!m)
    .filter((m) => m[2] === 'ssh' && m[3]!.includes(host) && m[3]!.includes('agent --stdio')).map((m) => Number(m[1]));
}

suite('xdplab bench --peer-host (sshd in a namespace)', { root: true, tools: [SSHD, 'ssh', 'ssh-keygen', 'nsenter', 'iperf3', 'ethtool'] }, () => {
  let peer: SshPeer;
  let dut: string, far: string;
  let dir: string;
  /** The namespaces the remote host sees before any run (the test's own, from its mount namespace). */
  let remoteNamespaces: string;
  /** This process's lab state files before any run (the harness's own lab). */
  let stateFiles: string[];
  const saved = process.env.XDPLAB_REMOTE_COMMAND;
  const xdpOn = (ifname: string, inRemote: boolean) => (inRemote ? peer.inRemote('ip', ['-d', 'link', 'show', 'dev', ifname]) : execFileSync('ip', ['-n', peer.localNs, '-d', 'link', 'show', 'dev', ifname], { encoding: 'utf8' })).includes('prog/xdp');
  const nothingLeft = async () => {
    await until('no agent or worker is left on the remote host', () => peer.remotePids().length === 0);
    expect(sshSessions(peer.host)).toEqual([]);
    expect(xdpOn(far, true)).toBe(false);
    expect(xdpOn(dut, false)).toBe(false);
    expect(peer.inRemote('ip', ['netns', 'list'])).toBe(remoteNamespaces);
    expect(ownStateFiles()).toEqual(stateFiles);
  };

  beforeAll(async () => {
    if (!existsSync(join(PROJECT_ROOT, 'dist', 'benchmarks', 'cli', 'main.js'))) throw new Error('build first: npx tsc -p tsconfig.json (the remote command runs dist/)');
    peer = await startSshPeer();
    process.env.XDPLAB_REMOTE_COMMAND = peer.remoteCommand;
    // The data link: the DUT's end here, the peer's end on the remote host, addresses on both.
    [dut, far] = peer.lab.addVethPair({ netns: peer.localNs, suffix: 'dd' }, { netns: peer.remoteNs, suffix: 'dp' });
    peer.lab.addAddress(peer.localNs, dut, '198.51.100.1/24');
    peer.lab.addAddress(peer.remoteNs, far, '198.51.100.2/24');
    dir = mkdtempSync(join(tmpdir(), 'xdplab-peerhost-'));
    remoteNamespaces = peer.inRemote('ip', ['netns', 'list']);
    stateFiles = ownStateFiles();
  }, 30_000);

  afterAll(async () => {
    if (saved === undefined) delete process.env.XDPLAB_REMOTE_COMMAND; else process.env.XDPLAB_REMOTE_COMMAND = saved;
    await peer?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('the CLI: txonly, rxonly and iperf3 across the peer host; both hosts in the report; nothing left on either side', async () => {
    const args = [join(PROJECT_ROOT, 'bin', 'xdplab.js'), 'bench', '--peer-host', peer.host, '--ssh', peer.ssh, '--ifname', dut, '--netns', peer.localNs, '--peer', far,
      '--engines', 'txonly,rxonly,iperf3', '--latency', '--modes', 'native', '--trials', '1', '--duration', '1', '--warmup', '0.3', '--out', dir, '--json'];
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, args, { env: { ...process.env, XDPLAB_REMOTE_COMMAND: peer.remoteCommand } });
      let stdout = '', stderr = '';
      p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
      p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      p.once('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(r.code, r.stderr).toBe(0);
    const reportDir = readdirSync(dir).map((d) => join(dir, d)).find((d) => existsSync(join(d, 'report.json')))!;
    const report = JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8')) as Report;
    const validate = new Ajv2020.default({ strict: false }).compile(schema);
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    expect(report.status).toBe('complete');
    const rows = Object.fromEntries(report.rows.map((x) => [x.id, x]));
    expect(Object.keys(rows)).toEqual(expect.arrayContaining(['txonly-native-64B', 'rxonly-native-64B', 'iperf3-peer-host', 'rtt-peer-host']));
    for (const row of report.rows) expect(row.status, `${row.id}: ${row.reason}`).toBe('ok');

    // txonly here into the drop sink there: the far end counted what was sent.
    const tx = rows['txonly-native-64B']!.trials[0]!.metrics;
    expect(tx.peerReceivedPackets).toBeGreaterThan(1000);
    expect(rows['txonly-native-64B']!.commandLines.join('\n')).toContain(`[${peer.host}] XDP drop program on ${far}`);
    // rxonly here of the generator there: what it offered is known, and no more was counted.
    const rx = rows['rxonly-native-64B']!.trials[0]!.metrics;
    expect(rx.packetsPerSecond).toBeGreaterThan(1000);
    expect(rx.offeredPacketsPerSecond).toBeGreaterThan(1000);
    expect(rx.packetsPerSecond).toBeLessThanOrEqual(rx.offeredPacketsPerSecond! * 1.05);
    expect(rows['rxonly-native-64B']!.commandLines.some((c) => c.startsWith(`[${peer.host}] `) && /worker\.js/.test(c))).toBe(true);
    // iperf3: the server there at the peer's address, the client here.
    const ip = rows['iperf3-peer-host']!;
    expect(ip.trials[0]!.metrics.bitsPerSecond).toBeGreaterThan(1e8);
    expect(ip.commandLines).toEqual([`[${peer.host}] iperf3 -s -p 5201 -B 198.51.100.2`, expect.stringMatching(new RegExp(`^ip netns exec ${peer.localNs} iperf3 -c 198\\.51\\.100\\.2 `))]);

    // Latency across hosts: round trips (ping, the peer's kernel reflects), said so in the row and the report.
    const rtt = rows['rtt-peer-host']!.trials[0]!;
    expect(rtt.latency).toMatchObject({ method: 'round-trip' });
    expect(rtt.latency!.count).toBeGreaterThanOrEqual(90);
    expect(rtt.latency!.minNs).toBeGreaterThan(0);
    expect(rtt.latency!.p50Ns).toBeLessThan(50e6);
    expect(rtt.metrics).toMatchObject({ sentPackets: 100, lostPackets: 0 });
    expect(rows['rtt-peer-host']!.commandLines).toEqual([`ip netns exec ${peer.localNs} ping -n -i 0.01 -c 100 -W 1 198.51.100.2`]);
    expect(report.peerHost!.latency).toMatch(/^round-trip .*one-way latency needs both clocks PTP-synchronised/);
    expect(report.environment.clock?.detail).toMatch(/PTP/);
    // Both "hosts" are this machine: the two sides' clock detection must agree.
    expect(report.peerHost!.environment.clock).toEqual(report.environment.clock);

    // Both hosts: this one's environment names the DUT only; the peer's is its own.
    expect(report.environment.interfaces.map((i) => i.name)).toEqual([dut]);
    const farMac = (JSON.parse(peer.inRemote('ip', ['-j', 'link', 'show', 'dev', far])) as Array<{ address: string }>)[0]!.address;
    expect(report.peerHost).toMatchObject({ host: peer.host, interface: { name: far, mac: farMac } });
    expect(report.peerHost!.environment.kernel).toBeTruthy();
    expect(report.peerHost!.sessions).toHaveLength(1);
    expect(report.peerHost!.sessions[0]!.commandLine).toContain('BatchMode=yes');
    console.log(`across the ssh peer: txonly ${(tx.packetsPerSecond! / 1e6).toFixed(3)} Mpps (${tx.peerReceivedPackets} arrived there), rxonly ${(rx.packetsPerSecond! / 1e6).toFixed(3)} of ${(rx.offeredPacketsPerSecond! / 1e6).toFixed(3)} Mpps offered, iperf3 ${(ip.trials[0]!.metrics.bitsPerSecond! / 1e9).toFixed(2)} Gbit/s, rtt p50 ${(rtt.latency!.p50Ns / 1e3).toFixed(0)} us p99 ${(rtt.latency!.p99Ns / 1e3).toFixed(0)} us`);
    await nothingLeft();
  }, 120_000);

  it('the ssh connection killed mid-run: that trial fails with the cause, its samples stay, the next trial connects again, nothing is left', async () => {
    const runs = new RunManager(dir);
    const seen: Array<{ trial: number }> = [];
    let killed = 0;
    const off = runs.on('sample', ({ sample }) => {
      seen.push(sample);
      // Mid-window in the first trial: the session's ssh dies as a dropped network would end it.
      if (!killed && sample.trial === 0 && seen.length >= 2) {
        for (const pid of sshSessions(peer.host)) { process.kill(pid, 'SIGKILL'); killed = pid; }
      }
    });
    const h = await runs.start({
      peerHost: peer.host, ssh: peer.ssh, ifname: dut, netns: peer.localNs, peer: far,
      tests: ['rxonly'], modes: ['native'], trials: 2, durationMs: 4000, warmupMs: 300, sampleIntervalMs: 250,
    });
    const report = await h.done;
    off();
    expect(killed).toBeGreaterThan(0);
    const row = report.rows.find((x) => x.id === 'rxonly-native-64B')!;
    expect(row.trials[0]).toMatchObject({ status: 'failed', error: expect.stringMatching(new RegExp(`connection to the peer ${peer.host.replace(/\./g, '\\.')} ended`)) });
    expect(row.trials[1]!.status, row.trials[1]!.error).toBe('ok');
    // The failed trial's samples are on disk.
    const lines = readFileSync(join(h.dir, 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { row: string; trial: number });
    expect(lines.filter((l) => l.trial === 0).length).toBeGreaterThanOrEqual(2);
    expect(report.peerHost!.sessions).toHaveLength(2);
    await nothingLeft();
  }, 120_000);

  it('a scenario file with peerHost: xdplab run FILE runs its rows across the peer host', async () => {
    const out = mkdtempSync(join(dir, 'file-'));
    const file = join(out, 'peer.json');
    writeFileSync(file, JSON.stringify({ title: 'txonly across the peer host', peerHost: peer.host, ssh: peer.ssh, ifname: dut, netns: peer.localNs, peer: far, tests: ['txonly'], modes: ['native'], trials: 1, durationMs: 500, warmupMs: 200 }));
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'xdplab.js'), 'run', file, '--out', out, '--json'], { env: { ...process.env, XDPLAB_REMOTE_COMMAND: peer.remoteCommand } });
      let stderr = '';
      p.stdout.resume();
      p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      p.once('close', (code) => resolve({ code, stderr }));
    });
    expect(r.code, r.stderr).toBe(0);
    const reportDir = readdirSync(out).map((d) => join(out, d)).find((d) => existsSync(join(d, 'report.json')))!;
    const report = JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8')) as Report;
    expect(report.rows.map((x) => `${x.id}:${x.status}`)).toEqual(['txonly-native-64B:ok']);
    expect(report.rows[0]!.trials[0]!.metrics.peerReceivedPackets).toBeGreaterThan(1000);
    expect(report.peerHost?.host).toBe(peer.host);
    await nothingLeft();
  }, 60_000);

  it('a peer interface that is not there: refused naming --peer and the host, before anything is made here', async () => {
    const runs = new RunManager(dir);
    const before = readdirSync(dir).length;
    await expect(runs.start({ peerHost: peer.host, ssh: peer.ssh, ifname: dut, netns: peer.localNs, peer: 'nosuchif0', tests: ['txonly'], modes: ['native'], trials: 1, durationMs: 500 }))
      .rejects.toMatchObject({ field: '--peer', message: expect.stringContaining(`no interface 'nosuchif0' on ${peer.host}`) });
    expect(readdirSync(dir).length).toBe(before);
    await nothingLeft();
  }, 60_000);
});
