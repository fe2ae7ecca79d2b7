// `xdplab run benchmarks/scenarios/link-flap.json` for real (QEMU under TCG, iperf3): the CLI
// runs the shipped scenario file, the tap row's samples fall to about zero after the timeline's
// set_link off and recover after set_link on, both steps are command markers at their offsets,
// the user row (left alone) runs throughout, and a replay of that report schedules the markers
// at the same offsets. Nothing is left behind.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ReportSchema } from '../../benchmarks/contracts/report.js';
import { replaySchedule } from '../../renderer/src/lib/replay.js';
import { suite } from '../helpers/requirements.js';

const ROOT = join(import.meta.dirname, '..', '..');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

suite('xdplab run FILE (a shipped scenario, real VMs)', { root: true, tools: ['qemu-system-x86_64', 'iperf3', 'ip'] }, () => {
  const out = mkdtempSync(join(tmpdir(), 'xdplab-run-file-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('link-flap.json: the tap line falls to ~0 between set_link off and on and recovers; markers at their offsets; replay the same', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/xdplab.js'), 'run', join(ROOT, 'benchmarks/scenarios/link-flap.json'), '--out', out, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const code = await new Promise<number | null>((r) => child.once('close', r));
    expect(code, stderr.slice(-2000)).toBe(0);
    const report = ReportSchema.parse(JSON.parse(stdout.slice(stdout.indexOf('{'))));
    expect(report.command.slice(0, 2)).toEqual(['xdplab', 'run']);
    expect(report.rows.map((r) => `${r.id}:${r.status}`)).toEqual(['tap/iperf3:ok', 'user/iperf3:ok']);
    const steps = report.markers.filter((m) => m.source === 'timeline');
    expect(steps.map((m) => `${m.row} ${m.name} ${m.ok}`)).toEqual(['tap/iperf3 set_link true', 'tap/iperf3 set_link true']);
    expect(Math.abs(steps[0]!.tMs - 3000)).toBeLessThan(500);
    expect(Math.abs(steps[1]!.tMs - 5000)).toBeLessThan(500);
    const tap = report.samples.filter((s) => s.row === 'tap/iperf3' && s.metrics.bitsPerSecond !== undefined);
    const before = median(tap.filter((s) => s.tMs + s.intervalMs <= steps[0]!.tMs).map((s) => s.metrics.bitsPerSecond!));
    // Samples wholly inside the outage (a sample's tMs is the start of its interval).
    const down = tap.filter((s) => s.tMs >= steps[0]!.tMs + 200 && s.tMs + s.intervalMs <= steps[1]!.tMs).map((s) => s.metrics.bitsPerSecond!);
    const after = tap.filter((s) => s.tMs > steps[1]!.tMs + 1000 && s.tMs < 8000).map((s) => s.metrics.bitsPerSecond!);
    expect(before).toBeGreaterThan(0);
    expect(down.length).toBeGreaterThan(2);
    for (const v of down) expect(v).toBeLessThan(before * 0.05);
    expect(Math.max(...after)).toBeGreaterThan(before * 0.1);
    // The user row had no steps: it carried traffic across the same window.
    const user = report.samples.filter((s) => s.row === 'user/iperf3' && s.tMs > 3500 && s.tMs < 5000);
    expect(user.some((s) => (s.metrics.bitsPerSecond ?? 0) > 0)).toBe(true);
    // A replay of this report draws the markers at the offsets the report holds (one trial: 1x).
    const schedule = replaySchedule(report);
    const replayed = schedule.items.flatMap((i) => ('marker' in i ? [{ atMs: i.atMs, m: i.marker }] : []));
    expect(replayed.filter((r) => r.m.source === 'timeline').map((r) => r.atMs)).toEqual(steps.map((m) => Math.max(0, m.tMs)));
    // The run's report directory holds what it wrote; no VM outlives it.
    expect(readdirSync(out)).toHaveLength(1);
    expect(readFileSync(join(out, readdirSync(out)[0]!, 'report.html'), 'utf8')).toContain('set_link');
  }, 240_000);
});
