// npm run bench:leaks -- [--cycles 1000] [--modes native,skb] [--samples 50] [--out DIR]
//
// Opens and closes an AfXdpPort on a veth in a lab namespace again and again (alternating the
// XDP attach modes, so every cycle also attaches and detaches libxdp's XSK program), and counts
// what this process holds from /proc/self: open fds (by kind: sockets, bpf programs and maps,
// ...), lines of /proc/self/maps, RSS and locked memory. Readings are taken after a warm-up
// (the first cycles load libxdp, compile the hot paths and size the heaps), at regular cycles
// while a port is open and after it is closed, and at the end. After every close it checks
// that no XDP program is left on the interface. Verdict: no growth (see VERDICT below).
// Results go to benchmarks/results/leaks-<ISO date>.json. Run with --expose-gc (the npm
// script does) so that each reading follows a full collection.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LabError, describeError } from '../contracts/errors.js';
import { AfXdpPort, queryXdp, withNetns, ifNameToIndex } from '../../native/index.js';
import { Lab } from '../lab/lab.js';
import { REPO, fdKinds, loadavg, machine, processStats, slope, spread, type ProcessStats } from './process-stats.js';
import type { AfXdpMode } from '../contracts/datapath.js';

type Mode = AfXdpMode;

/** Cycles before the baseline reading: the first opens load libraries, warm the JIT, and let
 * glibc and V8 create their arenas and code spaces (seen as a one-time step of ~30 maps lines
 * around cycle 60). */
const WARMUP_CYCLES = 100;

/** No growth means: the same fds (exactly) after every close, maps within a few lines over the
 * second half (V8 maps and unmaps heap pages on its own), RSS without a trend over the second
 * half, locked memory back to the baseline. A leaked port would be obvious
 * against these: each open maps a 16 MiB UMEM (4096 frames of 4 KiB, pinned and counted against
 * RLIMIT_MEMLOCK) and four rings
 * (4 more maps lines) and holds an AF_XDP socket plus libxdp's program and map fds. */
const VERDICT = {
  fdGrowth: 0,
  /** Mappings of named objects (sockets' rings, the UMEM, libraries): back to the baseline. */
  namedMapsGrowth: 0,
  /** Anonymous mappings: V8 and glibc map and unmap heap pages on their own (seen: +-24 lines
   * around a level), so no level is required, only no trend: under 16 lines per 1000 cycles
   * over the second half (a leaked mapping per cycle would be 1000). */
  anonMapsSlopePer1000: 16,
  /** KiB per 1000 cycles over the second half: a leak of one 4 KiB page every 2 cycles is 2 MiB. */
  rssSlopeKiBPer1000: 2048,
  /** Locked and pinned memory (VmLck, VmPin): back to the baseline exactly. */
  lockedGrowthKiB: 0,
};

interface Reading extends ProcessStats { cycle: number; phase: 'baseline' | 'open' | 'closed' | 'end'; namedMaps: number; anonMaps: number; heapUsedKiB: number; externalKiB: number; elapsedMs: number }

function usage(message: string): never {
  throw new LabError({ code: 'EUSAGE', message, hint: 'flags: --cycles N --modes native,skb --samples N --out DIR' });
}

function parse(argv: string[]): { cycles: number; modes: Mode[]; samples: number; outDir: string } {
  const { values } = parseArgs({ args: argv, strict: true, options: { cycles: { type: 'string' }, modes: { type: 'string' }, samples: { type: 'string' }, out: { type: 'string' } } });
  const cycles = Number(values.cycles ?? 1000);
  if (!Number.isInteger(cycles) || cycles < 2 * WARMUP_CYCLES) usage(`--cycles: expected an integer >= ${2 * WARMUP_CYCLES}, got ${values.cycles}`);
  const modes = (values.modes ?? 'native,skb').split(',') as Mode[];
  if (!modes.length || modes.some((m) => m !== 'native' && m !== 'skb')) usage(`--modes: expected native, skb or both, got ${values.modes}`);
  const samples = Number(values.samples ?? 50);
  if (!Number.isInteger(samples) || samples < 4) usage(`--samples: expected an integer >= 4, got ${values.samples}`);
  return { cycles, modes, samples, outDir: values.out ?? join(REPO, 'benchmarks', 'results') };
}

