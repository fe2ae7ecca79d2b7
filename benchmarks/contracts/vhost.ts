// `xdplab vhost serve`'s options: one schema for the CLI and the lab (which starts it as a
// process), checked before anything is opened; an error names the field and what is allowed.
import { z } from 'zod';
import { invalidOption } from './errors.js';

export const VhostServeOptionsSchema = z.object({
  socket: z.string().min(1).max(107),
  ifname: z.string().regex(/^[^\s/]{1,15}$/, 'an interface name of 1-15 characters, no spaces or slashes'),
  mode: z.enum(['native', 'skb']).optional(),
  queues: z.number().int().min(1).max(16).default(1),
  netns: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).optional(),
  client: z.boolean().default(false),
  statsMs: z.number().int().min(100).max(3_600_000).optional(),
  /** How long the loop keeps polling after the last frame before it sleeps (0 = sleep at once). */
  spinUs: z.number().int().min(0).max(1_000_000).optional(),
  /** The CPU the back end's loop runs on (as testpmd's forwarding lcore is pinned). */
  cpu: z.number().int().min(0).max(1023).optional(),
}).strict();
export type VhostServeOptions = z.infer<typeof VhostServeOptionsSchema>;

export function parseServeOptions(input: unknown): VhostServeOptions {
  const r = VhostServeOptionsSchema.safeParse(input);
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  const field = i.path.join('.') || 'options';
  const allowed = field === 'mode' ? ' (allowed: native, skb)' : '';
  throw invalidOption(field, `${i.message}${allowed}`);
}

