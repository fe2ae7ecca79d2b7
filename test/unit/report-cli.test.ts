// `xdplab report compare` on reports written to disk: the planted 2x row is flagged, a rerun-like
// twin is not, and a path that is no report gets a clear error. `xdplab report show`: rows, and a
// v3 report's searches, latency and sweeps.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../benchmarks/cli/main.js';
import { ReportWriter } from '../../benchmarks/report/writer.js';
import { sampleReport, searchReport } from '../helpers/sample-report.js';

const dir = mkdtempSync(join(tmpdir(), 'xdplab-cli-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(id: string, rate: (r: number, t: number, k: number) => number): string {
  const w = new ReportWriter(dir, sampleReport(id, rate));
  w.finish('complete');
  return w.dir;
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await main(args, { out: (t) => { out += t; }, err: (t) => { err += t; } });
  return { code, out, err };
}

describe('xdplab report compare', () => {
  const noise = (seed: number) => (r: number, t: number, k: number) => 1e6 * (1 + 0.03 * Math.sin(seed * 7 + r * 3 + t * 5 + k * 11));
  const a = write('aaaaaa', noise(1));
  const b = write('bbbbbb', (r, t, k) => 2 * noise(2)(r, t, k));
  const c = write('cccccc', noise(3));

  it('flags the planted 2x difference', async () => {
    const r = await cli(['report', 'compare', a, b, '--out', dir]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/txonly\/xdplab\/native\/64\/1\s+packetsPerSecond.*\+\d+\.\d%\s+BEYOND NOISE \(trials\)/);
  });

  it('does not flag a second run of the same scenario; run ids work too', async () => {
    const r = await cli(['report', 'compare', 'aaaaaa', 'cccccc', '--out', dir]);
    expect(r.code).toBe(0);
    expect(r.out).not.toMatch(/BEYOND NOISE/);
    expect(r.out).toMatch(/within noise/);
  });

  it('refuses what is not a report, naming it', async () => {
    const r = await cli(['report', 'compare', '/nonexistent', a, '--out', dir]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/report: '\/nonexistent' is not a run directory/);
    expect((await cli(['report', 'compare', a])).code).toBe(2);
  });
});

describe('xdplab report show', () => {
  it('a v3 report: every row, then NDR/PDR with bounds and tolerance, latency percentiles, the sweep', async () => {
    const w = new ReportWriter(dir, searchReport('showv3'));
    w.finish('complete');
    const { code, out } = await cli(['report', 'show', w.dir]);
    expect(code).toBe(0);
    expect(out).toMatch(/^ndr-rxonly-native-imix\s+imix \(mean 353B\)/m);
    expect(out).toMatch(/^ndr-rxonly-native-64B\s+NDR\s+2\.000 Mpps\s+1\.344 Gbps  bounds 2\.000–2\.060  loss ≤ 0%  converged$/m);
    expect(out).toMatch(/^ndr-rxonly-native-imix\s+PDR .* NOT CONVERGED$/m);
    expect(out).toMatch(/note: PDR did not converge: time cap reached after 42 s/);
    expect(out).toMatch(/note: generator-bound/);
    expect(out).toMatch(/^latency-rxonly-native-64B-3\s+90% of PDR\s+22\.0\s+27\.5/m);
    expect(out).toMatch(/rxonly native \[xdplab\] \(NDR\): 64B 2\.000 \/ 1\.344, 1518B 0\.800/);
  });
  it('a report without searches: its rows only', async () => {
    const { code, out } = await cli(['report', 'show', write('showv1', () => 1e6)]);
    expect(code).toBe(0);
    expect(out).toMatch(/^txonly-native\s+64B\s+1\.000\s+0\.672  ok$/m);
    expect(out).not.toMatch(/Rate searches|Latency/);
  });
});
