// A run's scenario: which rows to make (host engines, iperf3 paths, VM backends) and how to
// measure them, validated once where it enters (LabApi, the CLI) with errors that name the
// flag and list what it allows. Every field carries its CLI flag and help text as metadata, so
// `xdplab bench --help`, the flag names in errors and the UI's lists come from here.
import { z } from 'zod';
import { PEER_HOST_PATTERN } from './agent.js';
import { BurstSchema, FrameBytesSchema } from './datapath.js';
import { invalidOption, parseOrThrow } from './errors.js';
import { RateSchema } from './traffic.js';
import { AFXDP_MODES, GENERATORS, SEARCH_GOALS, HOST_TESTS, MAX_FRAME_BYTES, MIN_FRAME_BYTES, NIC_MODELS, REFERENCES, VM_FAULTS, VM_TESTS } from './vocabulary.js';

export type VmTestName = (typeof VM_TESTS)[number];

type FieldMeta = { flag: string; description: string };
const meta = (flag: string, description: string): FieldMeta => ({ flag, description });

export const VmRowsSchema = z.object({
  /** Backend names or aliases (stream, dgram, all); expanded and checked by the VM row kinds. */
  backends: z.array(z.string().min(1).max(32)).min(1).meta(meta('--backends', 'QEMU network backends (xdplab vm bench --help lists them)')),
  tests: z.array(z.enum(VM_TESTS)).min(1).default(['iperf3']).meta(meta('--tests', `VM tests: ${VM_TESTS.join(',')}`)),
  /**
   * PVP rows: a VM with two NICs on the backend forwards between them (the guest's kernel
   * bridge); xdplab's generator sends into one host end and its receiver measures at the other.
   * With --search: NDR/PDR through the VM.
   */
  pvp: z.boolean().default(false).meta(meta('--pvp', 'PVP rows: the guest forwards between two NICs of the backend (with --search: NDR/PDR through the VM)')),
  nicModel: z.enum(NIC_MODELS).default('virtio-net-pci').meta(meta('--nic', `the guest's NIC: ${NIC_MODELS.join(' | ')}`)),
  /** The QEMU binary; unset: $XDPLAB_QEMU, else qemu-system-x86_64 on PATH. */
  qemu: z.string().min(1).max(4096).optional().meta(meta('--qemu', 'the QEMU binary')),
  /** Faults injected into the iperf3 trials of the rows they name (backend/iperf3). */
  faults: z.array(z.object({ kind: z.enum(VM_FAULTS), row: z.string(), afterMs: z.number().int().min(0).optional() }).strict()).optional().meta(meta('--fault', `inject a fault: ${VM_FAULTS.join(', ')}`)),
}).strict();

const QmpName = z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'must be a QMP command name');

/**
 * A QMP action on a VM of a running VM trial: what a timeline step does at its time, and what
 * the Live page's QMP panel does at once (runStep), carried out by one code path (TrialVms).
 */
export const TimelineActionSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('set_link'), up: z.boolean() }).strict(),
  /**
   * netdev_del, then netdev_add of the same backend with the same options (a hot swap). QEMU
   * keeps a netdev its NIC holds (netdev_del alone only takes the link down and the add fails:
   * tap EBUSY, user's hostfwd port still bound), so the NIC is unplugged first (device_del until
   * DEVICE_DELETED) and plugged again with the same MAC on the new netdev (device_add), and the
   * guest gets its address back (guest-ip): each a marker.
   */
  z.object({ kind: z.literal('netdev_swap') }).strict(),
  z.object({ kind: z.literal('announce_self') }).strict(),
  z.object({ kind: z.literal('qmp'), command: QmpName, arguments: z.record(z.string(), z.unknown()).optional() }).strict(),
]);
export type TimelineAction = z.infer<typeof TimelineActionSchema>;

/**
 * One step of a scenario's timeline: a QMP action on a VM of each VM row it names, `atMs` after
 * the trial's measured window began (the samples' time axis). A step that fails is a marker
 * with its error; the run goes on.
 */
