// LabApi's wire envelopes (request, response, event, the LabError inside a failed response) and
// the transports' size limit. Zod only, like all of contracts/: the desktop shell's main process
// parses with these without loading any of the engine.
import { z } from 'zod';
import { LabErrorSchema } from './errors.js';

/** Wire messages (WebSocket frames and IPC payloads). */
export const RequestSchema = z.object({ type: z.literal('request'), id: z.number().int().nonnegative(), command: z.string(), args: z.unknown() }).strict();
export const ResponseSchema = z.union([
  z.object({ type: z.literal('response'), id: z.number().int(), ok: z.literal(true), result: z.unknown() }),
  z.object({ type: z.literal('response'), id: z.number().int(), ok: z.literal(false), error: LabErrorSchema }),
]);
export const EventMessageSchema = z.object({ type: z.literal('event'), event: z.string(), payload: z.unknown() });

export type Request = z.infer<typeof RequestSchema>;
export type Response = z.infer<typeof ResponseSchema>;
export type EventMessage = z.infer<typeof EventMessageSchema>;
export type LabErrorJson = z.infer<typeof LabErrorSchema>;

/** Largest message a transport accepts (the WebSocket's maxPayload, IPC's check). */
export const MAX_MESSAGE_BYTES = 1 << 20;

export function errorResponse(id: number, error: LabErrorJson): Response {
  return { type: 'response', id, ok: false, error };
}

/** The id of a request, even one that fails validation: its own when usable, else -1. Usable
 * means what RequestSchema accepts (a safe integer): a response must pass ResponseSchema. */
export function requestId(raw: unknown): number {
  const id = raw !== null && typeof raw === 'object' && 'id' in raw ? raw.id : undefined;
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? id : -1;
}

/** The command a request names, for messages about it ('a request' when it names none). */
export function requestCommand(raw: unknown): string {
  const command = raw !== null && typeof raw === 'object' && 'command' in raw ? raw.command : undefined;
  return typeof command === 'string' ? command.slice(0, 64) : 'a request';
}

/** The size of a message as JSON; Infinity for one that JSON cannot write. */
export function messageBytes(message: unknown): number {
  try { return Buffer.byteLength(JSON.stringify(message) ?? ''); } catch { return Infinity; }
}
