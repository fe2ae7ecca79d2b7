// npm run bench:soak -- [--minutes 30] [--sample-seconds 10] [--mode native|skb] [--out DIR]
//
// A long datapath run: xdplab's txonly worker on the peer end of a veth pair sends 64-byte
// frames to xdplab's rxonly worker on the device end, each in its own lab namespace (the
// workers of benchmarks/engines/worker.ts, started as the datapath bench starts them: receiver
// on CPU 1, sender on CPU 0). Every --sample-seconds this process reads each xdplab process
// from /proc (VmRSS, VmHWM, open fds, mappings, threads) and the packet rates since the last
// reading. Verdict per process: flat after warm-up (VERDICT below). Everything it creates is
// the Lab's, removed at the end and on Ctrl-C (the partial results are written first).
// Results go to benchmarks/results/soak-<ISO date>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LabError, describeError } from '../contracts/errors.js';
import { queryXdp, withNetns, ifNameToIndex } from '../../native/index.js';
import { Lab } from '../lab/lab.js';
import { macOf } from '../lab/topology.js';
import { startWorker, type RunningWorker, type WorkerOutcome, type WorkerSampleEvent } from '../engines/worker-client.js';
import { REPO, childPids, commandLine, loadavg, machine, processStats, slope, spread, type ProcessStats } from './process-stats.js';
import type { AfXdpMode } from '../contracts/datapath.js';

type Mode = AfXdpMode;
type Role = 'receiver' | 'sender' | 'bench';

/**
 * Flat after warm-up: the first half of the run covers start-up (heaps growing to their working
 * size, the JIT, the UMEM's pages being touched); the second half must add nothing:
 *  - fds: the same count throughout the second half, and no more than in the first;
 *  - maps and RSS: no new high above the first half's (maps: 8 lines of slack, as V8 maps and
 *    unmaps heap pages; RSS: 4 MiB, V8's own breathing between collections), and an RSS slope
 *    over the second half of at most 256 KiB/min. Falling is fine (V8 returns memory late).
 * Why these numbers: a per-packet leak at this machine's rates (~0.1-1 Mpps) of even one byte
 * per 4000 packets is over 1.5 MiB/min, and a leaked UMEM (16 MiB) or ring is a step far above
 * the slack; 256 KiB/min (15 MiB/hour) is what a 30-minute run resolves against the ~1-4 MiB
 * swings of a JS process. A run of a few minutes can only rule out leaks well above that.
 */
const VERDICT = { fdSpread: 0, mapsRise: 8, rssSlopeKiBPerMin: 256, rssRiseKiB: 4096 };

interface Sample {
  tS: number;
  processes: Partial<Record<Role, ProcessStats & { pid: number }>>;
  /** Rates since the previous sample, from the workers' cumulative counters. */
  rxMpps: number | null;
  txMpps: number | null;
  loadavg: number[];
}

function usage(message: string): never {
  throw new LabError({ code: 'EUSAGE', message, hint: 'flags: --minutes N --sample-seconds N --mode native|skb --out DIR' });
}

function parse(argv: string[]): { minutes: number; sampleSeconds: number; mode: Mode; outDir: string } {
  const { values } = parseArgs({ args: argv, strict: true, options: { minutes: { type: 'string' }, 'sample-seconds': { type: 'string' }, mode: { type: 'string' }, out: { type: 'string' } } });
  const minutes = Number(values.minutes ?? 30);
  if (!Number.isFinite(minutes) || minutes < 1) usage(`--minutes: expected a number >= 1, got ${values.minutes}`);
  const sampleSeconds = Number(values['sample-seconds'] ?? 10);
  if (!Number.isFinite(sampleSeconds) || sampleSeconds < 1) usage(`--sample-seconds: expected a number >= 1, got ${values['sample-seconds']}`);
  const mode = (values.mode ?? 'native') as Mode;
  if (mode !== 'native' && mode !== 'skb') usage(`--mode: expected native or skb, got ${values.mode}`);
  return { minutes, sampleSeconds, mode, outDir: values.out ?? join(REPO, 'benchmarks', 'results') };
}

/** The newest cumulative sample of a worker. */
function follower(): { last: WorkerSampleEvent | null; on: (s: WorkerSampleEvent) => void } {
  const f = { last: null as WorkerSampleEvent | null, on: (s: WorkerSampleEvent) => { f.last = s; } };
  return f;
}

