// Faults during real bench runs, each caused for real: the peer namespace removed mid-trial,
// the iperf3 server killed mid-test, dpdk-testpmd unable to start (its interface already has
// an XDP program). Each ends the affected row with a reason that names the cause, and the rows
// after it run (the embedded lab is rebuilt when a fault damaged it). Also iperf3 with
// parallel streams in reverse through xdplab's forwarder.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withNetns } from '../../native/sys/netns.js';
import { XdpDropProgram } from '../../native/xdp/drop-program.js';
import type { Report } from '../../benchmarks/contracts/report.js';
import { RunManager } from '../../benchmarks/runs/run-manager.js';
import { suite } from '../helpers/requirements.js';

const namespaces = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);

suite('faults during xdplab bench runs', { root: true, tools: ['ip', 'ethtool', 'iperf3', 'pgrep'] }, () => {
  let dir: string;
  let runs: RunManager;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'xdplab-faults-')); runs = new RunManager(dir); });
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  /** The interfaces the run uses now, from its report.json (saved when they change). */
  const interfacesOf = (runDir: string): Report['environment']['interfaces'] =>
    (JSON.parse(readFileSync(join(runDir, 'report.json'), 'utf8')) as Report).environment.interfaces;

  it('the peer namespace removed mid-trial: that row fails naming it, the lab is rebuilt, the next rows run', async () => {
    const logs: string[] = [];
    const offLog = runs.on('log', (l) => logs.push(l.message));
    const h = await runs.start({ tests: ['txonly', 'rxonly'], modes: ['skb'], durationMs: 1500, warmupMs: 200, trials: 1 });
    let removed = '';
    const off = runs.on('runProgress', (p) => {
      if (removed || p.rowIndex !== 0 || p.phase !== 'measure') return;
      removed = interfacesOf(h.dir)[1]!.netns!;
      execFileSync('ip', ['netns', 'del', removed]);
    });
    const report = await h.done;
    off(); offLog();
    expect(removed).toMatch(/^xl-[0-9a-f]{6}-p$/);
    expect(report.rows.map((r) => `${r.id}:${r.status}`)).toEqual(['txonly-skb-64B:failed', 'rxonly-skb-64B:ok', 'rxonly-skb-64B-xdp-drop:ok']);
    expect(report.rows[0]!.reason).toContain(`namespace ${removed} is gone`);
    expect(logs.some((l) => l.includes('rebuilt it'))).toBe(true);
    expect(report.environment.interfaces.map((i) => i.netns)).toEqual([removed.replace(/p$/, 'd1'), removed.replace(/p$/, 'p1')]);
    expect(report.status).toBe('incomplete');
    for (const i of report.environment.interfaces) expect(namespaces()).not.toContain(i.netns);
  }, 120_000);

  it('the iperf3 server killed mid-test: that row fails saying so, the next rows run', async () => {
    const before = new Set(namespaces());
    const h = await runs.start({ tests: ['iperf3'], modes: ['skb'], durationMs: 3000, trials: 1 });
    let killed = 0;
    const off = runs.on('runProgress', (p) => {
      if (killed || p.row !== 'iperf3-kernel-bridge' || p.phase !== 'measure') return;
      killed = -1;
      setTimeout(() => {
        // This run's server: an iperf3 -s in a namespace created since the run started.
        const pids = spawnSync('pgrep', ['-f', '^iperf3 -s -1 '], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
        for (const pid of pids) {
          const ns = spawnSync('ip', ['netns', 'identify', String(pid)], { encoding: 'utf8' }).stdout.trim();
          if (ns && !before.has(ns)) { process.kill(pid, 'SIGKILL'); killed = pid; }
        }
      }, 1200);
    });
    const report = await h.done;
    off();
    expect(killed).toBeGreaterThan(0);
    const row = (id: string) => report.rows.find((r) => r.id === id)!;
    expect(row('iperf3-skb').status).toBe('ok');
    expect(row('iperf3-kernel-bridge').status).toBe('failed');
    expect(row('iperf3-kernel-bridge').reason).toMatch(new RegExp(`the iperf3 server \\(pid ${killed}, in xl-[0-9a-f]{6}-b\\) died during the test \\(SIGKILL\\); the client said: `));
    expect(row('iperf3-testpmd').status).toBe(spawnSync('which', ['dpdk-testpmd']).status === 0 ? 'ok' : 'unavailable');
  }, 180_000);

  it('dpdk-testpmd cannot start (its interface has an XDP program already): that row fails with its output, the next rows run', async (ctx) => {
    if (spawnSync('which', ['dpdk-testpmd']).status !== 0) ctx.skip('dpdk-testpmd is not installed (npm run setup installs it)');
    const h = await runs.start({ tests: ['txonly'], modes: ['native', 'skb'], reference: ['testpmd'], durationMs: 1000, warmupMs: 200, trials: 1 });
    let blocker: XdpDropProgram | undefined;
    const off = runs.on('runProgress', (p) => {
      // 'setup' is emitted right before the trial starts its tools: the fault is in place first.
      if (p.row === 'txonly-native-64B-testpmd' && p.phase === 'setup' && !blocker) {
        const dut = interfacesOf(h.dir)[0]!;
        blocker = withNetns(dut.netns, () => XdpDropProgram.attachTo(dut.name, 'native'));
      } else if (p.rowIndex >= 2 && blocker) {
        blocker.detach();
      }
    });
    let report: Report;
    try {
      report = await h.done;
    } finally {
      off();
      blocker?.detach();
    }
    expect(blocker).toBeDefined();
    expect(report.rows.map((r) => `${r.id}:${r.status}`)).toEqual(['txonly-native-64B:ok', 'txonly-native-64B-testpmd:failed', 'txonly-skb-64B:ok', 'txonly-skb-64B-testpmd:ok']);
    expect(report.rows[1]!.reason).toMatch(/testpmd exited \(\d+\) before forwarding: ip netns exec xl-\S+ dpdk-testpmd/);
    expect(report.rows[1]!.reason).toMatch(/af_xdp|xsk|XDP/i);
  }, 180_000);

  it('iperf3 through xdplab with parallel streams, reversed: every stream crosses the forwarder', async () => {
    const h = await runs.start({ tests: ['iperf3'], modes: ['skb'], parallel: 2, reverse: true, durationMs: 2000, trials: 1 });
    const report = await h.done;
    const row = report.rows.find((r) => r.id === 'iperf3-skb')!;
    expect(row.status, row.reason).toBe('ok');
    expect(row.commandLines.join('\n')).toMatch(/iperf3 -c 198\.18\.0\.2 .*-P 2 .*-R/);
    expect(row.trials[0]!.metrics.streams).toBe(2);
    expect(row.trials[0]!.metrics.bitsPerSecond).toBeGreaterThan(1e6);
    expect(row.trials[0]!.metrics.sentBitsPerSecond).toBeGreaterThan(1e6);
    expect(row.attached).toEqual({ mode: 'skb', zeroCopy: false });
  }, 180_000);
});
