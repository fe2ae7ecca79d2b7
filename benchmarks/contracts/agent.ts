// The peer agent's protocol (`xdplab agent --stdio`, usually at the far end of an ssh
// connection): one JSON message per line each way. Both sides first send a hello with the
// protocol version and xdplab's version; after that the client sends requests (LabApi's
// envelope: type, id, command, args) and the agent answers each with a response of the same id,
// and emits events (worker samples, a worker's end, an iperf3 server's end) in between.
// Zod only, like all of contracts/: both sides parse everything with these schemas.
import { z } from 'zod';
import { LabErrorSchema } from './errors.js';
import { EnvironmentSchema } from './report.js';
import { WorkerEventSchema, WorkerResultSchema, WorkerSpecSchema } from './worker.js';

/** Bumped whenever a message changes shape; both sides must agree exactly. */
export const AGENT_PROTOCOL_VERSION = 2;

/** [USER@]HOST as ssh takes it: a name, an ssh config alias, an address or [IPv6]; nothing a shell would read. */
export const PEER_HOST_PATTERN = /^(?:[A-Za-z0-9._-]{1,64}@)?(?:[A-Za-z0-9][A-Za-z0-9._-]{0,252}|\[[0-9A-Fa-f:.]+\])$/;

/** Test only: makes the agent claim this xdplab version in its hello (the mismatch test). */
export const FAKE_VERSION_ENV = 'XDPLAB_AGENT_FAKE_VERSION';

export const AgentHelloSchema = z.object({
  type: z.literal('hello'),
  role: z.enum(['client', 'agent']),
  protocol: z.number().int().positive(),
  xdplab: z.string().min(1).max(64),
  /** The agent's: where it runs, its pid and its lab's id (names it creates are xl-<labId>-...). */
  hostname: z.string().optional(),
  pid: z.number().int().optional(),
  labId: z.string().optional(),
}).strict();
export type AgentHello = z.infer<typeof AgentHelloSchema>;

const Name = z.string().regex(/^[A-Za-z0-9_.@:-]{1,64}$/, 'must be 1-64 letters, digits or . _ - @ :');
const IfName = z.string().regex(/^[A-Za-z0-9_.@:-]{1,15}$/, 'must be an interface name (1-15 letters, digits or . _ - @ :)');
/** The part of a lab name after xl-<labId>- (the whole interface name stays within 15). */
const Suffix = z.string().regex(/^[a-z0-9]{1,5}$/, 'must be 1-5 lowercase letters or digits');
const Cidr = z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$|^[0-9a-fA-F:]+\/\d{1,3}$/, 'must be an address with its prefix length (192.0.2.1/24)');
const Address = z.string().regex(/^(\d{1,3}\.){3}\d{1,3}$|^[0-9a-fA-F:]+$/, 'must be an IPv4 or IPv6 address');
const HandleId = z.string().regex(/^[a-z0-9-]{1,32}$/, 'must be a handle the agent returned');

const CheckResultSchema = z.object({ id: z.string(), ok: z.boolean(), detail: z.string(), severity: z.enum(['required', 'info']) });

export const LinkCountersSchema = z.object({
  ifname: z.string(),
  netns: z.string().optional(),
  /** When they were read, on the agent's clock (ms since the epoch). */
  atMs: z.number(),
  rx: z.object({ packets: z.number(), bytes: z.number(), dropped: z.number(), errors: z.number() }),
  tx: z.object({ packets: z.number(), bytes: z.number(), dropped: z.number(), errors: z.number() }),
  /** veth's per-queue XDP counters (ethtool -S), summed, when the driver has them. */
  xdp: z.object({ packets: z.number(), drops: z.number() }).optional(),
});
export type LinkCounters = z.infer<typeof LinkCountersSchema>;

const End = z.object({ netns: Name.optional(), suffix: Suffix }).strict();

