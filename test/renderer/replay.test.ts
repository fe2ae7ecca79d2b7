// Replay of a saved run: samples and markers at their offsets divided by the speed (fake timers):
// 16x replays a 16 s trial in about 1 s, a marker at 8 s arrives at 0.5 s; stop stops.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Replay, replaySchedule } from '../../renderer/src/lib/replay.js';
import type { Marker, Sample } from '../../renderer/src/api/types.js';

const sample = (row: string, tMs: number, trial = 0): Sample => ({ row, trial, tMs, intervalMs: 500, metrics: { bitsPerSecond: 1e9 } });
const marker = (row: string, tMs: number, name = 'set_link'): Marker => ({ row, trial: 0, tMs, kind: 'command', name, source: 'timeline', ok: true });
/** A 16 s trial of two rows, a sample every 500 ms, markers at 4 s and 8 s. */
const report = {
  samples: ['user/iperf3', 'tap/iperf3'].flatMap((row) => Array.from({ length: 33 }, (_, k) => sample(row, k * 500))),
  markers: [marker('tap/iperf3', 4000), marker('tap/iperf3', 8000, 'netdev_del')],
};

beforeEach(() => { vi.useFakeTimers(); });
afterEach(() => { vi.useRealTimers(); });

describe('Replay', () => {
  it('16x replays a 16 s run in about 1 s, the markers at their offsets', () => {
    const got: { at: number; what: string }[] = [];
    const t0 = Date.now();
    let done = -1;
    const r = new Replay(report, 16, {
      sample: (s) => got.push({ at: Date.now() - t0, what: `${s.row}@${s.tMs}` }),
      marker: (m) => got.push({ at: Date.now() - t0, what: `marker ${m.name}@${m.tMs}` }),
      done: () => { done = Date.now() - t0; },
    });
    expect(r.durationMs).toBe(1000);
    r.start();
    vi.advanceTimersByTime(1100);
    expect(done).toBeGreaterThanOrEqual(1000);
    expect(done).toBeLessThanOrEqual(1050);
    expect(got.filter((g) => !g.what.startsWith('marker'))).toHaveLength(66);
    const m1 = got.find((g) => g.what === 'marker set_link@4000')!;
    const m2 = got.find((g) => g.what === 'marker netdev_del@8000')!;
    expect(m1.at).toBe(250);
    expect(m2.at).toBe(500);
    // Each sample at tMs / 16, rows side by side.
    expect(got.find((g) => g.what === 'tap/iperf3@8000')!.at).toBe(500);
    expect(got.find((g) => g.what === 'user/iperf3@16000')!.at).toBe(1000);
    // In order.
    expect(got.map((g) => g.at)).toEqual([...got.map((g) => g.at)].sort((a, b) => a - b));
  });

  it('1x takes the run\'s own time, and stop stops it', () => {
    const seen: number[] = [];
    const r = new Replay(report, 1, { sample: (s) => seen.push(s.tMs), marker: () => {} });
    r.start();
    vi.advanceTimersByTime(4000);
    expect(Math.max(...seen)).toBe(4000);
    r.stop();
    const n = seen.length;
    vi.advanceTimersByTime(20_000);
    expect(seen.length).toBe(n);
    expect(r.running).toBe(false);
  });

  it('plays trials one after another, each from its own start', () => {
    const s = replaySchedule({ samples: [sample('a', 0, 0), sample('a', 1000, 0), sample('a', 0, 1), sample('a', 500, 1)], markers: [] });
    expect(s.items.map((i) => [i.trial, i.atMs])).toEqual([[0, 0], [0, 1000], [1, 1001], [1, 1501]]);
    const trials: number[] = [];
    const r = new Replay({ samples: [sample('a', 0, 0), sample('a', 0, 1)], markers: [] }, 4, { sample: () => {}, marker: () => {}, trial: (t) => trials.push(t) });
    r.start();
    vi.advanceTimersByTime(1000);
    expect(trials).toEqual([0, 1]);
  });
});
