// The measured boot time per QEMU binary, cached in the lab's state dir (a temp one here): the
// median of the latest boots, forgotten when the binary changes (size or mtime) or its
// accelerator does, never taken for a lab by the leftover sweep; and the run plan's estimate
// from it, saying whether it is measured or assumed.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findLeftovers } from '../../benchmarks/lab/state.js';
import { BOOTS_KEPT, bootTimesFile, measuredBoot, recordBoot } from '../../benchmarks/qemu/boot-times.js';
import { RunManager } from '../../benchmarks/runs/run-manager.js';
import { itNeeds } from '../helpers/requirements.js';

describe('boot times per QEMU binary', () => {
  let dir: string;
  let state: string;
  let binary: string;
  const saved = process.env.XDPLAB_STATE_DIR;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'xl-boot-times-'));
    state = join(dir, 'labs');
    mkdirSync(state);
    binary = join(dir, 'qemu-system-x86_64');
    writeFileSync(binary, '#!/bin/sh\n', { mode: 0o755 });
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.XDPLAB_STATE_DIR; else process.env.XDPLAB_STATE_DIR = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it('nothing measured: undefined; then the median of the latest boots, at most BOOTS_KEPT of them', () => {
    expect(measuredBoot(binary, state)).toBeUndefined();
    recordBoot(binary, 'tcg', 3000, state);
    expect(measuredBoot(binary, state)).toEqual({ bootMs: 3000, boots: 1, accel: 'tcg', path: binary });
    recordBoot(binary, 'tcg', 2000, state);
    recordBoot(binary, 'tcg', 9000, state);
    expect(measuredBoot(binary, state)).toMatchObject({ bootMs: 3000, boots: 3 });
    for (let i = 0; i < 20; i++) recordBoot(binary, 'tcg', 1000 + i, state);
    expect(measuredBoot(binary, state)).toMatchObject({ bootMs: 1015, boots: BOOTS_KEPT });
    // Nonsense is not recorded.
    recordBoot(binary, 'tcg', Number.NaN, state);
    recordBoot(binary, 'tcg', -5, state);
    expect(measuredBoot(binary, state)!.boots).toBe(BOOTS_KEPT);
    expect(bootTimesFile(state)).toBe(join(state, 'cache', 'boot-times.json'));
  });

  it('a rebuilt binary (other mtime or size) or another accelerator starts afresh; a torn file is no cache', () => {
    recordBoot(binary, 'tcg', 3000, state);
    utimesSync(binary, new Date(), new Date(Date.now() + 60_000));
    expect(measuredBoot(binary, state)).toBeUndefined();
    recordBoot(binary, 'tcg', 2500, state);
    expect(measuredBoot(binary, state)).toMatchObject({ bootMs: 2500, boots: 1 });
    recordBoot(binary, 'kvm', 400, state);
    expect(measuredBoot(binary, state)).toEqual({ bootMs: 400, boots: 1, accel: 'kvm', path: binary });
    writeFileSync(binary, '#!/bin/sh\n# rebuilt, longer\n');
    expect(measuredBoot(binary, state)).toBeUndefined();
    writeFileSync(bootTimesFile(state), '{"version":1,"binar');
    expect(measuredBoot(binary, state)).toBeUndefined();
    recordBoot(binary, 'tcg', 2700, state);
    expect(measuredBoot(binary, state)).toMatchObject({ bootMs: 2700, boots: 1 });
    // A missing binary: no measurement, no throw.
    expect(measuredBoot(join(dir, 'gone'), state)).toBeUndefined();
    expect(() => recordBoot(join(dir, 'gone'), 'tcg', 1000, state)).not.toThrow();
  });

  it('the cache lives in the state dir without looking like a lab to the leftover sweep', () => {
    process.env.XDPLAB_STATE_DIR = state;
    recordBoot(binary, 'tcg', 3000);
    expect(readdirSync(state)).toEqual(['cache']);
    expect(measuredBoot(binary)).toMatchObject({ bootMs: 3000 });
    expect(findLeftovers().labs).toEqual([]);
  });

  itNeeds('the run plan estimates VM boots from the cache of its QEMU and says so; assumed without one', { tools: ['qemu-system-x86_64'] }, async () => {
    const rm = new RunManager(join(dir, 'reports'));
    const scenario = { tests: [], trials: 2, vm: { backends: ['user'], tests: ['iperf3'] } };
    const assumed = await rm.plan(scenario, { stateDir: state });
    expect(assumed).toMatchObject({ vmBoots: 2, bootMs: 2600, bootMeasured: false, bootBasis: expect.stringMatching(/^assumed: 2\.6 s/) });
    const qemu = (await import('../../benchmarks/qemu/capabilities.js')).resolveQemuBinary().realPath;
    recordBoot(qemu, 'tcg', 4100, state);
    recordBoot(qemu, 'tcg', 3900, state);
    recordBoot(qemu, 'tcg', 4000, state);
    const measured = await rm.plan(scenario, { stateDir: state });
    expect(measured).toMatchObject({ vmBoots: 2, bootMs: 4000, bootMeasured: true, bootBasis: `measured: median of the last 3 boots of ${qemu} (tcg) here` });
    // Each of the two trials boots one VM: 1.4 s more each than assumed.
    expect(measured.estimatedMs - assumed.estimatedMs).toBe(2 * 1400);
  }, 60_000);
});
