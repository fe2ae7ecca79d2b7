// One request in, one response out, for both transports: the wire message is checked against
// RequestSchema, the command must be one of LabApi's, its arguments are checked against the
// command's schema, and only then is the service called. Every failure becomes a LabError
// (code, message naming the field, hint) in an `ok: false` response: never a stack trace,
// never an exception out of here.
import type { z } from 'zod';
import { LabError } from '../contracts/errors.js';
import { Commands, RequestSchema, type CommandName, type Response } from '../api/lab-api.js';
import { errorResponse, MAX_MESSAGE_BYTES, requestId, type LabErrorJson } from '../contracts/envelope.js';
import type { Handler, Handlers } from './lab-service.js';

export { errorResponse, MAX_MESSAGE_BYTES, type LabErrorJson };

export const COMMAND_NAMES = Object.keys(Commands) as CommandName[];

function fieldName(prefix: string, path: PropertyKey[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : `${acc}.${String(p)}`), prefix);
}

function objectKeys(schema: z.ZodType, path: PropertyKey[]): string[] | undefined {
  // Walk the schema along the path to the object that had the unknown key, for the hint.
  let s: unknown = schema;
  for (const p of path) {
    const shape = (s as { shape?: Record<string, unknown> }).shape;
    s = shape && typeof p === 'string' ? shape[p] : undefined;
    while (s && typeof s === 'object' && 'unwrap' in s && typeof (s as { unwrap: unknown }).unwrap === 'function' && !('shape' in s)) {
      s = (s as { unwrap(): unknown }).unwrap();
    }
  }
  const shape = (s as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape ? Object.keys(shape) : undefined;
}

/** The first zod issue as a LabError naming the field (`args.scenario.trials`). */
export function issueError(code: string, prefix: string, issues: z.core.$ZodIssue[], schema?: z.ZodType): LabErrorJson {
  const issue = issues[0]!;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
  if (issue.code === 'unrecognized_keys') {
    const field = fieldName(prefix, [...issue.path, issue.keys[0]!]);
    const allowed = schema ? objectKeys(schema, issue.path) : undefined;
    return {
      code, field,
      message: `${fieldName(prefix, issue.path)}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}${more}`,
      hint: allowed ? (allowed.length ? `allowed fields: ${allowed.join(', ')}` : 'this takes no fields: send {}') : 'remove the unknown fields',
    };
  }
  const field = fieldName(prefix, issue.path);
  return { code, field, message: `${field}: ${issue.message}${more}` };
}

/** Validates one wire message and runs it. Never throws. */
export async function dispatch(handlers: Handlers, raw: unknown, warn: (m: string) => void = () => {}): Promise<Response> {
  const id = requestId(raw);
  const req = RequestSchema.safeParse(raw);
  if (!req.success) {
    return errorResponse(id, {
      ...issueError('EBADREQUEST', 'request', req.error.issues, RequestSchema),
      hint: 'a request is {"type":"request","id":<integer >= 0>,"command":<name>,"args":{...}}',
    });
  }
  const { command, args } = req.data;
  if (!Object.hasOwn(Commands, command)) {
    return errorResponse(id, {
      code: 'EUNKNOWNCOMMAND', field: 'command',
      message: `unknown command '${command.slice(0, 64)}'; commands: ${COMMAND_NAMES.join(', ')}`,
    });
  }
  const name = command as CommandName;
  const schema = Commands[name].args as z.ZodType;
  const parsed = schema.safeParse(args ?? {});
  if (!parsed.success) return errorResponse(id, issueError('EINVALIDARGS', 'args', parsed.error.issues, schema));
  try {
    const handler = handlers[name] as Handler<CommandName>;
    const result = await handler(parsed.data as never, args);
    return { type: 'response', id, ok: true, result };
  } catch (err) {
    if (err instanceof LabError) return errorResponse(id, err.toJSON());
    warn(`${name} failed unexpectedly: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    return errorResponse(id, {
      code: 'EINTERNAL',
      message: `${name} failed: ${err instanceof Error ? err.message : String(err)}`,
      hint: 'an unexpected error inside xdplab; the server log has the details',
    });
  }
}

/** A text frame: size, JSON, then dispatch. Never throws. */
export async function dispatchText(handlers: Handlers, text: string, warn?: (m: string) => void): Promise<Response> {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_MESSAGE_BYTES) {
    return errorResponse(-1, { code: 'ETOOBIG', message: `message of ${bytes} bytes is over the limit of ${MAX_MESSAGE_BYTES} bytes` });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return errorResponse(-1, {
      code: 'EBADJSON',
      message: `the message is not JSON: ${(err as Error).message}`,
      hint: 'send one JSON request per message: {"type":"request","id":1,"command":"doctor","args":{}}',
    });
  }
  return dispatch(handlers, raw, warn);
}
