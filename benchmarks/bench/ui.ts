// npm run bench:ui — what live charting costs a run. The same scenario (txonly and rxonly, skb
// and native, sampled every 0.25 s) runs alternately headless (the RunManager alone, nobody
// listening to its samples) and with the UI attached (the LabService and web server that
// `xdplab serve` puts in front of the same RunManager, and Chromium on the Live page charting
// the samples), A B A B over --pairs (at least 3). Per row: the median over pairs of Mpps with
// the UI / headless (goal >= 0.98). Per UI run: frame times in the page while samples stream
// (requestAnimationFrame deltas, long tasks; goal: none over 100 ms). Placement: ui-pinning.ts.
// The UI's cost is also read directly, free of the Mpps noise between runs: the CPU time of
// Chromium's processes and of this process (the engine, plus the web server with the UI) over
// each run, per second of the run. Each run first waits for a quiet machine.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describeError } from '../contracts/errors.js';
import { collectEnvironment } from '../report/environment.js';
import type { Report } from '../contracts/report.js';
import { PROJECT_ROOT } from '../paths.js';
import { RunManager } from '../runs/run-manager.js';
import { resolveScenario, type Scenario } from '../contracts/scenario.js';
import { median } from '../report/statistics.js';
import { attachUi, CHROMIUM } from './ui-attach.js';
import { streamingSpans, summarizeFrames, type FrameSummary } from './ui-frames.js';
import { descendantCpuSeconds, descendantPlacement, pinSelf } from './ui-pinning.js';
import { waitForQuiet } from '../lab/quiet-machine.js';

const ENGINE_CPU = 0;
const CHROMIUM_CPU = 0;
const DUT_CPU = 1;
const QUIET_LOAD = 0.5;

const { values } = parseArgs({ options: {
  pairs: { type: 'string' }, seconds: { type: 'string' }, engines: { type: 'string' }, modes: { type: 'string' }, 'sample-ms': { type: 'string' },
} });
const pairs = Math.max(3, Number(values.pairs ?? 5));
const seconds = Number(values.seconds ?? 4);
const sampleIntervalMs = Number(values['sample-ms'] ?? 250);
if (process.getuid?.() !== 0) { console.error('bench:ui needs root (namespaces, XDP, AF_XDP)'); process.exit(1); }
if (cpus().length < 2) { console.error('bench:ui needs 2 CPUs: the device under test on CPU 1, the engine and Chromium on CPU 0'); process.exit(1); }

const scenario: Scenario = resolveScenario({
  tests: (values.engines ?? 'txonly,rxonly').split(','), modes: (values.modes ?? 'skb,native').split(','),
  durationMs: seconds * 1000, warmupMs: 1000, trials: 1, sampleIntervalMs,
});

/** 'ui-frames': one more UI run with the frame probe, whose Mpps is not in the ratios (the
 * probe's rAF loop makes Chromium draw 60 frames a second, which the real UI does not). */
type Mode = 'headless' | 'ui' | 'ui-frames';
interface Trial {
  mode: Mode; pair: number; load1: number; status: string;
  /** Row id -> Mpps (the row's median; one trial per run). */
  mpps: Record<string, number>;
  frames?: FrameSummary; pointsDrawn?: number; placement?: Record<string, string[]>; error?: string;
  /** CPU seconds over the run: this process (engine, and the web server with the UI) and Chromium's processes. */
  cpu?: { wallSeconds: number; engineSeconds: number; chromiumSeconds?: number };
}

/** Measures `run` for wall time, this process's CPU time and (with the UI) Chromium's. */
async function measured<T>(withChromium: boolean, run: () => Promise<T>): Promise<{ value: T; cpu: NonNullable<Trial['cpu']> }> {
  const t0 = performance.now();
  const self = process.cpuUsage();
  const chrome0 = withChromium ? descendantCpuSeconds('chrom') : new Map<number, number>();
  const value = await run();
  const used = process.cpuUsage(self);
  let chromiumSeconds = 0;
  for (const [pid, s] of descendantCpuSeconds('chrom')) chromiumSeconds += s - (chrome0.get(pid) ?? 0);
  return { value, cpu: { wallSeconds: (performance.now() - t0) / 1000, engineSeconds: (used.user + used.system) / 1e6, ...(withChromium ? { chromiumSeconds } : {}) } };
}

