// Forwarding engines, as in testpmd: an engine prepares a port once (frame templates, batches)
// and then moves one burst per call; the runner below owns timing and counting.
//
// Hot-path rules for engines: no allocation and no FFI call per packet. burst() returns the
// engine's own counts object, overwritten on every call (no object per burst either).
import { performance } from 'node:perf_hooks';
import type { AfXdpPort } from '../../native/index.js';
import type { UdpFrameSpec } from './frames.js';
import type { EngineName } from '../contracts/datapath.js';
import type { FrameMix } from '../contracts/traffic.js';

export interface EngineParams {
  /** Frames per burst (FrameBatch capacity). */
  batch: number;
  /** Bytes per transmitted frame (no FCS), like testpmd's --txpkts. */
  frameBytes: number;
  /** Addresses and ports of transmitted frames; unset members take DEFAULT_FRAME's. */
  frame?: Partial<Omit<UdpFrameSpec, 'frameBytes'>>;
  /** Transmitted frames spread over this many UDP source ports (default 1). */
  flows?: number;
  /** Transmit engines stop queueing after this many frames (default: no limit). */
  maxPackets?: number;
  /**
   * Receive engines call this for every received frame before giving it back. For tests and
   * checks only: it costs a call per packet, so leave it unset when measuring.
   */
  inspect?: (bytes: Uint8Array, offset: number, length: number) => void;
  /** A second port: io and macswap then forward between the two ports (testpmd with 2 ports). */
  peer?: AfXdpPort;
  /** io between two ports: hold every frame this long before sending it on (a delay line). */
  holdUs?: number;
  /** txonly: target packets per second, paced per burst (unset: as fast as the ring allows). */
  rate?: number;
  /** txonly: frame sizes, overriding frameBytes (a size, or 'imix' fixed by UMEM frame index). */
  frameMix?: FrameMix;
  /** txonly: stamp every frame sent (contracts/traffic.ts STAMP). */
  stamp?: boolean;
  /** rxonly: read the stamp of every received frame (counts, order, latency). */
  measure?: boolean;
}

/** Frames an engine received and transmitted (completed) in one burst. */
export interface BurstCounts { rx: number; tx: number }

export interface Engine {
  readonly name: EngineName;
  /** One-time setup: templates, batches. May allocate and call into native code. */
  prepare(port: AfXdpPort, params: EngineParams): void;
  /** Moves one burst on queue `queue`; returns the engine's reused counts object. */
  burst(port: AfXdpPort, queue: number): BurstCounts;
  /** Gives back what the engine still holds (after the run). */
  finish(port: AfXdpPort): void;
}

export interface EngineSample {
  /** Milliseconds since the run started (warm-up included). */
  tMs: number;
  /** Cumulative counts since the run started. */
  rx: number;
  tx: number;
  phase: 'warmup' | 'measure';
}

export interface RunOptions {
  queue?: number;
  warmupMs: number;
  durationMs: number;
  /** Read the clock every this many bursts (a power of two). */
  checkEvery?: number;
  /** Yield to the event loop (signals, output) at least this often. */
  sliceMs?: number;
  /** Report cumulative counts this often (0: never). */
  sampleMs?: number;
  onSample?: (s: EngineSample) => void;
  onWindow?: (edge: 'start' | 'end', tMs: number) => void;
  /** Set `stop` to end the run early (checked when the clock is read). */
  control?: { stop: boolean };
}

export interface RunResult {
  /** Frames counted inside the measured window. */
  rx: number;
  tx: number;
  /** Length of the measured window, from the clock reads that opened and closed it. */
  seconds: number;
  warmupSeconds: number;
  bursts: number;
  stoppedEarly: boolean;
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Runs `engine` on one queue for warm-up then the measured window. The loop calls burst()
 * back to back and reads the clock every `checkEvery` bursts; every `sliceMs` it yields to the
 * event loop so that signal handlers and output run (one promise per slice, not per burst).
 */
export async function runEngine(port: AfXdpPort, engine: Engine, o: RunOptions): Promise<RunResult> {
  const queue = o.queue ?? 0;
  const mask = (o.checkEvery ?? 64) - 1;
  if ((mask & (mask + 1)) !== 0) throw new RangeError(`checkEvery must be a power of two, got ${mask + 1}`);
  const sliceMs = o.sliceMs ?? 50;
  const sampleMs = o.sampleMs ?? 0;
  const control = o.control ?? { stop: false };
  const t0 = performance.now();
  const warmEnd = t0 + o.warmupMs;
  const end = warmEnd + o.durationMs;
  let rx = 0;
  let tx = 0;
  let bursts = 0;
  let measuring = o.warmupMs <= 0;
  let winStart = t0;
  let rxAtStart = 0;
  let txAtStart = 0;
  let nextSample = sampleMs > 0 ? t0 + sampleMs : Infinity;
  if (measuring) o.onWindow?.('start', 0);
  let now = t0;
  let done = false;
  while (!done) {
    const sliceEnd = now + sliceMs;
    for (;;) {
      const c = engine.burst(port, queue);
      rx += c.rx;
      tx += c.tx;
      if ((++bursts & mask) !== 0) continue;
      now = performance.now();
      if (!measuring && now >= warmEnd) {
        measuring = true;
        winStart = now;
        rxAtStart = rx;
        txAtStart = tx;
        o.onWindow?.('start', now - t0);
      }
      if (now >= nextSample) {
        o.onSample?.({ tMs: now - t0, rx, tx, phase: measuring ? 'measure' : 'warmup' });
        nextSample += sampleMs;
        if (nextSample <= now) nextSample = now + sampleMs;
      }
      if (now >= end || control.stop) { done = true; break; }
      if (now >= sliceEnd) break;
    }
    if (!done) await yieldToLoop();
    now = performance.now();
  }
  if (!measuring) { winStart = now; rxAtStart = rx; txAtStart = tx; }
  o.onWindow?.('end', now - t0);
  return {
    rx: rx - rxAtStart,
    tx: tx - txAtStart,
    seconds: (now - winStart) / 1000,
    warmupSeconds: (winStart - t0) / 1000,
    bursts,
    stoppedEarly: control.stop && now < end,
  };
}
