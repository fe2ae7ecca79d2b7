// A small but complete report, built the way the runner builds one, for report tests.
import { collectEnvironment } from '../../benchmarks/report/environment.js';
import { REPORT_SCHEMA_VERSION, type Report, type Row, type Sample } from '../../benchmarks/contracts/report.js';
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
