// dpdk-testpmd with the AF_XDP PMD (net_af_xdp), started inside a lab namespace:
//   dpdk-testpmd --no-huge -m 1024 --no-pci --vdev net_af_xdp0,iface=IF --file-prefix X
//     -l 0,1 --main-lcore N -- --forward-mode=txonly|rxonly --stats-period 1 --nb-cores=1 -a
//     [--txpkts=64]
// It needs two lcores: the main one prints statistics (and sleeps in between), the other one
// forwards. Without --stats-period it would read stdin, see EOF and stop after one burst.
// The runner parses the periodic "NIC statistics" blocks (cumulative RX-/TX-packets, Rx-/Tx-pps)
// with the time each block arrived, and the "Accumulated forward statistics" testpmd prints
// when it is stopped with SIGINT.
//
// The PMD's devargs in DPDK 22.11 are iface, start_queue, queue_count, shared_umem, xdp_prog,
// busy_budget and force_copy: none picks the XDP attach mode. The PMD creates its socket with
// xdp_flags = XDP_FLAGS_UPDATE_IF_NOEXIST and no mode bit, which libxdp turns into native mode
// on a driver with XDP support (veth has it). libxdp first looks for an XSK program named
// xsk_def_prog already attached to the interface and, if it finds one, only adds the socket to
// its XSKMAP. That is how a skb-mode run is made: attach libxdp's default XSK program in skb
// mode before starting testpmd (see the datapath bench).
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { LabError } from '../contracts/errors.js';
import type { Lab } from '../lab/lab.js';

export const TESTPMD_BINARY = 'dpdk-testpmd';

export interface TestpmdOptions {
  netns: string;
  ifname: string;
  /** testpmd's forwarding engines that xdplab compares with. */
  forwardMode: 'txonly' | 'rxonly' | 'io' | 'macswap';
  /** --file-prefix: unique per concurrently running testpmd. */
  filePrefix: string;
  /** -l (two lcores: main and forwarding). */
  lcores: [number, number];
  /** --main-lcore: one of lcores; the other forwards. */
  mainLcore: number;
  /** net_af_xdp<vdevIndex>. */
  vdevIndex?: number;
  /** -m, MiB (with --no-huge). */
  memoryMb?: number;
  statsPeriodSeconds?: number;
  /** --txpkts (txonly). */
  txpkts?: number;
  /** --burst: packets per receive and transmit burst (testpmd's default is 32). */
  burst?: number;
  /** Extra PMD devargs, e.g. { force_copy: 1 } or { busy_budget: 0 }. */
  devargs?: Record<string, string | number>;
  /** Extra EAL arguments (before --). */
  ealArgs?: string[];
  /** Extra testpmd arguments (after --). */
  appArgs?: string[];
}

export interface TestpmdSample {
  /** performance.now() when the block arrived. */
  atMs: number;
  rxPackets: number;
  rxMissed: number;
  txPackets: number;
  txErrors: number;
  rxPps: number;
  txPps: number;
}

export interface TestpmdAccumulated {
  rxPackets: number; rxDropped: number; rxTotal: number;
  txPackets: number; txDropped: number; txTotal: number;
}

export interface TestpmdResult {
  commandLine: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  samples: TestpmdSample[];
  accumulated: TestpmdAccumulated | null;
  /** performance.now() when testpmd said it starts forwarding. */
  forwardingAtMs: number | null;
}

export interface Rate { packets: number; seconds: number; pps: number; samples: number; fromMs: number; toMs: number }

/** Finds dpdk-testpmd on PATH (or null). */
export function findTestpmd(): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, TESTPMD_BINARY);
    if (dir && existsSync(p)) return p;
  }
  return null;
}