const rowsOf = (r: Report) => Object.fromEntries(r.rows.filter((x) => x.stats.packetsPerSecond).map((x) => [x.id, x.stats.packetsPerSecond!.median / 1e6]));

pinSelf(ENGINE_CPU);
const reportsDir = mkdtempSync(join(tmpdir(), 'xdplab-ui-bench-reports-'));
const runs = new RunManager(reportsDir);
const trials: Trial[] = [];
const loadBefore = loadavg();

async function headless(pair: number): Promise<Trial> {
  const load1 = loadavg()[0]!;
  const { value: report, cpu } = await measured(false, async () => (await runs.start(scenario)).done);
  return { mode: 'headless', pair, load1, status: report.status, mpps: rowsOf(report), cpu };
}

async function withUi(pair: number, probeFrames: boolean): Promise<Trial> {
  const ui = await attachUi(runs, CHROMIUM_CPU, { probeFrames });
  const arrivals = new Map<string, number[]>();
  // Arrival times only, to know when samples streamed; the LabService already listens.
  const off = runs.on('sample', (e) => { const t = arrivals.get(e.sample.row) ?? []; t.push(Date.now()); arrivals.set(e.sample.row, t); });
  try {
    const load1 = loadavg()[0]!;
    let placement: Record<string, string[]> = {};
    const { value: report, cpu } = await measured(true, async () => {
      const started = await runs.start(scenario);
      placement = await placementDuring(started.done);
      return started.done;
    });
    const rec = probeFrames ? await ui.frames() : null;
    return {
      mode: probeFrames ? 'ui-frames' : 'ui', pair, load1, status: report.status, mpps: rowsOf(report), placement, cpu,
      ...(rec ? { frames: summarizeFrames(rec, streamingSpans(arrivals, scenario.sampleIntervalMs)) } : {}), pointsDrawn: await ui.pointsDrawn(),
    };
  } finally {
    off();
    await ui.close();
  }
}

/** Where this process's children run, read once a DUT worker is up (a few seconds in). */
async function placementDuring(done: Promise<unknown>): Promise<Record<string, string[]>> {
  let finished = false;
  void done.finally(() => { finished = true; }).catch(() => {});
  let last: Record<string, string[]> = {};
  for (let i = 0; i < 40 && !finished; i++) {
    await new Promise((r) => setTimeout(r, 250));
    last = descendantPlacement();
    if (Object.values(last).some((c) => c.includes(String(DUT_CPU)))) break;
  }
  return last;
}

async function trial(mode: Mode, pair: number): Promise<void> {
  process.stderr.write(`bench:ui: pair ${pair + 1}/${pairs}, ${mode}\n`);
  await waitForQuiet(0.15, new Set([process.pid]), 60_000);
  try {
    trials.push(await (mode === 'headless' ? headless(pair) : withUi(pair, mode === 'ui-frames')));
  } catch (err) {
    trials.push({ mode, pair, load1: loadavg()[0]!, status: 'failed', mpps: {}, error: describeError(err) });
  }
}

try {
  for (let pair = 0; pair < pairs; pair++) {
    await trial('headless', pair);
    await trial('ui', pair);
  }
  await trial('ui-frames', pairs);
} finally {
  rmSync(reportsDir, { recursive: true, force: true });
}

