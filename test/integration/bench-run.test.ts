// `xdplab bench` for real on the embedded lab: the report validates against its schema, every
// streamed sample is on disk, testpmd's reference rows stand beside xdplab's, bad input fails
// before anything is created, and a run whose link vanishes halfway says so.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { RunManager } from '../../benchmarks/runs/run-manager.js';
import { suite } from '../helpers/requirements.js';
import { createVethLab } from '../helpers/veth-lab.js';

const schema = JSON.parse(readFileSync(new URL('../../benchmarks/report/report.schema.json', import.meta.url), 'utf8'));
const namespaces = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });

suite('xdplab bench runs', { root: true, tools: ['ip', 'ethtool', 'dpdk-testpmd'] }, () => {
  let dir: string;
  let runs: RunManager;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'xdplab-bench-')); runs = new RunManager(dir); });
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it('txonly and rxonly with the testpmd reference and the XDP-drop ceiling: a valid, complete report', async () => {
    const samples: number[] = [];
    const off = runs.on('sample', () => samples.push(1));
    const h = await runs.start({ tests: ['txonly', 'rxonly'], modes: ['native'], durationMs: 1000, warmupMs: 300, trials: 2, reference: ['testpmd'] });
    const report = await h.done;
    off();
    expect(report.status).toBe('complete');
    expect(report.rows.map((r) => `${r.id}:${r.status}`)).toEqual([
      'txonly-native-64B:ok', 'txonly-native-64B-testpmd:ok', 'rxonly-native-64B:ok', 'rxonly-native-64B-testpmd:ok', 'rxonly-native-64B-xdp-drop:ok',
    ]);
    for (const r of report.rows) {
      expect(r.trials.length).toBe(2);
      expect(r.stats.packetsPerSecond!.median).toBeGreaterThan(1000);
      expect(r.commandLines.length).toBeGreaterThan(0);
    }
    expect(report.rows[1]!.commandLines.join(' ')).toMatch(/dpdk-testpmd .*--forward-mode=txonly/);
    expect(report.rows[0]!.attached).toEqual({ mode: 'native', zeroCopy: false });
    // xdplab sends a burst per system call.
    expect(report.rows[0]!.commandLines.join(' ')).toMatch(/"txBudget":256/);
    // Every generator-fed row says what was offered, and none counts more than that.
    for (const r of report.rows.filter((x) => x.test === 'rxonly')) {
      const offered = r.stats.offeredPacketsPerSecond?.median ?? NaN;
      expect(offered, r.id).toBeGreaterThan(1000);
      expect(r.stats.packetsPerSecond!.median, r.id).toBeLessThanOrEqual(offered * 1.05);
    }
    const files = readdirSync(h.dir).sort();
    expect(files).toEqual(['report.csv', 'report.html', 'report.json', 'samples.jsonl']);
    const onDisk = JSON.parse(readFileSync(join(h.dir, 'report.json'), 'utf8'));
    const validate = new Ajv2020.default({ strict: false }).compile(schema);
    expect(validate(onDisk), JSON.stringify(validate.errors)).toBe(true);
    const lines = readFileSync(join(h.dir, 'samples.jsonl'), 'utf8').trim().split('\n');
    expect(lines.length).toBe(samples.length);
    expect(lines.length).toBe(onDisk.samples.length);
    expect(samples.length).toBeGreaterThan(0);
    // The run's own namespaces are gone (others may come and go on a shared machine).
    const own = report.environment.interfaces.map((i) => i.netns!);
    expect(own.length).toBe(2);
    for (const ns of own) expect(namespaces()).not.toContain(ns);
    expect(runs.list()[0]!.runId).toBe(report.id);
  });

  it('interleaved trials run A B A B; a trial that other processes disturbed runs again', async () => {
    const logs: string[] = [];
    const off = runs.on('log', (l) => logs.push(l.message));
    // A CPU hog outside the run's process tree (its shell exits at once: it is reparented away).
    execFileSync('sh', ['-c', 'timeout 5 sh -c "while :; do :; done" >/dev/null 2>&1 &']);
    const h = await runs.start({ tests: ['txonly'], modes: ['skb'], reference: ['testpmd'], durationMs: 800, warmupMs: 200, trials: 2, interleave: true, quiet: { maxOtherCpus: 0.5, waitMs: 1500 } });
    const report = await h.done;
    off();
    expect(report.status).toBe('complete');
    const starts = report.rows.flatMap((r) => r.trials.map((t) => ({ at: t.startedAt, id: `${r.id}#${t.index}` }))).sort((x, y) => x.at.localeCompare(y.at)).map((x) => x.id);
    expect(starts).toEqual(['txonly-skb-64B#0', 'txonly-skb-64B-testpmd#0', 'txonly-skb-64B#1', 'txonly-skb-64B-testpmd#1']);
    expect(logs.some((l) => /trial 0: (disturbed \(.*\): run again|the machine did not go quiet)/.test(l))).toBe(true);
  }, 120_000);

  it('bad input is refused before anything is created, naming the flag and what it allows', async () => {
    const before = namespaces();
    const runsBefore = readdirSync(dir).length;
    const err = async (s: Record<string, unknown>): Promise<LabError> => {
      try { await runs.start(s); } catch (e) { return e as LabError; }
      throw new Error('expected an error');
    };
    expect((await err({ tests: ['txonly', 'fastest'] })).message).toMatch(/--engines: expected one of txonly, rxonly, io, macswap, iperf3/);
    expect((await err({ modes: ['drv'] })).message).toMatch(/--modes: expected one of native, skb/);
    expect((await err({ frameBytes: [4000] })).message).toMatch(/--frame-bytes: must be at most 3840/);
    expect((await err({ durationMs: 0 })).field).toBe('--duration');
    expect((await err({ ifname: 'xl-nope0', peer: 'xl-nope1' })).message).toMatch(/--ifname: no interface 'xl-nope0'/);
    const v = createVethLab();
    try {
      // The peer exists, but in another namespace than the one given.
      const e = await err({ ifname: v.ifA, netns: v.nsA, peer: v.ifB });
      expect(e.field).toBe('--peer');
      expect(e.hint).toMatch(/--peer-netns/);
    } finally {
      v.lab.close();
    }
    expect(readdirSync(dir).length).toBe(runsBefore); // no run directory for refused input
    expect(namespaces()).toBe(before);
  });

  it('a run whose link disappears halfway keeps what it measured and reports what failed', async () => {
    const v = createVethLab();
    try {
      const h = await runs.start({ tests: ['txonly', 'rxonly'], modes: ['native'], durationMs: 800, warmupMs: 200, trials: 1, ifname: v.ifB, netns: v.nsB, peer: v.ifA, peerNetns: v.nsA });
      let cut = false;
      const off = runs.on('runProgress', (p) => {
        if (!cut && p.rowIndex === 1) { cut = true; v.lab.ip(v.nsB, ['link', 'del', v.ifB]); }
      });
      const report = await h.done;
      off();
      expect(report.status).toBe('incomplete');
      expect(report.rows[0]!.status).toBe('ok');
      expect(report.rows[1]!.status).toBe('failed');
      expect(report.rows[1]!.reason).toMatch(/failed to get ifindex for 'xl-[0-9a-f]+-[ab]'/);
      const lines = readFileSync(join(h.dir, 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.filter((s) => s.row === report.rows[0]!.id).length).toBeGreaterThan(0);
      expect(JSON.parse(readFileSync(join(h.dir, 'report.json'), 'utf8')).status).toBe('incomplete');
    } finally {
      v.lab.close();
    }
  });
});