/** The argument vector (without the binary). */
export function testpmdArgs(o: TestpmdOptions): string[] {
  const devargs = [`iface=${o.ifname}`, ...Object.entries(o.devargs ?? {}).map(([k, v]) => `${k}=${v}`)].join(',');
  return [
    '--no-huge', '-m', String(o.memoryMb ?? 1024), '--no-pci',
    '--vdev', `net_af_xdp${o.vdevIndex ?? 0},${devargs}`,
    '--file-prefix', o.filePrefix,
    '-l', o.lcores.join(','), '--main-lcore', String(o.mainLcore),
    ...(o.ealArgs ?? []),
    '--',
    `--forward-mode=${o.forwardMode}`, '--stats-period', String(o.statsPeriodSeconds ?? 1), '--nb-cores=1', '-a',
    ...(o.forwardMode === 'txonly' ? [`--txpkts=${o.txpkts ?? 64}`] : []),
    ...(o.burst ? [`--burst=${o.burst}`] : []),
    ...(o.appArgs ?? []),
  ];
}

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;
const num = (s: string | undefined): number => (s === undefined ? NaN : Number(s));

/** Parses testpmd's output line by line (exported for tests). */
export class TestpmdOutputParser {
  readonly samples: TestpmdSample[] = [];
  accumulated: TestpmdAccumulated | null = null;
  forwardingAtMs: number | null = null;
  private block: Partial<TestpmdSample> | null = null;
  private inAccumulated = false;
  private acc: Partial<TestpmdAccumulated> = {};

  line(raw: string, atMs: number): TestpmdSample | null {
    const l = raw.replace(ANSI, '').trim();
    if (this.forwardingAtMs === null && /start packet forwarding/i.test(l)) this.forwardingAtMs = atMs;
    if (l.includes('NIC statistics for port')) { this.block = {}; return null; }
    if (l.includes('Accumulated forward statistics for all ports')) { this.inAccumulated = true; this.acc = {}; return null; }
    let m: RegExpMatchArray | null;
    if (this.inAccumulated) {
      if ((m = l.match(/^RX-packets:\s*(\d+)\s+RX-dropped:\s*(\d+)\s+RX-total:\s*(\d+)/))) {
        Object.assign(this.acc, { rxPackets: num(m[1]), rxDropped: num(m[2]), rxTotal: num(m[3]) });
      } else if ((m = l.match(/^TX-packets:\s*(\d+)\s+TX-dropped:\s*(\d+)\s+TX-total:\s*(\d+)/))) {
        Object.assign(this.acc, { txPackets: num(m[1]), txDropped: num(m[2]), txTotal: num(m[3]) });
        this.accumulated = this.acc as TestpmdAccumulated;
        this.inAccumulated = false;
      }
      return null;
    }
    const b = this.block;
    if (!b) return null;
    if ((m = l.match(/^RX-packets:\s*(\d+)\s+RX-missed:\s*(\d+)/))) { b.rxPackets = num(m[1]); b.rxMissed = num(m[2]); }
    else if ((m = l.match(/^TX-packets:\s*(\d+)\s+TX-errors:\s*(\d+)/))) { b.txPackets = num(m[1]); b.txErrors = num(m[2]); }
    else if ((m = l.match(/^Rx-pps:\s*(\d+)/))) b.rxPps = num(m[1]);
    else if ((m = l.match(/^Tx-pps:\s*(\d+)/))) {
      b.txPps = num(m[1]);
      this.block = null;
      if (b.rxPackets !== undefined && b.txPackets !== undefined) {
        const s: TestpmdSample = {
          atMs, rxPackets: b.rxPackets, rxMissed: b.rxMissed ?? 0, txPackets: b.txPackets, txErrors: b.txErrors ?? 0,
          rxPps: b.rxPps ?? NaN, txPps: b.txPps,
        };
        this.samples.push(s);
        return s;
      }
    }
    return null;
  }
}

/**
 * Rate of a cumulative counter between the first sample at or after `fromMs` and the last one at
 * or before `toMs` (sample times are when the blocks arrived).
 */
export function rateFromSamples<S extends { atMs: number }>(samples: S[], counter: (s: S) => number, fromMs: number, toMs: number): Rate | null {
  const inside = samples.filter((s) => s.atMs >= fromMs && s.atMs <= toMs);
  if (inside.length < 2) return null;
  const a = inside[0]!;
  const b = inside[inside.length - 1]!;
  const packets = counter(b) - counter(a);
  const seconds = (b.atMs - a.atMs) / 1000;
  return { packets, seconds, pps: seconds > 0 ? packets / seconds : 0, samples: inside.length, fromMs: a.atMs, toMs: b.atMs };
}

