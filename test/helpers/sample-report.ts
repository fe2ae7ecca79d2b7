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
