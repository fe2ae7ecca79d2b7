// The frames between the desktop shell's main process and the engine host (engine-host.ts), in
// both directions. A request travels as it came from the renderer (unvalidated: the host's
// dispatch is the one validation gate) inside a `call` frame whose sequence number, not the
// request's own id, pairs it with its `reply`: a request too broken to have an id still gets
// its answer, and ids the renderer reuses (after a reload) never collide. Events travel as
// LabApi's event envelopes. Needs only zod, like envelope.ts: main loads this.
import { z } from 'zod';
import { EventMessageSchema, ResponseSchema } from '../contracts/envelope.js';

const Seq = z.number().int().nonnegative();

/** main -> host */
export const ToHostSchema = z.object({ kind: z.literal('call'), seq: Seq, request: z.unknown() });

/** host -> main */
export const FromHostSchema = z.discriminatedUnion('kind', [
  /** The engine is up (once per host process). */
  z.object({ kind: z.literal('ready') }),
  z.object({ kind: z.literal('reply'), seq: Seq, response: ResponseSchema }),
  z.object({ kind: z.literal('event'), message: EventMessageSchema }),
]);

export type ToHost = z.infer<typeof ToHostSchema>;
export type FromHost = z.infer<typeof FromHostSchema>;
export type HostReady = Extract<FromHost, { kind: 'ready' }>;