export const TimelineStepSchema = z.object({
  atMs: z.number().int().min(0).max(3_600_000),
  /** Row ids it applies to (default: every VM row). */
  rows: z.array(z.string().min(1)).min(1).optional(),
  /** The VM of the row's group (default: the first, whose NIC is the backend under test). */
  vm: z.string().min(1).optional(),
  action: TimelineActionSchema,
}).strict();
export type TimelineStep = z.infer<typeof TimelineStepSchema>;

export const ScenarioSchema = z.object({
  tests: z.array(z.enum(HOST_TESTS)).default(['txonly', 'rxonly', 'io', 'iperf3']).meta(meta('--engines', `host rows: ${HOST_TESTS.join(',')}`)),
  modes: z.array(z.enum(AFXDP_MODES)).min(1).default([...AFXDP_MODES]).meta(meta('--modes', `AF_XDP attach modes: ${AFXDP_MODES.join(',')}`)),
  copy: z.boolean().default(false).meta(meta('--copy', 'force copy mode (XDP_COPY)')),
  frameBytes: z.array(FrameBytesSchema).min(1).default([64]).meta(meta('--frame-bytes', `frame sizes, ${MIN_FRAME_BYTES}..${MAX_FRAME_BYTES}`)),
  /** IMIX (7:4:1 of 64/570/1518) as one more frame-size cell of the packet rows. */
  imix: z.boolean().default(false).meta(meta('--imix', 'add IMIX (7:4:1 of 64/570/1518 bytes) to the frame sizes')),
  burst: BurstSchema.default(64).meta(meta('--burst', 'frames per burst')),
  /** txonly rows and the generator of receiving rows send at this rate (default: as fast as they go). */
  rate: RateSchema.optional().meta(meta('--rate', 'offered rate: packets per second, or a percentage of the maximum ("50%")')),
  /** Rate searches for the receiving rows (rxonly on the DUT, io forwarding A -> M -> B). */
  search: z.array(z.enum(SEARCH_GOALS)).default([]).meta(meta('--search', `rate searches: ${SEARCH_GOALS.join(',')} (highest rate without loss / within --pdr-loss)`)),
  /** Loss tolerances in percent of the frames sent. */
  ndrLoss: z.number().min(0).lt(100).default(0).meta(meta('--ndr-loss', 'NDR loss tolerance, percent [0, 100)')),
  pdrLoss: z.number().min(0).lt(100).default(0.5).meta(meta('--pdr-loss', 'PDR loss tolerance, percent [0, 100)')),
  /** The search stops when (upper - lower) / upper is at most this (percent). */
  precision: z.number().gt(0).max(50).default(0.5).meta(meta('--precision', "the search's goal: bounds' relative width, percent")),
  /** Trials while the bounds are wide; the final trial runs for --duration. */
  searchTrialMs: z.number().int().min(200).max(600_000).default(1000).meta(meta('--search-trial', 'duration of the search\'s short trials')),
  /** A search that has not converged by then reports its bounds, marked not converged. */
  searchMaxMs: z.number().int().min(1000).max(86_400_000).default(300_000).meta(meta('--search-time', 'time cap per search')),
  /** Full-length trials within tolerance at a goal's lower bound before it stands (MLRsearch's duration sum). */
  searchConfirm: z.number().int().min(1).max(100).default(1).meta(meta('--search-confirm', 'full-length trials without loss beyond the tolerance at a result before it stands')),
  /** After each search: this many full-length trials at the NDR found, and one 5% above it. */
  searchCheck: z.number().int().min(0).max(100).default(0).meta(meta('--search-check', 'after a search: N trials at the NDR (expected: no loss) and one 5% above it (expected: loss)')),
  /** Latency rows at idle and at 10, 50 and 90% of the PDR each search row found. */
  latency: z.boolean().default(false).meta(meta('--latency', 'latency rows at idle and 10/50/90% of the PDR (needs --search pdr); with --peer-host: round-trip latency across the hosts')),
  flows: z.number().int().min(1).max(65535).default(1).meta(meta('--flows', 'UDP flows (source ports)')),
  queues: z.number().int().min(1).max(64).default(1).meta(meta('--queues', 'device queues')),
  durationMs: z.number().int().min(100).max(3_600_000).default(3000).meta(meta('--duration', 'measured window per trial')),
  warmupMs: z.number().int().min(0).max(600_000).default(500).meta(meta('--warmup', 'before each window')),
  trials: z.number().int().min(1).max(100).default(3).meta(meta('--trials', 'trials per row')),
  sampleIntervalMs: z.number().int().min(100).max(60000).default(1000).meta(meta('--sample-interval', 'between live samples')),
  generator: z.enum(GENERATORS).default('xdplab').meta(meta('--generator', `traffic for rxonly/io: ${GENERATORS.join(' or ')}`)),
  reference: z.array(z.enum(REFERENCES)).default([]).meta(meta('--reference', "add dpdk-testpmd's AF_XDP PMD rows beside xdplab's")),
  parallel: z.number().int().min(1).max(128).default(1).meta(meta('--parallel', 'iperf3 streams')),
  reverse: z.boolean().default(false).meta(meta('--reverse', 'iperf3 server-to-client')),
  /** An existing interface and its peer instead of the embedded lab (netns optional). */
  ifname: z.string().min(1).max(15).optional().meta(meta('--ifname', 'an existing interface instead of the embedded lab')),
  peer: z.string().min(1).max(15).optional().meta(meta('--peer', 'its peer (sends or receives)')),
  netns: z.string().min(1).optional().meta(meta('--netns', "--ifname's namespace")),
  peerNetns: z.string().min(1).optional().meta(meta('--peer-netns', "--peer's namespace")),
  /**
   * The peer on another host: its side (generator, drop sink, iperf3 server, counters) runs in
   * `xdplab agent --stdio` started there through the system's ssh; --peer names its interface.
   */
  peerHost: z.string().regex(PEER_HOST_PATTERN, 'expected [USER@]HOST').optional().meta(meta('--peer-host', '[USER@]HOST: the peer runs there, through ssh (--peer names its interface)')),
  /** The ssh command line (default: $XDPLAB_SSH, else ssh), as rsync's -e. */
  ssh: z.string().min(1).max(4096).optional().meta(meta('--ssh', "the ssh command line for --peer-host (default: $XDPLAB_SSH, else 'ssh')")),
  /** VM rows: backends x tests, each trial with fresh VMs. */
  vm: VmRowsSchema.optional().meta({ flag: '--backends' }),
  /** QMP steps during every VM row's trials (scenario files: benchmarks/scenarios/). */
  timeline: z.array(TimelineStepSchema).max(1000).default([]).meta({ flag: '--timeline' }),
  /**
   * Trials run trial-major (every row's trial 1, then every row's trial 2: A B A B), so rows
   * compared with each other see the same machine phases. Otherwise row by row.
   */
  interleave: z.boolean().default(false).meta(meta('--interleave', 'run trials A B A B across rows')),
  /** Before each trial, wait (up to waitMs) until other processes use at most maxOtherCpus. */
  quiet: z.object({ maxOtherCpus: z.number().min(0).max(64), waitMs: z.number().int().min(0).max(600_000) }).strict().optional().meta({ flag: '--quiet' }),
}).strict();

