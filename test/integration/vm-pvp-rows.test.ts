// PVP rows in the run model (--pvp): a tap row through the forwarding guest reports what came
// through, its loss and latency from the measuring receiver; a backend without host ends is a
// row that says why not; nothing of the VM outlives the run. Real QEMU (TCG), real AF_XDP.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RunManager } from '../../benchmarks/runs/run-manager.js';
import { suite } from '../helpers/requirements.js';

const QEMU = process.env.XDPLAB_QEMU || 'qemu-system-x86_64';

suite('PVP rows', { root: true, tools: ['ip', QEMU] }, () => {
  let dir: string;
  let runs: RunManager;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'xdplab-pvp-rows-')); runs = new RunManager(dir); });
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it('tap: frames through the guest\'s bridge with loss and latency; user: unavailable with the reason', async () => {
    const h = await runs.start({ tests: [], durationMs: 2000, trials: 1, warmupMs: 0, vm: { backends: ['tap', 'user'], tests: ['iperf3'], pvp: true } });
    const report = await h.done;
    const tap = report.rows.find((r) => r.id === 'tap/pvp')!;
    const user = report.rows.find((r) => r.id === 'user/pvp')!;
    expect(tap.status, tap.reason ?? tap.trials[0]?.error).toBe('ok');
    const t = tap.trials[0]!;
    expect(t.metrics.packetsPerSecond).toBeGreaterThan(100);
    expect(t.stream!.received).toBeGreaterThan(0);
    expect(t.stream!.received).toBeLessThanOrEqual(t.stream!.sent);
    expect(t.latency!.count).toBe(t.stream!.received - t.stream!.duplicated);
    expect(t.latency!.p50Ns).toBeGreaterThan(0);
    expect(tap.commandLines.join('\n')).toMatch(/\(guest\) .*br/);
    expect(user.status).toBe('unavailable');
    expect(user.reason).toMatch(/not available: .*slirp/);
    const qemus = (() => { try { return execFileSync('pgrep', ['-af', `qemu-system.*pvp-`], { encoding: 'utf8' }); } catch { return ''; } })();
    expect(qemus).not.toMatch(new RegExp(report.id));
  }, 240_000);
});
