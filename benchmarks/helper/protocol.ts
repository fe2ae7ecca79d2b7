// The helper's wire protocol: one JSON object per SOCK_SEQPACKET packet, requests from the
// client, one response per request (fds ride along in SCM_RIGHTS). Every request is validated
// here before the helper acts on it; a bad one becomes a LabError naming the field.
import { z } from 'zod';
import { schemaError, LabError } from '../contracts/errors.js';
import { AfXdpModeSchema, type AfXdpMode } from '../contracts/datapath.js';

export const HELPER_PROTOCOL_VERSION = 1;
export const DEFAULT_HELPER_SOCKET = '/run/xdplab/helper.sock';

// Names the kernel would take, and nothing a shell or a path could misread.
const IFNAME = z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, 'must be an interface name: 1 to 15 of A-Z a-z 0-9 _ . -');
const NETNS = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be a namespace name: 1 to 64 of A-Z a-z 0-9 _ . -');
const MODE = AfXdpModeSchema;

export const RequestSchema = z.discriminatedUnion('op', [
  /** The first request of a session: versions must match. */
  z.object({ op: z.literal('hello'), version: z.number().int() }).strict(),
  /** The bench's packet topology: two namespaces joined by a veth pair, named by the helper. */
  z.object({ op: z.literal('topology'), queues: z.number().int().min(1).max(16).default(1) }).strict(),
  /** libxdp's XSK program on an allowed interface and one AF_XDP socket per queue, passed as fds. */
  z.object({
    op: z.literal('sockets'), netns: NETNS.optional(), ifname: IFNAME, mode: MODE.optional(),
    queues: z.number().int().min(1).max(16).default(1), 'start-queue': z.number().int().min(0).max(63).default(0),
  }).strict(),
  /** An XDP program that drops every frame (the sink for txonly). */
  z.object({ op: z.literal('drop'), netns: NETNS.optional(), ifname: IFNAME, mode: MODE }).strict(),
  /** Closes what a sockets or drop request made (detaching its program). */
  z.object({ op: z.literal('release'), handle: z.number().int().min(1) }).strict(),
  /** The interface's rx counters (ethtool -S, ip -s link), read inside its namespace. */
  z.object({ op: z.literal('counters'), netns: NETNS.optional(), ifname: IFNAME }).strict(),
]);

export type HelperRequest = z.infer<typeof RequestSchema>;
export type HelperOp = HelperRequest['op'];
export const HELPER_OPS: HelperOp[] = ['hello', 'topology', 'sockets', 'drop', 'release', 'counters'];

/** Validates one request; the error's field is the request member ("request.ifname"). */
export function parseRequest(input: unknown): HelperRequest {
  const op = input !== null && typeof input === 'object' ? (input as { op?: unknown }).op : undefined;
  if (typeof op !== 'string' || !HELPER_OPS.includes(op as HelperOp)) {
    throw new LabError({
      code: 'EINVALIDOPTION', field: 'request.op',
      message: `request.op: expected one of ${HELPER_OPS.join(', ')}, got ${JSON.stringify(op) ?? (typeof input === 'object' ? 'nothing' : `a ${typeof input} instead of an object`)}`,
    });
  }
  const r = RequestSchema.safeParse(input);
  if (!r.success) throw schemaError(r.error.issues, input, (p) => `request.${p.join('.')}`);
  return r.data;
}

export interface EndpointInfo { netns: string; ifname: string; mac: string }
export interface TopologyResponse { dut: EndpointInfo; peer: EndpointInfo }
export interface SocketsResponse { handle: number; ifindex: number; mode: AfXdpMode; queues: number; 'start-queue': number }
export interface HelloResponse { version: number; uid: number; prefix: string }

const ErrorSchema = z.object({ code: z.string(), message: z.string(), field: z.string().optional(), hint: z.string().optional() });
export const ResponseSchema = z.union([
  z.object({ ok: z.literal(true) }).passthrough(),
  z.object({ ok: z.literal(false), error: ErrorSchema }),
]);

export type HelperResponse = { ok: true; [k: string]: unknown } | { ok: false; error: z.infer<typeof ErrorSchema> };

export function errorResponse(err: unknown): HelperResponse {
  if (err instanceof LabError) return { ok: false, error: err.toJSON() };
  return { ok: false, error: { code: 'EHELPER', message: err instanceof Error ? err.message : String(err) } };
}