export type Scenario = z.infer<typeof ScenarioSchema>;

/** --quick: one short trial per row, small enough for under 30 s on the default matrix. */
export const QUICK = { durationMs: 1000, warmupMs: 300, trials: 1 } as const;

/** The CLI flag of a scenario field (its metadata), for error messages. */
export function flagFor(path: readonly PropertyKey[]): string {
  let schema: z.ZodType | undefined = ScenarioSchema;
  let flag: string | undefined;
  for (const key of path) {
    const shape: Record<string, z.ZodType> | undefined = schema && unwrapObject(schema)?.shape;
    // Own members only: a path may name 'constructor' or '__proto__' (bad input is any input).
    const inner: z.ZodType | undefined = shape && Object.hasOwn(shape, String(key)) ? shape[String(key)] : undefined;
    if (!inner) break;
    const m = inner.meta();
    if (typeof m?.flag === 'string') flag = m.flag;
    schema = inner;
  }
  return flag ?? path.map(String).join('.');
}

function unwrapObject(s: z.ZodType): z.ZodObject | undefined {
  let t: z.ZodType = s;
  while (t instanceof z.ZodOptional || t instanceof z.ZodDefault) t = t.unwrap() as z.ZodType;
  return t instanceof z.ZodObject ? t : undefined;
}