function judge(samples: Sample[], role: Role): Record<string, unknown> | null {
  const points = samples.filter((s) => s.processes[role]);
  if (points.length < 4) return null;
  const end = points[points.length - 1]!.tS;
  const first = points.filter((s) => s.tS < end / 2);
  const half = points.filter((s) => s.tS >= end / 2);
  const minutes = half.map((s) => s.tS / 60);
  const v = (xs: Sample[], k: keyof ProcessStats) => xs.map((s) => s.processes[role]![k]);
  const rise = (k: keyof ProcessStats) => Math.max(...v(half, k)) - Math.max(...v(first, k));
  const r = {
    samplesJudged: half.length,
    fromS: half[0]!.tS,
    rssKiBFirst: points[0]!.processes[role]!.rssKiB,
    rssKiBLast: points[points.length - 1]!.processes[role]!.rssKiB,
    rssSlopeKiBPerMin: Math.round(slope(minutes, v(half, 'rssKiB')) * 10) / 10,
    rssRiseKiB: rise('rssKiB'),
    rssSpreadKiB: spread(v(half, 'rssKiB')),
    fdSpread: spread(v(half, 'fds')),
    fdRise: rise('fds'),
    mapsRise: rise('maps'),
    mapsSpread: spread(v(half, 'maps')),
    threadsSpread: spread(v(half, 'threads')),
  };
  const flat = r.fdSpread <= VERDICT.fdSpread && r.fdRise <= 0 && r.mapsRise <= VERDICT.mapsRise
    && !(r.rssSlopeKiBPerMin > VERDICT.rssSlopeKiBPerMin) && r.rssRiseKiB <= VERDICT.rssRiseKiB;
  return { ...r, verdict: flat ? 'flat' : 'growing' };
}