const rowIds = [...new Set(trials.flatMap((t) => Object.keys(t.mpps)))];
const rows = rowIds.map((row) => {
  const pairRatios: number[] = [];
  for (let p = 0; p < pairs; p++) {
    const h = trials.find((t) => t.mode === 'headless' && t.pair === p)?.mpps[row];
    const u = trials.find((t) => t.mode === 'ui' && t.pair === p)?.mpps[row];
    if (h !== undefined && u !== undefined && h > 0) pairRatios.push(u / h);
  }
  const of = (m: Mode) => median(trials.filter((t) => t.mode === m).map((t) => t.mpps[row]).filter((v): v is number => v !== undefined));
  const ratio = median(pairRatios);
  return { row, headlessMpps: of('headless'), uiMpps: of('ui'), ratio, pairRatios, goal: '>= 0.98', met: ratio >= 0.98 };
});
const ui = trials.filter((t) => t.frames);
const worst = {
  maxFrameMs: Math.max(...ui.map((t) => t.frames!.maxMs)),
  p99FrameMs: median(ui.map((t) => t.frames!.p99Ms)),
  framesOver100Ms: ui.reduce((n, t) => n + t.frames!.over100Ms, 0),
  longTaskMaxMs: Math.max(0, ...ui.map((t) => t.frames!.longTaskMaxMs)),
  goal: 'no frame over 100 ms',
};
// The UI's CPU, per second of run: Chromium's, and what the engine used beyond a headless run.
const perSecond = (m: Mode, f: (c: NonNullable<Trial['cpu']>) => number | undefined) => median(trials.filter((t) => t.mode === m && t.cpu && t.status !== 'failed').map((t) => f(t.cpu!)! / t.cpu!.wallSeconds).filter(Number.isFinite));
const uiCpu = {
  chromiumCpus: perSecond('ui', (c) => c.chromiumSeconds),
  engineCpusHeadless: perSecond('headless', (c) => c.engineSeconds),
  engineCpusWithUi: perSecond('ui', (c) => c.engineSeconds),
  note: 'CPUs = CPU seconds per second of run (1 = one core busy); medians over runs. On 2 cores both busy with the run, this is what the UI can take from it.',
};
const loadAfter = loadavg();
const quiet = Math.max(loadBefore[0]!, ...trials.map((t) => t.load1)) < QUIET_LOAD;
const result = {
  schema: 'xdplab.bench.ui/1', at: new Date().toISOString(), pairs, scenario,
  placement: { engine: `CPU ${ENGINE_CPU} (taskset -a -p)`, chromium: `CPU ${CHROMIUM_CPU} (taskset -c, inherited by every Chromium process)`, dut: `CPU ${DUT_CPU} (the run engine's worker pinning)`, peer: 'CPU 0 (the run engine\'s worker pinning)' },
  chromium: CHROMIUM, load: { before: loadBefore, after: loadAfter, quiet, quietBelow: QUIET_LOAD },
  environment: collectEnvironment(), rows, frames: worst, uiCpu, trials,
};
const dir = join(PROJECT_ROOT, 'benchmarks', 'results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `ui-${result.at.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify(result, null, 1));

const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '—');
const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '—');
console.log('| row | headless Mpps | with UI Mpps | ratio (median of pairs) | pair ratios |');
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.row} | ${f3(r.headlessMpps)} | ${f3(r.uiMpps)} | ${f3(r.ratio)}${r.met ? '' : ' (goal >= 0.98)'} | ${r.pairRatios.map(f3).join(', ')} |`);
console.log('\n| UI run (with the frame probe) | frames | p50 ms | p99 ms | max ms | > 100 ms | long tasks (max ms) | points drawn |');
console.log('|---|---|---|---|---|---|---|---|');
for (const t of ui) console.log(`| frames run | ${t.frames!.frames} | ${f1(t.frames!.p50Ms)} | ${f1(t.frames!.p99Ms)} | ${f1(t.frames!.maxMs)} | ${t.frames!.over100Ms} | ${t.frames!.longTasks} (${f1(t.frames!.longTaskMaxMs)}) | ${t.pointsDrawn} |`);
console.log(`\nUI CPU per second of run: Chromium ${f3(uiCpu.chromiumCpus)} CPUs; the engine ${f3(uiCpu.engineCpusWithUi)} with the UI, ${f3(uiCpu.engineCpusHeadless)} headless`);
for (const t of trials.filter((x) => x.error)) console.log(`pair ${t.pair + 1} ${t.mode} failed: ${t.error}`);
console.log(`\nload average ${loadBefore[0]!.toFixed(2)} before, ${loadAfter[0]!.toFixed(2)} after: ${quiet ? 'a quiet machine' : `NOT quiet (>= ${QUIET_LOAD}): these numbers are disturbed, measure again on a quiet machine`}`);
console.log(`saved ${file}`);