/** A scenario field as a CLI flag: how its text becomes the value (durations are in seconds). */
export interface ScenarioFlag extends FieldMeta { key: string; kind: 'boolean' | 'list' | 'number-list' | 'number' | 'seconds' | 'string' | 'number-or-string'; defaultValue?: unknown }

function flagKind(key: string, f: z.ZodType): ScenarioFlag['kind'] {
  let t: z.ZodType = f;
  while (t instanceof z.ZodOptional || t instanceof z.ZodDefault) t = t.unwrap() as z.ZodType;
  if (t instanceof z.ZodBoolean) return 'boolean';
  if (t instanceof z.ZodArray) return t.element instanceof z.ZodNumber ? 'number-list' : 'list';
  if (t instanceof z.ZodNumber) return key.endsWith('Ms') ? 'seconds' : 'number';
  if (t instanceof z.ZodUnion && t.options.some((o) => o instanceof z.ZodNumber)) return 'number-or-string';
  return 'string';
}

/** Every top-level flag with its help text and default, in the schema's order (`xdplab bench`). */
export function scenarioFlags(): ScenarioFlag[] {
  return Object.entries(ScenarioSchema.shape).flatMap(([key, f]) => {
    const m = f.meta();
    if (typeof m?.flag !== 'string' || !m.description) return [];
    return [{ key, flag: m.flag, description: m.description, kind: flagKind(key, f), ...(f instanceof z.ZodDefault ? { defaultValue: f.def.defaultValue } : {}) }];
  });
}

/** What runs across --peer-host so far: xdplab's engines against the peer's side, and iperf3. */
function checkPeerHost(s: Scenario): void {
  if (s.ifname === undefined) throw invalidOption('--ifname', '--peer-host needs --ifname (the interface here) and --peer (the interface there)');
  const unsupported: Array<[boolean, string, string]> = [
    [!!s.vm, '--backends', 'VM rows run on this host only'],
    [s.reference.length > 0, '--reference', "dpdk-testpmd's rows run with a peer on this host only"],
    [s.generator !== 'xdplab', '--generator', "the peer's generator there is xdplab's txonly"],
    [s.search.length > 0, '--search', 'rate searches run with a peer on this host only'],
    [s.timeline.length > 0, '--timeline', 'timelines act on VM rows'],
  ];
  for (const [bad, flag, why] of unsupported) if (bad) throw invalidOption(flag, `${why}, not across --peer-host yet`);
}

export function resolveScenario(input: unknown): Scenario {
  const s = parseOrThrow(ScenarioSchema, input, flagFor);
  if ((s.ifname === undefined) !== (s.peer === undefined)) {
    throw invalidOption(s.ifname ? '--peer' : '--ifname', '--ifname and --peer go together: the interface xdplab uses and the peer that sends or receives');
  }
  if (s.peerHost !== undefined) checkPeerHost(s);
  else if (s.ssh !== undefined) throw invalidOption('--ssh', '--ssh names how to reach --peer-host: give --peer-host too');
  if (typeof s.rate === 'number' && (s.rate * s.durationMs) / 1000 < 1) throw invalidOption('--rate', `${s.rate} pps is less than one frame in a ${s.durationMs / 1000} s trial`);
  // Across hosts, --latency is the round-trip row (rows/rtt-peer.ts); here, rows at fractions of the PDR.
  if (s.latency && !s.peerHost && !s.search.includes('pdr')) throw invalidOption('--latency', 'latency rows run at fractions of the PDR: add --search pdr (or ndr,pdr)');
  if (s.search.length && !s.tests.some((t) => t === 'rxonly' || t === 'io') && !(s.vm && (s.vm.pvp || s.vm.tests.includes('txonly')))) {
    throw invalidOption('--search', 'searches run for the receiving rows: add rxonly or io to --engines, or VM rows with --pvp or the txonly test');
  }
  if (s.tests.length === 0 && !s.vm) throw invalidOption('--engines', `choose at least one of ${HOST_TESTS.join(', ')}, or VM rows (backends)`);
  return s;
}
