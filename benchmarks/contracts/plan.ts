// A run's plan as the faces show it before it starts (xdplab run --plan, the app's Runs page):
// every row, the unavailable ones with their reason, how many VMs boot, and how long it takes.
import { z } from 'zod';

export const PlanSchema = z.object({
  rows: z.array(z.object({
    id: z.string(), kind: z.string(), test: z.string(), tool: z.string(), mode: z.string(),
    backend: z.string().optional(), unavailable: z.string().optional(),
  })),
  trials: z.number().int(),
  /** VM boots over the whole run (every VM row's trial boots fresh VMs). */
  vmBoots: z.number().int(),
  /** The boot time the estimate assumes: measured on this machine when known. */
  bootMs: z.number(),
  bootMeasured: z.boolean(),
  /** Where bootMs comes from, in words: the measured boots of which QEMU, or the assumption. */
  bootBasis: z.string().optional(),
  estimatedMs: z.number(),
});
export type Plan = z.infer<typeof PlanSchema>;
