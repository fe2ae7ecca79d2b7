// The one error type every layer throws (what was wrong, what was expected, what to do), and
// the one translation of a schema issue into it, so every boundary words its errors alike.
import { z } from 'zod';

export interface LabErrorInit {
  code: string;
  message: string;
  field?: string;
  hint?: string;
  cause?: unknown;
}

export class LabError extends Error {
  readonly code: string;
  readonly field?: string;
  readonly hint?: string;

  constructor(init: LabErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'LabError';
    this.code = init.code;
    if (init.field !== undefined) this.field = init.field;
    if (init.hint !== undefined) this.hint = init.hint;
  }

  toJSON(): { code: string; message: string; field?: string; hint?: string } {
    return {
      code: this.code,
      message: this.message,
      ...(this.field !== undefined ? { field: this.field } : {}),
      ...(this.hint !== undefined ? { hint: this.hint } : {}),
    };
  }
}

/** A value as an error message shows it: JSON, bigints as plain digits. Never throws: input that
 * JSON cannot write (circular, nested too deeply for the stack, a BigInt without the replacer)
 * must still end as the LabError that describes it, not as a TypeError or RangeError. */
export function valueText(value: unknown): string {
  try {
    const marked = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `\u0000bigint:${v}` : v));
    if (marked !== undefined) return marked.replace(/"\\u0000bigint:(-?\d+)"/g, '$1');
  } catch { /* below */ }
  if (value === undefined) return 'undefined';
  if (value !== null && typeof value === 'object') return Array.isArray(value) ? 'an array that cannot be written as JSON (circular or nested too deeply)' : 'an object that cannot be written as JSON (circular or nested too deeply)';
  return typeof value === 'symbol' || typeof value === 'function' ? `a ${typeof value}` : String(value);
}

/** A bad option value: names the field and what is allowed. */
export function invalidOption(field: string, message: string, hint?: string): LabError {
  return new LabError({ code: 'EINVALIDOPTION', field, message: `${field}: ${message}`, ...(hint ? { hint } : {}) });
}


/** Human text of any error, with its hint. */
export function describeError(err: unknown): string {
  if (err instanceof LabError) return err.hint ? `${err.message} (${err.hint})` : err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** A LabError as it crosses a wire (LabApi, the worker's result, the helper's protocol). */
export const LabErrorSchema = z.object({ code: z.string(), message: z.string(), field: z.string().optional(), hint: z.string().optional() });

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let v: unknown = input;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

/** Turns the first schema issue into a LabError naming the field and what it allows. */
export function schemaError(issues: z.core.$ZodIssue[], input: unknown, fieldName: (path: PropertyKey[]) => string = (p) => p.join('.')): LabError {
  const issue = issues[0]!;
  const field = issue.path.length ? fieldName(issue.path) : '(options)';
  const at = valueAt(input, issue.path);
  const got = at === undefined ? 'nothing' : valueText(at);
  let message: string;
  switch (issue.code) {
    case 'invalid_value':
      message = `expected one of ${issue.values.map((v) => String(v)).join(', ')}, got ${got}`;
      break;
    case 'invalid_type':
      message = valueAt(input, issue.path) === undefined
        ? `required (${issue.expected})`
        : `expected ${issue.expected === 'int' ? 'an integer' : `a ${issue.expected}`}, got ${got}`;
      break;
    case 'invalid_union': {
      // A discriminated union's bad tag: the issue lists the tags it allows.
      const options = (issue as { options?: unknown[] }).options;
      message = Array.isArray(options) && options.length ? `expected one of ${options.map((v) => String(v)).join(', ')}, got ${got}` : `expected one of the allowed values, got ${got}`;
      break;
    }
    case 'too_small':
      message = issue.origin === 'array' ? `must list at least ${issue.minimum}` : issue.origin === 'string' ? issue.message : `must be ${issue.inclusive ? 'at least' : 'more than'} ${issue.minimum}, got ${got}`;
      break;
    case 'too_big':
      message = issue.origin === 'string' ? issue.message : `must be ${issue.inclusive ? 'at most' : 'less than'} ${issue.maximum}, got ${got}`;
      break;
    case 'unrecognized_keys':
      return invalidOption(issue.keys.map((k) => fieldName([...issue.path, k])).join(', '), 'unknown member');
    default:
      message = `${issue.message.replace(/^Invalid input: /, '')}, got ${got}`;
  }
  return invalidOption(field, message);
}

/** Parses `input` with `schema`; the first issue becomes a LabError naming the field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, fieldName?: (path: PropertyKey[]) => string): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw schemaError(parsed.error.issues, input, fieldName);
  return parsed.data;
}
