// The generator and the receiver are separate processes: their stamps and receive times are
// only comparable if both read the same clock.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { monotonicNs, nsFromPerfMs } from '../../benchmarks/engines/clock.js';
import { performance } from 'node:perf_hooks';

const CLOCK_JS = fileURLToPath(new URL('../../dist/benchmarks/engines/clock.js', import.meta.url));

describe('monotonicNs', () => {
  it('is CLOCK_MONOTONIC (process.hrtime.bigint) within a millisecond, and never goes back', () => {
    for (let i = 0; i < 5; i++) {
      const a = Number(process.hrtime.bigint());
      const m = monotonicNs();
      const b = Number(process.hrtime.bigint());
      expect(m).toBeGreaterThanOrEqual(a - 1e6);
      expect(m).toBeLessThanOrEqual(b + 1e6);
    }
    let last = monotonicNs();
    for (let i = 0; i < 10_000; i++) { const t = monotonicNs(); expect(t).toBeGreaterThanOrEqual(last); last = t; }
    expect(Number.isInteger(nsFromPerfMs(performance.now()))).toBe(true);
  });

  it.skipIf(!existsSync(CLOCK_JS))(`agrees between two processes within a few ms${existsSync(CLOCK_JS) ? '' : ' [skipped: npm run build first]'}`, async () => {
    // The child prints its clock once it has loaded (after its offset is taken), ten times;
    // the parent reads its own the moment each line arrives: the difference is the pipe's delay.
    const script = `const { monotonicNs } = await import(${JSON.stringify(pathToFileURL(CLOCK_JS).href)});
      for (let i = 0; i < 10; i++) { process.stdout.write(monotonicNs() + '\\n'); await new Promise((r) => setTimeout(r, 20)); }`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const diffs: number[] = [];
    createInterface({ input: child.stdout }).on('line', (l) => { diffs.push(monotonicNs() - Number(l)); });
    await once(child, 'close');
    expect(diffs).toHaveLength(10);
    const best = Math.min(...diffs);
    // Received after it was printed (never before, beyond rounding), and soon after.
    expect(best).toBeGreaterThanOrEqual(-1e5);
    expect(best).toBeLessThan(5e6);
    console.log(`parent minus child clock on arrival: best ${(best / 1e3).toFixed(0)} us, worst ${(Math.max(...diffs) / 1e3).toFixed(0)} us`);
  });
});
