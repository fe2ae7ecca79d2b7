// The report's environments as rows (benchmarks/report/environment-rows.ts), as report.html and
// the app's report view show them: this host's, and the peer host's when the run had one.
import { describe, expect, it } from 'vitest';
import type { PeerHost } from '../../benchmarks/contracts/report.js';
import { environmentRows, peerHostRows } from '../../benchmarks/report/environment-rows.js';
import { reportHtml } from '../../benchmarks/report/html.js';
import { sampleReport } from '../helpers/sample-report.js';

const report = sampleReport('envrows', () => 1e6);
const peer: PeerHost = {
  host: 'root@gen<1>',
  environment: { ...report.environment, hostname: 'gen', kernel: '6.1.0-remote', clock: { ptp: false, detail: 'no PTP hardware clock' } },
  interface: { name: 'enp2s0', netns: 'far', mac: '02:00:00:00:00:02', mtu: 1500 },
  sessions: [
    { commandLine: 'ssh -T -o BatchMode=yes root@gen xdplab agent --stdio', hostname: 'gen', pid: 4242 },
    { commandLine: 'ssh -T -o BatchMode=yes root@gen xdplab agent --stdio' },
  ],
  ran: 'there: the peer\'s generator',
  latency: 'round-trip (ping): one-way latency needs both clocks PTP-synchronised',
};

describe('environment rows', () => {
  it('this host: the fields in order, every tool and interface, the clock when the report has it', () => {
    const { clock: _clock, ...withoutClock } = report.environment;
    const env = { ...withoutClock, tools: { iperf3: '3.12', qemu: '10.0.2' }, interfaces: [{ name: 'veth0', netns: 'dut', driver: 'veth' }] };
    const rows = environmentRows(env);
    expect(rows.map(([k]) => k)).toEqual(['host', 'kernel', 'CPU', 'memory', 'node', 'xdplab', 'iperf3', 'qemu', 'interface veth0']);
    expect(Object.fromEntries(rows)['interface veth0']).toBe('veth in dut');
    expect(environmentRows({ ...env, clock: { ptp: true, detail: 'phc2sys: synchronised' } }).at(-1)).toEqual(['clock', 'phc2sys: synchronised']);
  });

  it('the peer host: who, its interface, what ran there, the latency method, each ssh session, then its environment', () => {
    const rows = peerHostRows(peer);
    expect(rows.slice(0, 6)).toEqual([
      ['peer host', 'root@gen<1>'],
      ['its interface', 'enp2s0 in far, 02:00:00:00:00:02, MTU 1500'],
      ['ran there', 'there: the peer\'s generator'],
      ['latency', peer.latency],
      ['ssh session 1', 'ssh -T -o BatchMode=yes root@gen xdplab agent --stdio (on gen, pid 4242)'],
      ['ssh session 2', 'ssh -T -o BatchMode=yes root@gen xdplab agent --stdio'],
    ]);
    expect(Object.fromEntries(rows.slice(6))).toMatchObject({ host: 'gen', kernel: '6.1.0-remote', clock: 'no PTP hardware clock' });
  });

  it('report.html: a peer-host table only when the run had a peer host, its text escaped', () => {
    expect(reportHtml(report)).not.toContain('id="peer-host"');
    const html = reportHtml({ ...report, peerHost: peer });
    const table = html.slice(html.indexOf('<table id="peer-host">'));
    expect(html).toContain('<h2>Peer host root@gen&lt;1&gt;</h2>');
    expect(table).toContain('<tr><th>kernel</th><td>6.1.0-remote</td></tr>');
    expect(table).toContain('<tr><th>ssh session 1</th>');
    expect(html).not.toContain('root@gen<1>');
  });
});
