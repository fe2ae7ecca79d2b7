// The engine worker's boundary (benchmarks/engines/worker.ts runs one engine on one AF_XDP
// port in a process of its own): one JSON spec in, JSON events on stderr while it runs, one JSON
// result on stdout. Both sides parse with these schemas, so nothing on either side casts.
import { z } from 'zod';
import { AfXdpModeSchema, BurstSchema, EngineNameSchema, FrameBytesSchema } from './datapath.js';
import { LabErrorSchema } from './errors.js';
import { LatencySchema } from './report.js';
import { FrameMixSchema } from './traffic.js';

const Mac = z.string().regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i, 'must be a MAC address (aa:bb:cc:dd:ee:ff)');

export const WorkerSpecSchema = z.object({
  netns: z.string().min(1).optional(),
  ifname: z.string().min(1).max(15),
  /** A second interface in the same namespace: io/macswap forward between the two ports. */
  peerIfname: z.string().min(1).max(15).optional(),
  /** io with peerIfname: a delay line holding every frame this long (a planted, known delay). */
  holdUs: z.number().int().min(0).max(10_000_000).optional(),
  engine: EngineNameSchema,
  mode: AfXdpModeSchema.default('native'),
  /** XDP_COPY even where the driver could do zero-copy. */
  copy: z.boolean().default(false),
  seconds: z.number().positive().default(5),
  warmupMs: z.number().int().min(0).default(1000),
  burst: BurstSchema.default(64),
  frameBytes: FrameBytesSchema.default(64),
  /** Transmitted frames spread over this many UDP source ports. */
  flows: z.number().int().min(1).max(65535).default(1),
  /** UMEM frames per queue, and rx/tx ring entries (fill and completion get twice this). */
  frameCount: z.number().int().min(64).default(4096),
  ringSize: z.number().int().min(64).max(16384).default(2048),
  busyPollBudget: z.number().int().min(0).max(65535).default(0),
  /** XDP_MAX_TX_SKB_BUDGET on every socket (0: the kernel's default). */
  txBudget: z.number().int().min(0).max(16384).default(0),
  /** Pin the engine's thread to this CPU. */
  cpu: z.number().int().min(0).max(1023).optional(),
  /** Cumulative counts on stderr this often (0: never). */
  sampleMs: z.number().int().min(0).default(1000),
  srcMac: Mac.optional(),
  dstMac: Mac.optional(),
  /** inhibit + sock-fds from xdplab helper: the inherited sockets, and the ifindex it attached. */
  provided: z.object({ sockFds: z.string().regex(/^\d+(:\d+)*$/), ifindex: z.number().int().min(1) }).strict().optional(),
  /** txonly: stop after this many frames (a fixed count, for exact checks). */
  maxPackets: z.number().int().min(1).optional(),
  /** txonly: target packets per second, paced per burst (unset: as fast as the ring allows). */
  rate: z.number().positive().max(1e9).optional(),
  /** txonly: frame sizes, overriding frameBytes ('imix': sizes fixed by UMEM frame index, 7:4:1). */
  frameMix: FrameMixSchema.optional(),
  /** txonly: write the stamp (flow, per-flow sequence, send time) into every frame sent. */
  stamp: z.boolean().optional(),
  /** rxonly: read every frame's stamp (counts per flow, order, duplicates, latency). */
  measure: z.boolean().optional(),
}).strict().superRefine((s, ctx) => {
  // Options that only one engine reads are refused elsewhere rather than silently ignored.
  const only = (field: 'rate' | 'frameMix' | 'stamp' | 'measure' | 'holdUs', engine: string) => {
    if (s[field] !== undefined && s.engine !== engine) ctx.addIssue({ code: 'custom', path: [field], message: `is an option of ${engine}, not of ${s.engine}` });
  };
  only('rate', 'txonly');
  only('frameMix', 'txonly');
  only('stamp', 'txonly');
  only('measure', 'rxonly');
  only('holdUs', 'io');
  if (s.holdUs && !s.peerIfname) ctx.addIssue({ code: 'custom', path: ['holdUs'], message: 'the delay line forwards between two ports: give peerIfname' });
});

