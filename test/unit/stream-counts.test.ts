import { describe, expect, it } from 'vitest';
import { StreamCountsSchema } from '../../benchmarks/contracts/report.js';
import { streamCounts } from '../../benchmarks/engines/stream-counts.js';
import { StreamMeter, WINDOW } from '../../benchmarks/engines/stream-meter.js';

function meterOf(flows: number, frames: Array<[number, number]>): StreamMeter {
  const m = new StreamMeter(flows);
  for (const [f, s] of frames) m.observe(f, s, 60);
  return m;
}

const received = (m: StreamMeter) => ({ receivedPerFlow: Array.from(m.receivedPerFlow), duplicatedPerFlow: Array.from(m.duplicatedPerFlow), reordered: m.reordered, duplicated: m.duplicated, foreign: m.foreign });

describe('StreamMeter', () => {
  it('counts an in-order stream per flow with nothing reordered or duplicated', () => {
    const frames: Array<[number, number]> = [];
    for (let s = 0; s < 5000; s++) for (let f = 0; f < 4; f++) frames.push([f, s]);
    const m = meterOf(4, frames);
    expect(received(m)).toEqual({ receivedPerFlow: [5000, 5000, 5000, 5000], duplicatedPerFlow: [0, 0, 0, 0], reordered: 0, duplicated: 0, foreign: 0 });
    expect(m.sizeCounts()).toEqual({ 60: 20000 });
  });

  it('tells reordered from duplicated, per flow', () => {
    // flow 0: 0 1 3 2 (2 reordered) 3 (duplicate of the highest) 1 (duplicate below it)
    const m = meterOf(2, [[0, 0], [0, 1], [0, 3], [0, 2], [0, 3], [0, 1], [1, 0], [1, 0]]);
    expect(m.reordered).toBe(1);
    expect(m.duplicated).toBe(3);
    expect(Array.from(m.duplicatedPerFlow)).toEqual([2, 1]);
    expect(Array.from(m.receivedPerFlow)).toEqual([6, 2]);
  });

  it('forgets sequences the window slid past (no false duplicates after a gap)', () => {
    const m = meterOf(1, [[0, 5], [0, 5 + WINDOW], [0, 5 + 2 * WINDOW + 3], [0, 6 + 2 * WINDOW]]);
    expect(m.duplicated).toBe(0);
    expect(m.reordered).toBe(1); // 6 + 2W is below the highest, 5 + 2W + 3
    // A sequence older than the window is reordered, not a duplicate: it cannot be told.
    m.observe(0, 5, 60);
    expect(m.duplicated).toBe(0);
    expect(m.reordered).toBe(2);
  });

  it('sees a duplicate anywhere inside the window', () => {
    const frames: Array<[number, number]> = [];
    for (let s = 0; s < 3 * WINDOW; s++) frames.push([0, s]);
    const m = meterOf(1, frames);
    m.observe(0, 3 * WINDOW - WINDOW, 60); // the oldest still remembered
    m.observe(0, 3 * WINDOW - 1, 60);
    expect(m.duplicated).toBe(2);
    expect(m.reordered).toBe(0);
  });
});

describe('streamCounts', () => {
  it('totals flows and takes duplicates off before counting loss', () => {
    const c = streamCounts([10, 10], { receivedPerFlow: [10, 9], duplicatedPerFlow: [0, 1], reordered: 2, duplicated: 1, foreign: 4 });
    expect(StreamCountsSchema.parse(c)).toEqual({ sent: 20, received: 19, lost: 2, reordered: 2, duplicated: 1, foreign: 4, flows: 2 });
  });

  it("one flow's surplus does not hide another flow's loss", () => {
    const c = streamCounts([10, 10], { receivedPerFlow: [12, 8], duplicatedPerFlow: [0, 0], reordered: 0, duplicated: 0, foreign: 0 });
    expect(c.lost).toBe(2);
  });

  it('without per-flow duplicates, corrects the total', () => {
    expect(streamCounts([10], { receivedPerFlow: [10], reordered: 0, duplicated: 2, foreign: 0 }).lost).toBe(2);
    expect(streamCounts([10, 0], { receivedPerFlow: [10, 0], reordered: 0, duplicated: 0, foreign: 0 })).toMatchObject({ lost: 0, flows: 2 });
  });
});