async function main(): Promise<number> {
  let o: ReturnType<typeof parse>;
  try { o = parse(process.argv.slice(2)); } catch (err) { process.stderr.write(`bench:soak: ${describeError(err)}\n`); return 2; }
  if (process.getuid?.() !== 0) { process.stderr.write('bench:soak: needs root (network namespaces, veth pairs, XDP programs, AF_XDP sockets)\n'); return 1; }
  const startedAt = new Date();
  const lab = new Lab('soak');
  const samples: Sample[] = [];
  const notes: string[] = [];
  const outcomes: Partial<Record<'receiver' | 'sender', WorkerOutcome>> = {};
  const commandLines: Record<string, string> = {};
  let topology: Record<string, string> | undefined;
  let interrupted = false;
  let wake: (() => void) | null = null;
  const onSignal = () => { interrupted = true; wake?.(); };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const workers: RunningWorker[] = [];
  let exitCode = 0;
  const seconds = Math.round(o.minutes * 60);
  try {
    const dutNs = lab.addNetns('a');
    const peerNs = lab.addNetns('b');
    for (const ns of [dutNs, peerNs]) lab.exec(ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    const [dutIf, peerIf] = lab.addVethPair({ netns: dutNs, suffix: 'a' }, { netns: peerNs, suffix: 'b' });
    const dut = { netns: dutNs, ifname: dutIf };
    const peer = { netns: peerNs, ifname: peerIf };
    const dutMac = macOf(lab, dut);
    const peerMac = macOf(lab, peer);
    topology = { lab: lab.id, link: 'veth pair', dutNetns: dutNs, dutInterface: dutIf, peerNetns: peerNs, peerInterface: peerIf };

    const rx = follower();
    const tx = follower();
    // The receiver runs a little longer than the sender so that it sees the last frames.
    const receiver = startWorker(lab, { ...dut, engine: 'rxonly', mode: o.mode, seconds: seconds + 30, warmupMs: 0, sampleMs: 1000, cpu: 1 }, rx.on);
    workers.push(receiver);
    commandLines.receiver = receiver.commandLine;
    await receiver.ready;
    const receiverPid = childPids(process.pid).find((p) => commandLine(p).includes('--engine rxonly'));
    const sender = startWorker(lab, { ...peer, engine: 'txonly', mode: o.mode, seconds: seconds + 30, warmupMs: 0, sampleMs: 1000, cpu: 0, srcMac: peerMac, dstMac: dutMac, frameBytes: 64 }, tx.on);
    workers.push(sender);
    commandLines.sender = sender.commandLine;
    await sender.ready;
    const senderPid = childPids(process.pid).find((p) => commandLine(p).includes('--engine txonly'));
    if (!receiverPid || !senderPid) throw new LabError({ code: 'ESOAK', message: 'could not find the worker processes among this process\'s children' });

    const t0 = performance.now();
    let prev: { tS: number; rx: WorkerSampleEvent | null; tx: WorkerSampleEvent | null } = { tS: 0, rx: rx.last, tx: tx.last };
    const rate = (a: WorkerSampleEvent | null, b: WorkerSampleEvent | null, k: 'rx' | 'tx') =>
      (a && b && b.tMs > a.tMs ? Math.round(((b[k] - a[k]) / (b.tMs - a.tMs)) * 1e3) / 1e6 : null);
    for (let i = 0; ; i++) {
      const due = t0 + i * o.sampleSeconds * 1000;
      await new Promise<void>((r) => {
        const timer = setTimeout(r, Math.max(0, due - performance.now()));
        wake = () => { clearTimeout(timer); r(); }; // Ctrl-C: no reading left pending
      });
      wake = null;
      if (interrupted) { notes.push(`interrupted after ${Math.round((performance.now() - t0) / 1000)} s`); break; }
      const tS = Math.round((performance.now() - t0) / 100) / 10;
      const processes: Sample['processes'] = {};
      for (const [role, pid] of [['receiver', receiverPid], ['sender', senderPid], ['bench', process.pid]] as const) {
        const s = processStats(pid);
        if (s) processes[role] = { pid, ...s };
      }
      const sample: Sample = { tS, processes, rxMpps: rate(prev.rx, rx.last, 'rx'), txMpps: rate(prev.tx, tx.last, 'tx'), loadavg: loadavg() };
      samples.push(sample);
      prev = { tS, rx: rx.last, tx: tx.last };
      const p = processes.receiver;
      const q = processes.sender;
      process.stderr.write(`soak ${tS.toFixed(0)}/${seconds} s  rx ${sample.rxMpps?.toFixed(3) ?? '-'} Mpps  tx ${sample.txMpps?.toFixed(3) ?? '-'} Mpps  RSS rx ${p?.rssKiB ?? '-'} KiB tx ${q?.rssKiB ?? '-'} KiB  fds ${p?.fds ?? '-'}/${q?.fds ?? '-'}  maps ${p?.maps ?? '-'}/${q?.maps ?? '-'}\n`);
      if (!p || !q) { notes.push(`a worker exited early (at ${tS} s)`); exitCode = 1; break; }
      if (tS >= seconds) break;
    }
    sender.stop();
    outcomes.sender = await sender.done;
    receiver.stop();
    outcomes.receiver = await receiver.done;
    for (const [name, w] of Object.entries(outcomes)) if (!w.ok) { notes.push(`${name}: ${w.error?.message}`); exitCode = 1; }
    // The workers detach what they attached: nothing may be left on either end.
    for (const e of [dut, peer]) {
      const left = withNetns(e.netns, () => queryXdp(ifNameToIndex(e.ifname)));
      if (left.mode !== 'none') notes.push(`an XDP program (${left.mode}) was left on ${e.ifname} after the workers ended`);
    }
  } catch (err) {
    process.stderr.write(`bench:soak: ${describeError(err)}\n`);
    notes.push(`error: ${describeError(err)}`);
    exitCode = 1;
  } finally {
    for (const w of workers) w.stop();
    await Promise.all(workers.map((w) => w.done));
    lab.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const verdicts = { receiver: judge(samples, 'receiver'), sender: judge(samples, 'sender'), bench: judge(samples, 'bench') };
  const mpps = (k: 'rxMpps' | 'txMpps') => {
    const xs = samples.map((s) => s[k]).filter((x): x is number => x !== null).sort((a, b) => a - b);
    return xs.length ? { median: xs[xs.length >> 1]!, min: xs[0]!, max: xs[xs.length - 1]! } : null;
  };
  const flat = verdicts.receiver?.verdict === 'flat' && verdicts.sender?.verdict === 'flat';
  const report = {
    schema: 'xdplab.bench.soak/1',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    complete: !interrupted && exitCode === 0,
    machine: machine(),
    settings: o,
    topology: topology ?? null,
    commandLines,
    method: `xdplab txonly (peer, CPU 0) -> veth -> xdplab rxonly (device, CPU 1), ${o.mode} mode, 64-byte frames. Every ${o.sampleSeconds} s: /proc/PID/status (VmRSS, VmHWM), /proc/PID/fd, /proc/PID/maps of each worker and of this process; Mpps from the workers' cumulative counters between readings. Judged over the second half of the run.`,
    verdictRule: VERDICT,
    verdicts,
    verdict: flat ? 'flat' : samples.length < 8 ? 'too short to judge' : 'growing',
    mpps: { rx: mpps('rxMpps'), tx: mpps('txMpps') },
    workers: Object.fromEntries(Object.entries(outcomes).map(([k, w]) => [k, w.ok ? { ok: true, packets: w.packets, seconds: w.seconds, mode: w.mode, zeroCopy: w.zeroCopy } : { ok: false, error: w.error }])),
    notes,
    samples,
  };
  mkdirSync(o.outDir, { recursive: true });
  const file = join(o.outDir, `soak-${startedAt.toISOString().replace(/:/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(report, null, 1) + '\n');
  process.stdout.write(`\n${samples.length} readings over ${samples.at(-1)?.tS ?? 0} s; Mpps rx ${JSON.stringify(report.mpps.rx)} tx ${JSON.stringify(report.mpps.tx)}\n`);
  for (const [role, v] of Object.entries(verdicts)) {
    if (v) process.stdout.write(`${role}: RSS ${v.rssKiBFirst} -> ${v.rssKiBLast} KiB; second half: slope ${v.rssSlopeKiBPerMin} KiB/min, new high ${v.rssRiseKiB} KiB (spread ${v.rssSpreadKiB}), fds spread ${v.fdSpread}, maps new high ${v.mapsRise}: ${v.verdict}\n`);
  }
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
  process.stdout.write(`verdict: ${report.verdict}\nresults: ${file}\n`);
  if (!flat) exitCode = exitCode || 1;
  return exitCode;
}

main().then((code) => { process.exitCode = code; }, (err: unknown) => {
  process.stderr.write(`bench:soak: ${describeError(err)}\n`);
  process.exitCode = 1;
});
