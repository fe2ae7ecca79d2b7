// A small but complete report, built the way the runner builds one, for report tests.
import { collectEnvironment } from '../../benchmarks/report/environment.js';
import { build as buildHistogram, encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { REPORT_SCHEMA_VERSION, type Latency, type Report, type Row, type Sample, type Search, type SearchTrial, type Trial } from '../../benchmarks/contracts/report.js';
import { summarize } from '../../benchmarks/report/statistics.js';

export function sampleReport(id: string, rate: (row: number, trial: number, k: number) => number): Report {
  const rows: Row[] = [];
  const samples: Sample[] = [];
  ['txonly', 'rxonly'].forEach((test, ri) => {
    const rowId = `${test}-native`;
    const trials = [0, 1, 2].map((t) => {
      const pps = [0, 1, 2, 3].map((k) => rate(ri, t, k));
      pps.forEach((p, k) => samples.push({ row: rowId, trial: t, tMs: k * 1000, intervalMs: 1000, metrics: { packetsPerSecond: p, bitsPerSecond: p * 84 * 8 } }));
      const mean = pps.reduce((a, b) => a + b, 0) / pps.length;
      return { index: t, startedAt: new Date(0).toISOString(), durationMs: 4000, status: 'ok' as const, metrics: { packetsPerSecond: mean, bitsPerSecond: mean * 84 * 8, droppedPackets: 0 } };
    });
    rows.push({
      id: rowId, test, tool: 'xdplab', mode: 'native', frameBytes: 64, queues: 1, status: 'ok',
      attached: { mode: 'native', zeroCopy: false }, commandLines: [`xdplab engine ${test}`], trials,
      stats: Object.fromEntries((['packetsPerSecond', 'bitsPerSecond', 'droppedPackets'] as const).map((m) => [m, summarize(trials.map((t) => t.metrics[m]))])),
    });
  });
  rows.push({ id: 'rxonly-native-testpmd', test: 'rxonly', tool: 'dpdk-testpmd', mode: 'native', status: 'unavailable', reason: 'dpdk-testpmd is not installed', commandLines: [], trials: [], stats: {} });
  return {
    schemaVersion: REPORT_SCHEMA_VERSION, id, createdAt: new Date().toISOString(), status: 'complete',
    command: ['xdplab', 'bench', '--quick'], scenario: { engines: ['txonly', 'rxonly'] },
    environment: collectEnvironment([{ name: 'xl-x-a', netns: 'xl-x-a', driver: 'veth' }]), rows, samples, markers: [],
  };
}

/** VM samples every 500 ms (the engine's >= 2 Hz), over an 8 s trial. */
export const VM_SAMPLE_MS = 500;

/** A VM run's report: one iperf3 row per backend, one trial, samples at 2 Hz (`bps(backend, k)`). */
export function vmReport(id: string, backends: string[], bps: (backend: string, k: number) => number): Report {
  const rows: Row[] = [];
  const samples: Sample[] = [];
  for (const backend of backends) {
    const rowId = `${backend}/iperf3`;
    const values = Array.from({ length: 8000 / VM_SAMPLE_MS }, (_, k) => bps(backend, k));
    values.forEach((v, k) => samples.push({ row: rowId, trial: 0, tMs: k * VM_SAMPLE_MS, intervalMs: VM_SAMPLE_MS, metrics: { bitsPerSecond: v } }));
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const trials = [{ index: 0, startedAt: new Date(0).toISOString(), durationMs: 8000, status: 'ok' as const, metrics: { bitsPerSecond: mean } }];
    rows.push({
      id: rowId, test: 'iperf3', tool: 'iperf3', mode: 'tcp', backend, liveSource: 'iperf3 intervals', status: 'ok',
      commandLines: [`qemu-system-x86_64 -netdev ${backend},id=n0`], trials,
      stats: { bitsPerSecond: summarize(values) },
    });
  }
  return {
    schemaVersion: REPORT_SCHEMA_VERSION, id, createdAt: new Date().toISOString(), status: 'complete',
    command: ['xdplab', 'bench', '--backends', backends.join(',')], scenario: { vm: { backends } },
    environment: collectEnvironment([]), rows, samples, markers: [],
  };
}

/** A latency summary and its HDR histogram (hdr-histogram-js, compressed base64) of `values` (ns). */
export function latencyOf(values: number[]): Latency {
  const h = buildHistogram({ lowestDiscernibleValue: 1, highestTrackableValue: 1e9, numberOfSignificantValueDigits: 3 });
  for (const v of values) h.recordValue(v);
  const l: Latency = {
    count: h.totalCount, minNs: h.minNonZeroValue, p50Ns: h.getValueAtPercentile(50), p90Ns: h.getValueAtPercentile(90), p99Ns: h.getValueAtPercentile(99),
    p999Ns: h.getValueAtPercentile(99.9), maxNs: h.maxValue, meanNs: h.mean, histogram: encodeIntoCompressedBase64(h),
  };
  h.destroy();
  return l;
}

const trialAt = (index: number, metrics: Record<string, number>, extra: Partial<Trial> = {}): Trial => ({ index, startedAt: new Date(0).toISOString(), durationMs: 10_000, status: 'ok', metrics, ...extra });
const statsOf = (trials: Trial[]) => Object.fromEntries([...new Set(trials.flatMap((t) => Object.keys(t.metrics)))].map((m) => [m, summarize(trials.map((t) => t.metrics[m]!))]));

/** An NDR/PDR search: a max probe, bisection, a final check; NDR at `ndr`, PDR at `pdr` (pps). */
function searchOf(ndr: number, pdr: number, opts: { converged?: boolean; generatorBound?: boolean } = {}): Search {
  const maxPps = pdr * 1.6;
  const trials: SearchTrial[] = [];
  const at = (pps: number, lossRatio: number, phase: SearchTrial['phase']) => {
    const sent = Math.round(pps * (phase === 'final' ? 10 : 1));
    trials.push({ targetPps: pps, offeredPps: pps * 0.999, receivedPps: pps * (1 - lossRatio), sent, received: Math.round(sent * (1 - lossRatio)), lossRatio, durationMs: phase === 'final' ? 10_000 : 1000, phase });
  };
  at(maxPps, 0.3, 'max');
  at(maxPps / 2, 0, 'search');
  at(pdr * 1.05, 0.02, 'search');
  at(pdr, 0.004, 'search');
  at(ndr * 1.03, 0.001, 'search');
  at(ndr, 0, 'final');
  at(pdr, 0.004, 'final');
  const converged = opts.converged ?? true;
  return {
    precision: 0.01, maxPps, generatorBound: !!opts.generatorBound, elapsedMs: 42_000, trials,
    goals: [
      { name: 'ndr', lossTolerance: 0, lowerPps: ndr, upperPps: ndr * 1.03, converged: true },
      { name: 'pdr', lossTolerance: 0.005, lowerPps: pdr, upperPps: pdr * 1.05, converged, ...(converged ? {} : { note: 'time cap reached after 42 s' }) },
    ],
  };
}

/**
 * A schema-3 report with rate searches (rxonly at 64B, 1518B and IMIX: a frame-size sweep; the
 * IMIX one's PDR did not converge), latency rows idle and at 10/50/90% of the 64B row's PDR, and
 * an io row whose generator was the bound.
 */
export function searchReport(id: string): Report {
  const rows: Row[] = [];
  const sizes: { frameBytes: number; frameMix?: string; ndr: number; pdr: number }[] = [
    { frameBytes: 64, ndr: 2.0e6, pdr: 2.4e6 }, { frameBytes: 1518, ndr: 0.8e6, pdr: 0.81e6 }, { frameBytes: 353, frameMix: 'imix', ndr: 1.5e6, pdr: 1.7e6 },
  ];
  for (const s of sizes) {
    const frame = s.frameMix ?? `${s.frameBytes}B`;
    const bits = (pps: number) => pps * (s.frameBytes + 20) * 8;
    const search = searchOf(s.ndr, s.pdr, { converged: !s.frameMix });
    const trials = [trialAt(0, { ndrPacketsPerSecond: s.ndr, pdrPacketsPerSecond: s.pdr, ndrBitsPerSecond: bits(s.ndr), pdrBitsPerSecond: bits(s.pdr) }, { search })];
    rows.push({
      id: `ndr-rxonly-native-${frame}`, test: 'rxonly', tool: 'xdplab', mode: 'native', frameBytes: s.frameBytes, ...(s.frameMix ? { frameMix: s.frameMix } : {}), queues: 1, status: 'ok',
      attached: { mode: 'native', zeroCopy: false }, commandLines: [`xdplab search rxonly ${frame}`], trials, stats: statsOf(trials),
    });
  }
  const io = [trialAt(0, { ndrPacketsPerSecond: 3e6, pdrPacketsPerSecond: 3e6, ndrBitsPerSecond: 3e6 * 84 * 8, pdrBitsPerSecond: 3e6 * 84 * 8 }, { search: searchOf(3e6, 3e6, { generatorBound: true }) })];
  rows.push({ id: 'ndr-io-native-64B', test: 'io', tool: 'dpdk-testpmd', mode: 'native', frameBytes: 64, queues: 1, status: 'ok', commandLines: ['dpdk-testpmd --forward-mode=io'], trials: io, stats: statsOf(io) });
  [0, 0.1, 0.5, 0.9].forEach((fraction, i) => {
    // Latency grows with load; a tail of one frame in a thousand at 10x the median.
    const base = 8_000 * (1 + 3 * fraction * fraction);
    const values = Array.from({ length: 20_000 }, (_, k) => Math.round(base * (1 + 0.2 * Math.sin(k)) * (k % 1000 === 7 ? 10 : 1)));
    const offered = fraction * 2.4e6;
    const stream = { sent: values.length, received: values.length, lost: 0, reordered: 0, duplicated: 0, foreign: 0, flows: 1 };
    const t = [trialAt(0, { packetsPerSecond: offered }, { latency: latencyOf(values), stream })];
    rows.push({
      id: `latency-rxonly-native-64B-${i}`, test: 'rxonly', tool: 'xdplab', mode: 'native', frameBytes: 64, queues: 1, status: 'ok',
      load: { goal: 'pdr', fraction, ofRow: 'ndr-rxonly-native-64B' }, commandLines: [`xdplab latency ${fraction}`], trials: t, stats: statsOf(t),
    });
  });
  return {
    schemaVersion: REPORT_SCHEMA_VERSION, id, createdAt: new Date().toISOString(), status: 'complete',
    command: ['xdplab', 'run', 'search.json'], scenario: { search: true },
    environment: collectEnvironment([{ name: 'xl-x-a', netns: 'xl-x-a', driver: 'veth' }]), rows, samples: [], markers: [],
  };
}