export class Testpmd {
  readonly args: string[];
  /** The exact command line as run (ip netns exec included). */
  readonly commandLine: string;
  private child: ChildProcess | null = null;
  private readonly parser = new TestpmdOutputParser();
  private readonly log: string[] = [];
  private exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | null = null;
  private waiters: Array<() => void> = [];

  constructor(readonly options: TestpmdOptions) {
    this.args = testpmdArgs(options);
    this.commandLine = ['ip', 'netns', 'exec', options.netns, TESTPMD_BINARY, ...this.args].join(' ');
  }

  get samples(): TestpmdSample[] { return this.parser.samples; }
  get pid(): number | undefined { return this.child?.pid; }

  /** Last lines of output, for error messages. */
  tail(n = 20): string { return this.log.slice(-n).join('\n'); }

  /**
   * Starts testpmd through the lab (tracked, killed on lab close) and resolves once it forwards
   * and has printed its first statistics block.
   */
  async start(lab: Lab, timeoutMs = 60_000): Promise<void> {
    if (this.child) throw new LabError({ code: 'ESTATE', message: 'testpmd: already started' });
    lab.trackFile(`/var/run/dpdk/${this.options.filePrefix}`);
    // The PMD attaches libxdp's XSK program to each of its interfaces.
    const netns = this.options.netns || undefined;
    for (const a of this.args.join(' ').matchAll(/iface=([^,\s]+)/g)) lab.recordXdp(netns, a[1]!);
    const child = lab.spawn(this.options.netns, TESTPMD_BINARY, this.args);
    this.child = child;
    this.exit = new Promise((resolve) => child.once('exit', (code, signal) => { resolve({ code, signal }); this.wake(); }));
    const onLine = (l: string) => {
      this.log.push(l);
      if (this.log.length > 400) this.log.splice(0, 200);
      if (this.parser.line(l, performance.now())) this.wake();
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    await new Promise<void>((resolve, reject) => child.once('spawn', resolve).once('error', reject));
    const deadline = performance.now() + timeoutMs;
    while (this.parser.forwardingAtMs === null || !this.parser.samples.some((s) => s.atMs > this.parser.forwardingAtMs!)) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new LabError({ code: 'ETESTPMD', message: `testpmd exited (${child.exitCode ?? child.signalCode}) before forwarding: ${this.commandLine}`, hint: this.tail() });
      }
      if (performance.now() > deadline) {
        throw new LabError({ code: 'ETIMEDOUT', message: `testpmd did not start forwarding within ${timeoutMs} ms: ${this.commandLine}`, hint: this.tail() });
      }
      await this.nextEvent(500);
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private nextEvent(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      this.waiters.push(() => { clearTimeout(t); resolve(); });
    });
  }

  /** Resolves when a statistics block arrives after `afterMs` (or after timeoutMs). */
  async sampleAfter(afterMs: number, timeoutMs = 5000): Promise<TestpmdSample | null> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const s = this.samples.find((x) => x.atMs > afterMs);
      if (s) return s;
      if (performance.now() > deadline || !this.child || this.child.exitCode !== null) return null;
      await this.nextEvent(deadline - performance.now());
    }
  }

  /**
   * Stops with SIGINT (testpmd then prints the accumulated statistics), repeats it if testpmd
   * did not react, and kills it after timeoutMs. Always waits for the process to exit.
   */
  async stop(timeoutMs = 15_000): Promise<TestpmdResult> {
    const child = this.child;
    if (child && this.exit) {
      const start = performance.now();
      let exited = child.exitCode !== null || child.signalCode !== null;
      let lastInt = -Infinity;
      while (!exited) {
        const now = performance.now();
        if (now - start > timeoutMs) { child.kill('SIGKILL'); await this.exit; break; }
        if (now - lastInt > 3000) { child.kill('SIGINT'); lastInt = now; }
        exited = await Promise.race([this.exit.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 250))]);
      }
    }
    const e = this.exit ? await this.exit : { code: null, signal: null };
    return {
      commandLine: this.commandLine, exitCode: e.code, signal: e.signal, samples: this.samples,
      accumulated: this.parser.accumulated, forwardingAtMs: this.parser.forwardingAtMs,
    };
  }
}
