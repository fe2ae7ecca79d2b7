// NetdevAFXDPOptions exactly as QEMU's qapi/net.json declares it (member names included), with
// QEMU's rules, plus xdplab's datapath tuning kept apart so the QEMU part stays a pure mirror.
import { z } from 'zod';
import { AFXDP_MODES, type AfXdpMode } from '../../benchmarks/contracts/datapath.js';
import { LabError, invalidOption, schemaError } from '../../benchmarks/contracts/errors.js';

const INT_MAX = 2 ** 31 - 1;

export const NetdevAFXDPOptionsSchema = z.object({
  ifname: z.string().min(1, 'must be an interface name of 1 to 15 characters').max(15, 'must be an interface name of 1 to 15 characters'),
  mode: z.enum(AFXDP_MODES).optional(),
  'force-copy': z.boolean().optional(),
  queues: z.number().int().optional(),
  'start-queue': z.number().int().optional(),
  inhibit: z.boolean().optional(),
  'sock-fds': z.string().optional(),
}).strict();

export type NetdevAFXDPOptions = z.infer<typeof NetdevAFXDPOptionsSchema>;

export const AfXdpTuningSchema = z.object({
  /** UMEM chunk size: 2048 or 4096 bytes. */
  frameSize: z.literal([2048, 4096]).default(4096),
  /** Frames per queue's UMEM (half stock the fill ring, half serve tx). */
  frameCount: z.number().int().min(64).default(4096),
  /** rx and tx ring entries; fill and completion get twice this. Power of two. */
  ringSize: z.number().int().min(64).max(16384).refine((n) => (n & (n - 1)) === 0, 'must be a power of two').default(2048),
  /** SO_BUSY_POLL_BUDGET per socket; 0 = no busy polling. */
  busyPollBudget: z.number().int().min(0).max(65535).default(0),
}).strict();

export type AfXdpTuning = z.infer<typeof AfXdpTuningSchema>;

export interface ResolvedAfXdpOptions {
  ifname: string;
  mode: AfXdpMode | undefined;
  forceCopy: boolean;
  queues: number;
  startQueue: number;
  inhibit: boolean;
  sockFds: number[] | undefined;
}

/** Validates options with QEMU's rules (same checks, same meaning). */
export function resolveAfXdpOptions(input: unknown): ResolvedAfXdpOptions {
  const parsed = NetdevAFXDPOptionsSchema.safeParse(input);
  if (!parsed.success) throw schemaError(parsed.error.issues, input);
  const o = parsed.data;
  const queues = o.queues ?? 1;
  if (queues < 1) throw invalidOption('queues', `invalid number of queues (${queues}) for '${o.ifname}': must be 1 or more`);
  const startQueue = o['start-queue'] ?? 0;
  if (startQueue < 0) throw invalidOption('start-queue', `must be 0 or more, got ${startQueue}`);
  const inhibit = o.inhibit ?? false;
  if (inhibit !== (o['sock-fds'] !== undefined)) {
    throw new LabError({
      code: 'EINVALIDOPTION', field: inhibit ? 'sock-fds' : 'inhibit',
      message: `${inhibit ? 'sock-fds' : 'inhibit'}: 'inhibit=on' requires 'sock-fds' and vice versa`,
      hint: 'with inhibit=on, pass one already created AF_XDP socket per queue in sock-fds (fd:fd:...)',
    });
  }
  let sockFds: number[] | undefined;
  if (o['sock-fds'] !== undefined) {
    const parts = o['sock-fds'].split(':');
    sockFds = parts.map((p) => {
      if (!/^\d+$/.test(p)) throw invalidOption('sock-fds', `'${p}' is not a file descriptor number (expected a colon-separated list of fds, one per queue)`);
      // An fd is a C int: QEMU's qemu_parse_fd refuses more, and a larger JS number would reach
      // the socket calls rounded or wrapped.
      if (Number(p) > INT_MAX) throw invalidOption('sock-fds', `'${p}' is not a file descriptor number (at most ${INT_MAX})`);
      return Number(p);
    });
    if (sockFds.length !== queues) throw invalidOption('sock-fds', `expected ${queues} socket fds (one per queue), got ${sockFds.length}`);
  }
  return { ifname: o.ifname, mode: o.mode, forceCopy: o['force-copy'] ?? false, queues, startQueue, inhibit, sockFds };
}

export function resolveTuning(input: unknown): AfXdpTuning {
  const parsed = AfXdpTuningSchema.safeParse(input ?? {});
  if (!parsed.success) throw schemaError(parsed.error.issues, input);
  return parsed.data;
}
