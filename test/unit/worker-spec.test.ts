import { describe, expect, it } from 'vitest';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { WorkerResultSchema } from '../../benchmarks/contracts/worker.js';
import { parseWorkerSpec } from '../../benchmarks/engines/worker.js';
import { frameBytesAt } from '../../benchmarks/engines/txonly.js';

const base = { ifname: 'veth0' };

function errorOf(spec: Record<string, unknown>): LabError {
  try { parseWorkerSpec(JSON.stringify(spec)); } catch (e) { if (e instanceof LabError) return e; throw e; }
  throw new Error('expected a LabError');
}

describe('WorkerSpec: rate, frameMix, stamp, measure', () => {
  it('accepts them on the engine that reads them', () => {
    expect(parseWorkerSpec(JSON.stringify({ ...base, engine: 'txonly', rate: 20_000, frameMix: 'imix', stamp: true }))).toMatchObject({ rate: 20_000, frameMix: 'imix', stamp: true });
    expect(parseWorkerSpec(JSON.stringify({ ...base, engine: 'txonly', frameMix: 128 })).frameMix).toBe(128);
    expect(parseWorkerSpec(JSON.stringify({ ...base, engine: 'rxonly', measure: true })).measure).toBe(true);
  });

  it('refuses them on other engines, naming the field', () => {
    expect(errorOf({ ...base, engine: 'rxonly', rate: 1000 }).field).toBe('rate');
    expect(errorOf({ ...base, engine: 'io', stamp: true }).field).toBe('stamp');
    expect(errorOf({ ...base, engine: 'txonly', measure: true }).field).toBe('measure');
    expect(errorOf({ ...base, engine: 'macswap', frameMix: 'imix' }).message).toMatch(/frameMix.*txonly/);
  });

  it('refuses bad values, naming the field', () => {
    expect(errorOf({ ...base, engine: 'txonly', rate: 0 }).field).toBe('rate');
    expect(errorOf({ ...base, engine: 'txonly', frameMix: 'jumbo' }).field).toBe('frameMix');
    expect(errorOf({ ...base, engine: 'txonly', frameMix: 20 }).field).toBe('frameMix');
  });
});

describe('WorkerResult: generator and receiver additions parse', () => {
  const common = { ok: true, engine: 'txonly', mode: 'skb', zeroCopy: false, packets: 1, rx: 0, tx: 1, seconds: 1, warmupSeconds: 0, bursts: 1, interrupted: false, txBudget: { requested: 0, applied: false }, stats: {}, windowStats: {} };
  it('generator', () => {
    const r = WorkerResultSchema.parse({ ...common, achievedPps: 19_990, sendSeconds: 2, targetPps: 20_000, rateReached: true, rateMissedPackets: 0, stream: { sentPerFlow: [10, 10] } });
    expect(r.ok && r.stream).toEqual({ sentPerFlow: [10, 10] });
  });
  it('receiver', () => {
    const stream = { receivedPerFlow: [10], duplicatedPerFlow: [0], reordered: 0, duplicated: 0, foreign: 0, frameBytes: { 60: 10 } };
    const latency = { count: 10, minNs: 1, p50Ns: 2, p90Ns: 3, p99Ns: 4, p999Ns: 5, maxNs: 6, meanNs: 3, histogram: 'x' };
    expect(WorkerResultSchema.parse({ ...common, engine: 'rxonly', stream, latency }).ok).toBe(true);
  });
});

describe('frameBytesAt', () => {
  it('IMIX by frame index: the 12-frame cycle less the FCS, 7:4:1', () => {
    const sizes = Array.from({ length: 1200 }, (_, i) => frameBytesAt('imix', i));
    const count = (b: number) => sizes.filter((s) => s === b).length;
    expect([count(60), count(566), count(1514)]).toEqual([700, 400, 100]);
    expect(frameBytesAt(128, 5)).toBe(128);
  });
});