/** command name -> { args, result }, as LabApi's Commands. */
export const AgentCommands = {
  /** The agent's machine: kernel, CPU, tools and their versions (a report's environment). */
  environment: {
    args: z.object({}).strict(),
    result: z.object({ environment: EnvironmentSchema }),
  },
  /** `xdplab doctor` there, as data. */
  doctor: {
    args: z.object({ qemu: z.string().min(1).max(4096).optional() }).strict(),
    result: z.object({ hostname: z.string(), passed: z.boolean(), checks: z.array(CheckResultSchema) }),
  },
  'netns.create': {
    args: z.object({ suffix: Suffix }).strict(),
    result: z.object({ name: z.string() }),
  },
  /** A namespace the agent created, removed now (it is removed at the end anyway). */
  'netns.delete': {
    args: z.object({ name: Name }).strict(),
    result: z.object({ removed: z.boolean() }),
  },
  /** A veth pair, one end in each namespace (none: the agent's own), both up. */
  'veth.create': {
    args: z.object({ a: End, b: End }).strict(),
    result: z.object({ a: z.string(), b: z.string() }),
  },
  'addr.add': {
    args: z.object({ netns: Name.optional(), ifname: IfName, cidr: Cidr }).strict(),
    result: z.object({}),
  },
  /** An interface's MAC, MTU, state and addresses there (the peer of a two-host run). */
  'link.info': {
    args: z.object({ netns: Name.optional(), ifname: IfName }).strict(),
    result: z.object({ ifname: z.string(), mac: z.string(), mtu: z.number().int(), up: z.boolean(), addresses: z.array(z.string()) }),
  },
  /** An XDP program that drops every frame (txonly's sink), detached by xdp.drop.detach or at the end. */
  'xdp.drop.attach': {
    args: z.object({ netns: Name.optional(), ifname: IfName, mode: z.enum(['native', 'skb']) }).strict(),
    result: z.object({ id: z.string() }),
  },
  'xdp.drop.detach': {
    args: z.object({ id: HandleId }).strict(),
    result: z.object({ detached: z.boolean() }),
  },
  'link.counters': {
    args: z.object({ netns: Name.optional(), ifname: IfName }).strict(),
    result: LinkCountersSchema,
  },
  /** An iperf3 server (-s) in a namespace, bound to an address; it serves until stopped. */
  'iperf3.server.start': {
    args: z.object({ netns: Name.optional(), address: Address, port: z.number().int().min(1).max(65535).default(5201) }).strict(),
    result: z.object({ id: z.string(), pid: z.number().int(), commandLine: z.string() }),
  },
  'iperf3.server.stop': {
    args: z.object({ id: HandleId }).strict(),
    result: z.object({ stopped: z.boolean() }),
  },
  /**
   * An engine worker (txonly generator, rxonly receiver, ...) on an interface there: returns once
   * it is started; worker.ready, worker.sample and worker.done events follow.
   */
  'worker.start': {
    args: z.object({ spec: WorkerSpecSchema }).strict(),
    result: z.object({ id: z.string(), commandLine: z.string() }),
  },
  /** Asks a worker to end its window early (SIGINT); its worker.done event follows. */
  'worker.stop': {
    args: z.object({ id: HandleId }).strict(),
    result: z.object({ stopped: z.boolean() }),
  },
} as const;

export type AgentCommandName = keyof typeof AgentCommands;
export type AgentCommandArgs<C extends AgentCommandName> = z.input<(typeof AgentCommands)[C]['args']>;
export type AgentCommandResult<C extends AgentCommandName> = z.infer<(typeof AgentCommands)[C]['result']>;

export const AgentEvents = {
  'worker.ready': z.object({ id: z.string(), mode: z.string(), zeroCopy: z.boolean() }),
  'worker.sample': z.object({ id: z.string(), sample: WorkerEventSchema.options[2] }),
  'worker.done': z.object({ id: z.string(), result: WorkerResultSchema }),
  'iperf3.server.exit': z.object({ id: z.string(), code: z.number().int().nullable(), signal: z.string().nullable(), stderr: z.string() }),
  /** Something the agent wants said (to stderr on the client): a cleanup, a stray line. */
  log: z.object({ level: z.enum(['info', 'warn', 'error']), message: z.string() }),
} as const;

export type AgentEventName = keyof typeof AgentEvents;
export type AgentEventPayload<E extends AgentEventName> = z.infer<(typeof AgentEvents)[E]>;

/** The agent's answer to a hello it cannot accept, before it exits. */
export const AgentFatalSchema = z.object({ type: z.literal('fatal'), error: LabErrorSchema }).strict();

export function isAgentCommand(name: string): name is AgentCommandName {
  return Object.prototype.hasOwnProperty.call(AgentCommands, name);
}
export function isAgentEvent(name: string): name is AgentEventName {
  return Object.prototype.hasOwnProperty.call(AgentEvents, name);
}

/** The error for two sides that do not speak the same protocol, naming both versions. */
export function versionMismatch(local: { protocol: number; xdplab: string }, remote: { protocol: number; xdplab: string }, where: string): { code: string; message: string; hint: string } | undefined {
  if (local.protocol === remote.protocol && local.xdplab === remote.xdplab) return undefined;
  return {
    code: 'EVERSION',
    message: `${where}: xdplab ${remote.xdplab} (agent protocol ${remote.protocol}) on the other side, xdplab ${local.xdplab} (agent protocol ${local.protocol}) here; both sides must run the same xdplab version`,
    hint: 'install the same xdplab version on both hosts (git checkout the same commit, npm run build)',
  };
}
