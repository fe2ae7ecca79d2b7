// A bench scenario: what `xdplab bench` runs, validated before anything is created, with
// errors that name the flag and list what it allows.
import { z } from 'zod';
import { schemaError } from '../../native/afxdp/options.js';
import { invalidOption } from '../../native/errors.js';

export const PACKET_ENGINES = ['txonly', 'rxonly', 'io', 'macswap'] as const;
export const TESTS = [...PACKET_ENGINES, 'iperf3'] as const;
export const MODES = ['native', 'skb'] as const;
export const GENERATORS = ['xdplab', 'testpmd'] as const;
export const REFERENCES = ['testpmd'] as const;

/** Largest frame that fits a 4 KiB UMEM chunk after the kernel's 256-byte XDP headroom. */
export const MAX_FRAME_BYTES = 4096 - 256;
export const MIN_FRAME_BYTES = 60;

export const ScenarioSchema = z.object({
  tests: z.array(z.enum(TESTS)).min(1).default(['txonly', 'rxonly', 'io', 'iperf3']),
  modes: z.array(z.enum(MODES)).min(1).default(['native', 'skb']),
  copy: z.boolean().default(false),
  frameBytes: z.array(z.number().int().min(MIN_FRAME_BYTES).max(MAX_FRAME_BYTES)).min(1).default([64]),
  burst: z.number().int().min(1).max(512).default(64),
  flows: z.number().int().min(1).max(65535).default(1),
  queues: z.number().int().min(1).max(64).default(1),
  durationMs: z.number().int().positive().default(3000),
  warmupMs: z.number().int().min(0).default(500),
  trials: z.number().int().min(1).max(100).default(3),
  sampleIntervalMs: z.number().int().min(100).max(60000).default(1000),
  generator: z.enum(GENERATORS).default('xdplab'),
  reference: z.array(z.enum(REFERENCES)).default([]),
  /** iperf3: parallel streams, and server-to-client direction. */
  parallel: z.number().int().min(1).max(128).default(1),
  reverse: z.boolean().default(false),
  /** An existing interface and its peer instead of the embedded lab (netns optional). */
  ifname: z.string().min(1).max(15).optional(),
  peer: z.string().min(1).max(15).optional(),
  netns: z.string().optional(),
  peerNetns: z.string().optional(),
}).strict();

export type Scenario = z.infer<typeof ScenarioSchema>;

/** Field names as the CLI spells them, for error messages. */
const FLAG: Record<string, string> = {
  tests: '--engines', modes: '--modes', copy: '--copy', frameBytes: '--frame-bytes', burst: '--burst', flows: '--flows',
  queues: '--queues', durationMs: '--duration', warmupMs: '--warmup', trials: '--trials', sampleIntervalMs: '--sample-interval',
  generator: '--generator', reference: '--reference', parallel: '--parallel', reverse: '--reverse', ifname: '--ifname', peer: '--peer',
  netns: '--netns', peerNetns: '--peer-netns',
};

export function flagFor(field: string): string {
  return FLAG[field] ?? field;
}

export function resolveScenario(input: unknown): Scenario {
  const parsed = ScenarioSchema.safeParse(input);
  if (!parsed.success) throw schemaError(parsed.error.issues, input, (path) => flagFor(String(path[0])));
  const s = parsed.data;
  if ((s.ifname === undefined) !== (s.peer === undefined)) {
    throw invalidOption(s.ifname ? '--peer' : '--ifname', '--ifname and --peer go together: the interface xdplab uses and the peer that sends or receives');
  }
  return s;
}