const gc = (globalThis as { gc?: () => void }).gc;

/** Lines of /proc/self/maps per mapped object ('[anon]' for anonymous ones). */
function mapsByObject(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n').filter(Boolean)) {
    const path = line.split(/\s+/).slice(5).join(' ') || '[anon]';
    out[path] = (out[path] ?? 0) + 1;
  }
  return out;
}

function mapsChange(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) if ((b[k] ?? 0) !== (a[k] ?? 0)) out[k] = (b[k] ?? 0) - (a[k] ?? 0);
  return out;
}

function reading(cycle: number, phase: Reading['phase'], t0: number): Reading {
  gc?.();
  const s = processStats('self')!;
  const m = process.memoryUsage();
  const anonMaps = mapsByObject()['[anon]'] ?? 0;
  return { cycle, phase, ...s, namedMaps: s.maps - anonMaps, anonMaps, heapUsedKiB: Math.round(m.heapUsed / 1024), externalKiB: Math.round(m.external / 1024), elapsedMs: Math.round(performance.now() - t0) };
}

async function main(): Promise<number> {
  let o: ReturnType<typeof parse>;
  try { o = parse(process.argv.slice(2)); } catch (err) { process.stderr.write(`bench:leaks: ${describeError(err)}\n`); return 2; }
  if (process.getuid?.() !== 0) { process.stderr.write('bench:leaks: needs root (a network namespace, XDP programs, AF_XDP sockets)\n'); return 1; }
  if (!gc) process.stderr.write('bench:leaks: run node with --expose-gc for steadier readings (npm run bench:leaks does)\n');
  const startedAt = new Date();
  const lab = new Lab('leaks');
  const readings: Reading[] = [];
  const leftovers: string[] = [];
  const opened: Record<string, number> = {};
  let exitCode = 0;
  let stopped = false;
  const onSignal = () => { stopped = true; };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const fdKindsAt: { baseline: Record<string, number>; open: Record<string, number>; end: Record<string, number> } = { baseline: {}, open: {}, end: {} };
  const mapsAt: Record<'baseline' | 'open' | 'end', Record<string, number>> = { baseline: {}, open: {}, end: {} };
  let done = 0;
  const t0 = performance.now();
  try {
    const ns = lab.addNetns('a');
    const peerNs = lab.addNetns('b');
    const [ifname] = lab.addVethPair({ netns: ns, suffix: 'a' }, { netns: peerNs, suffix: 'b' });
    const ifindex = withNetns(ns, () => ifNameToIndex(ifname));
    const every = Math.max(1, Math.floor((o.cycles - WARMUP_CYCLES) / o.samples));
    for (let cycle = 0; cycle < o.cycles && !stopped; cycle++) {
      const mode = o.modes[cycle % o.modes.length]!;
      if (cycle === WARMUP_CYCLES) { readings.push(reading(cycle, 'baseline', t0)); fdKindsAt.baseline = fdKinds('self'); mapsAt.baseline = mapsByObject(); }
      const port = withNetns(ns, () => AfXdpPort.open({ ifname, mode }));
      opened[`${port.mode}${port.zeroCopy ? ' zero-copy' : ' copy'}`] = (opened[`${port.mode}${port.zeroCopy ? ' zero-copy' : ' copy'}`] ?? 0) + 1;
      port.stats(); // one XDP_STATISTICS getsockopt: the port is really usable
      const sample = cycle > WARMUP_CYCLES && (cycle - WARMUP_CYCLES) % every === 0;
      if (sample) readings.push(reading(cycle, 'open', t0));
      if (cycle === WARMUP_CYCLES) { fdKindsAt.open = fdKinds('self'); mapsAt.open = mapsByObject(); }
      port.close();
      const left = withNetns(ns, () => queryXdp(ifindex));
      if (left.mode !== 'none') leftovers.push(`cycle ${cycle} (${mode}): ${left.mode} program (drv ${left.drvProgId}, skb ${left.skbProgId}) left on ${ifname}`);
      if (sample) readings.push(reading(cycle, 'closed', t0));
      done = cycle + 1;
      if (done % 100 === 0) process.stderr.write(`bench:leaks: ${done}/${o.cycles} cycles, ${readings.at(-1)?.fds ?? '-'} fds, ${readings.at(-1)?.maps ?? '-'} maps, RSS ${readings.at(-1)?.rssKiB ?? '-'} KiB\n`);
      // Let the event loop turn (signals, timers) every few cycles.
      if (cycle % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    readings.push(reading(done, 'end', t0));
    fdKindsAt.end = fdKinds('self');
    mapsAt.end = mapsByObject();
    const final = withNetns(ns, () => queryXdp(ifindex));
    if (final.mode !== 'none') leftovers.push(`at the end: ${final.mode} program left on ${ifname}`);
  } catch (err) {
    process.stderr.write(`bench:leaks: ${describeError(err)}\n`);
    exitCode = 1;
  } finally {
    lab.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const base = readings.find((r) => r.phase === 'baseline');
  const closed = readings.filter((r) => r.phase === 'closed' || r.phase === 'end');
  const end = readings.find((r) => r.phase === 'end');
  const half = closed.filter((r) => r.cycle >= (base?.cycle ?? 0) + (done - (base?.cycle ?? 0)) / 2);
  const growth = base && end ? {
    fds: end.fds - base.fds,
    maps: end.maps - base.maps,
    rssKiB: end.rssKiB - base.rssKiB,
    lockedKiB: end.lockedKiB - base.lockedKiB,
    pinnedKiB: end.pinnedKiB - base.pinnedKiB,
    maxFdsWhileClosed: Math.max(...closed.map((r) => r.fds)) - base.fds,
    maxMapsWhileClosed: Math.max(...closed.map((r) => r.maps)) - base.maps,
    namedMaps: end.namedMaps - base.namedMaps,
    maxNamedMapsWhileClosed: Math.max(...closed.map((r) => r.namedMaps)) - base.namedMaps,
    anonMapsSpreadSecondHalf: spread(half.map((r) => r.anonMaps)),
    anonMapsSlopePer1000SecondHalf: slope(half.map((r) => r.cycle), half.map((r) => r.anonMaps)) * 1000,
    rssSpreadKiBClosed: spread(closed.map((r) => r.rssKiB)),
    rssSlopeKiBPer1000SecondHalf: slope(half.map((r) => r.cycle), half.map((r) => r.rssKiB)) * 1000,
  } : undefined;
  const opens = readings.filter((r) => r.phase === 'open');
  const perOpen = base && opens.length ? {
    fds: Math.max(...opens.map((r) => r.fds)) - base.fds,
    namedMaps: Math.max(...opens.map((r) => r.namedMaps)) - base.namedMaps,
    rssKiB: Math.max(...opens.map((r) => r.rssKiB)) - base.rssKiB,
  } : undefined;
  const checks = growth ? {
    fds: growth.fds <= VERDICT.fdGrowth && growth.maxFdsWhileClosed <= VERDICT.fdGrowth,
    namedMaps: growth.namedMaps <= VERDICT.namedMapsGrowth && growth.maxNamedMapsWhileClosed <= VERDICT.namedMapsGrowth,
    anonMaps: !(growth.anonMapsSlopePer1000SecondHalf > VERDICT.anonMapsSlopePer1000),
    rss: !(growth.rssSlopeKiBPer1000SecondHalf > VERDICT.rssSlopeKiBPer1000),
    locked: growth.lockedKiB <= VERDICT.lockedGrowthKiB && growth.pinnedKiB <= VERDICT.lockedGrowthKiB,
    noXdpLeft: leftovers.length === 0,
  } : undefined;
  const verdict = checks && done === o.cycles ? (Object.values(checks).every(Boolean) ? 'no growth' : 'growth') : 'incomplete';
  if (verdict !== 'no growth') exitCode = exitCode || 1;

  const report = {
    schema: 'xdplab.bench.leaks/1',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    complete: done === o.cycles && exitCode !== 2,
    machine: machine(),
    loadavgAtEnd: loadavg(),
    settings: { ...o, warmupCycles: WARMUP_CYCLES, exposeGc: Boolean(gc), queues: 1, tuning: 'defaults (4096 frames of 4 KiB, rings of 2048)' },
    method: 'each cycle: AfXdpPort.open({ifname, mode}) in the lab namespace (attaches libxdp\'s XSK program, creates the UMEM, socket and rings), one stats() call, close() (removes the socket from the XSKMAP, closes it, detaches the program), then bpf_xdp_query on the interface. Readings of /proc/self after a full GC: at the baseline (after the warm-up), at regular cycles while the port is open and after it is closed, and at the end.',
    verdictRule: VERDICT,
    cycles: done,
    portsOpened: opened,
    perOpen,
    growth,
    checks,
    verdict,
    xdpLeftovers: leftovers,
    fdKinds: fdKindsAt,
    mapsChange: { whileOpen: mapsChange(mapsAt.baseline, mapsAt.open), baselineToEnd: mapsChange(mapsAt.baseline, mapsAt.end) },
    readings,
  };
  mkdirSync(o.outDir, { recursive: true });
  const file = join(o.outDir, `leaks-${startedAt.toISOString().replace(/:/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(report, null, 1) + '\n');
  process.stdout.write(`\n${done} open/close cycles (${Object.entries(opened).map(([k, v]) => `${v} ${k}`).join(', ')})\n`);
  if (base && end && growth) {
    process.stdout.write(`baseline (cycle ${base.cycle}): ${base.fds} fds, ${base.maps} maps, RSS ${base.rssKiB} KiB, locked ${base.lockedKiB} KiB\n`);
    if (perOpen) process.stdout.write(`while a port is open: +${perOpen.fds} fds, +${perOpen.namedMaps} named mappings, RSS +${perOpen.rssKiB} KiB\n`);
    process.stdout.write(`end (cycle ${end.cycle}): ${end.fds} fds (${growth.fds >= 0 ? '+' : ''}${growth.fds}), ${end.maps} maps (${growth.maps >= 0 ? '+' : ''}${growth.maps}), RSS ${end.rssKiB} KiB (${growth.rssKiB >= 0 ? '+' : ''}${growth.rssKiB}), locked ${end.lockedKiB} KiB\n`);
    process.stdout.write(`mappings after close: named ${growth.namedMaps >= 0 ? '+' : ''}${growth.namedMaps} (max +${growth.maxNamedMapsWhileClosed}), anonymous spread ${growth.anonMapsSpreadSecondHalf} and slope ${growth.anonMapsSlopePer1000SecondHalf.toFixed(1)} per 1000 cycles over the second half\n`);
    process.stdout.write(`RSS after close: spread ${growth.rssSpreadKiBClosed} KiB, slope over the second half ${growth.rssSlopeKiBPer1000SecondHalf.toFixed(0)} KiB per 1000 cycles\n`);
  }
  process.stdout.write(`XDP programs left on the interface: ${leftovers.length ? leftovers.slice(0, 3).join('; ') : 'none'}\n`);
  process.stdout.write(`verdict: ${verdict}\nresults: ${file}\n`);
  return exitCode;
}

main().then((code) => { process.exitCode = code; }, (err: unknown) => {
  process.stderr.write(`bench:leaks: ${describeError(err)}\n`);
  process.exitCode = 1;
});