/** What a caller writes (defaults filled in by the worker). */
export type WorkerSpecInput = z.input<typeof WorkerSpecSchema>;
export type WorkerSpec = z.infer<typeof WorkerSpecSchema>;

const Counts = { tMs: z.number(), rx: z.number(), tx: z.number() };

export const WorkerEventSchema = z.discriminatedUnion('event', [
  z.object({ event: z.literal('ready'), pid: z.number().int(), mode: AfXdpModeSchema, zeroCopy: z.boolean(), txBudget: z.object({ requested: z.number(), applied: z.boolean(), error: z.string().optional() }) }),
  z.object({ event: z.literal('window'), edge: z.enum(['start', 'end']), tMs: z.number() }),
  z.object({ event: z.literal('sample'), ...Counts, phase: z.enum(['warmup', 'measure']) }),
]);
export type WorkerEvent = z.infer<typeof WorkerEventSchema>;
export type WorkerSampleEvent = Extract<WorkerEvent, { event: 'sample' }>;
/** What a started worker reports once its port is open: how the kernel attached it. */
export interface WorkerReady { mode: z.infer<typeof AfXdpModeSchema>; zeroCopy: boolean }

export const WorkerResultSchema = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    engine: EngineNameSchema,
    mode: AfXdpModeSchema,
    zeroCopy: z.boolean(),
    /** Frames the engine moved in the measured window: received (rxonly) or completed (the others). */
    packets: z.number(),
    rx: z.number(),
    tx: z.number(),
    seconds: z.number(),
    warmupSeconds: z.number(),
    bursts: z.number(),
    interrupted: z.boolean(),
    txBudget: z.object({ requested: z.number(), applied: z.boolean(), error: z.string().optional() }),
    /** Port statistics since the port opened, and their changes inside the measured window. */
    stats: z.record(z.string(), z.unknown()),
    windowStats: z.record(z.string(), z.number()),
    /** With a peer port (io, macswap): the peer port's statistics since it opened. */
    peerStats: z.record(z.string(), z.unknown()).optional(),
    /** io, macswap: frames received that the engine could not queue for transmission (tx ring or pool full). */
    forwardDropped: z.number().optional(),
    /** CPU time of the worker inside the window: user space (the engine) and the kernel. */
    windowCpu: z.object({ userSeconds: z.number(), systemSeconds: z.number() }).optional(),
    /**
     * txonly: frames accepted by the tx ring per second: with rate, all of them over the
     * pacer's elapsed send time (sendSeconds, warm-up included); without, over the window.
     */
    achievedPps: z.number().optional(),
    sendSeconds: z.number().optional(),
    /** txonly with rate: what was asked, and whether achievedPps came within 1% of it. */
    targetPps: z.number().optional(),
    rateReached: z.boolean().optional(),
    /**
     * txonly with rate: frames the pacer could not send in time over sendSeconds (credit it
     * dropped at its two-burst cap while the process stalled or the ring was full). Sent plus
     * missed is the target, to within two bursts: a shortfall with missed 0 is wrong pacing.
     */
    rateMissedPackets: z.number().optional(),
    /**
     * Stamped streams since the engine was prepared (warm-up included). Generator: frames
     * accepted by the tx ring, per flow. Receiver: stamped frames received per flow (duplicates
     * included), of which duplicates per flow; reordered (sequence below the flow's highest
     * seen), foreign (no magic, or flow out of range), and received sizes (bytes -> frames).
     */
    stream: z.union([
      z.object({ sentPerFlow: z.array(z.number()) }).strict(),
      z.object({
        receivedPerFlow: z.array(z.number()),
        duplicatedPerFlow: z.array(z.number()),
        reordered: z.number(),
        duplicated: z.number(),
        foreign: z.number(),
        frameBytes: z.record(z.string(), z.number()),
      }).strict(),
    ]).optional(),
    /** rxonly with measure: one-way latency of the stamped frames received. */
    latency: LatencySchema.optional(),
  }),
  z.object({ ok: z.literal(false), error: LabErrorSchema }),
]);
export type WorkerResult = z.infer<typeof WorkerResultSchema>;
