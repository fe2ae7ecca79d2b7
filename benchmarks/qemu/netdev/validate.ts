// Validation of a Netdev: the common members (type, id), the driver's member types and ranges,
// then the driver's rules. The first problem becomes a LabError naming the member (field) and
// saying what QEMU says, plus what is allowed.
import { z } from 'zod';
import { LabError, invalidOption, valueText, schemaError } from '../../contracts/errors.js';
import { IDENTIFIER_RULE, isIdentifier } from './addr.js';
import { DRIVERS, NETDEV_TYPES, driverOf, isNetdevType, type Netdev, type Problem } from './drivers.js';
import { fieldSpec, integerText, normalizeInteger, objectSpec, schemaAt, unwrapOptional, type FieldSpec, type IntegerType } from './fields.js';

/** JSON for messages and output; bigints (uint64 beyond 2^53) as plain digits. */
export function jsonText(value: unknown, indent?: number): string {
  const marked = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `\u0000bigint:${v}` : v), indent);
  return (marked ?? 'undefined').replace(/"\\u0000bigint:(-?\d+)"/g, '$1');
}

/** QEMU quotes values with single quotes; non-strings as JSON. */
function quoted(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : valueText(v);
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

/** "addr.port", "hostfwd[0]": the member path as QEMU names it in its own messages. */
export function fieldName(path: readonly PropertyKey[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i ? '.' : ''}${String(k)}`)).join('');
}

/** What a member accepts, in words: "uint32_t, an integer from 0 to 4294967295". */
export function typeWords(spec: FieldSpec): string {
  switch (spec.qapi) {
    case 'str': return spec.maxLength !== undefined ? `a string of ${spec.minLength ?? 0} to ${spec.maxLength} characters` : 'a string';
    case 'bool': return 'a boolean (on or off on the command line, true or false in QMP)';
    case 'enum': return `one of ${(spec.values ?? []).join(', ')}`;
    case 'String-list': return 'a list of strings';
    case 'SocketAddress': return `a socket address object with type ${Object.keys(spec.variants ?? {}).join(', ')}`;
    default: return integerText(spec.qapi as IntegerType);
  }
}

/** Turns the first zod issue into a LabError in QEMU's words, naming the member. */
function issueError(issues: z.core.$ZodIssue[], schema: z.ZodObject, input: unknown, struct: string): LabError {
  const issue = issues[0]!;
  const path = issue.path;
  if (issue.code === 'unrecognized_keys') {
    const owner = path.length ? schemaAt(schema, path, input) : schema;
    let members: string[] = [];
    if (owner) {
      let inner = unwrapOptional(owner).inner;
      if (inner instanceof z.ZodDiscriminatedUnion) {
        const t = (valueAt(input, path) as Record<string, unknown> | undefined)?.type;
        inner = (inner.options as z.ZodObject[]).find((o) => (o.shape.type as z.ZodLiteral<string>).value === t) ?? inner;
      }
      if (inner instanceof z.ZodObject) members = Object.keys(inner.shape).filter((k) => k !== 'type' || path.length === 0);
    }
    const field = fieldName([...path, issue.keys[0]!]);
    return invalidOption(field, `Parameter '${field}' is unexpected`, `${path.length ? fieldName(path) : struct} accepts: ${members.join(', ')}`);
  }
  // A SocketAddress with an unknown or missing type.
  if (issue.code === 'invalid_union' && 'discriminator' in issue) {
    const field = fieldName(path);
    const got = valueAt(input, path);
    const options = (issue as { options?: unknown[] }).options?.map(String) ?? [];
    if (got === undefined) return invalidOption(field, `Parameter '${field}' is missing`, `expected one of ${options.join(', ')}`);
    return invalidOption(field, `Parameter '${field}' does not accept value ${quoted(got)}`, `expected one of ${options.join(', ')}`);
  }
  const member = schemaAt(schema, path, input);
  const last = path[path.length - 1];
  if (!member || last === undefined) return schemaError(issues, input);
  const spec = fieldSpec(String(last), member);
  const field = fieldName(path);
  const got = valueAt(input, path);
  if (got === undefined) return invalidOption(field, `Parameter '${field}' is missing`, `expected ${typeWords(spec)}`);
  // Length limits and other checks carried by the schema itself keep their own words.
  if (issue.code === 'too_small' || issue.code === 'too_big' || (issue.code === 'custom' && spec.qapi === 'str')) {
    return invalidOption(field, `${issue.message}, got ${valueText(got)}`);
  }
  return invalidOption(field, `expects ${typeWords(spec)}, got ${valueText(got)}`, spec.description || undefined);
}

/** bigints that fit a number become numbers, so that equal values compare equal. */
function normalize<T>(v: T): T {
  if (typeof v === 'bigint') return normalizeInteger(v) as T;
  if (Array.isArray(v)) return v.map(normalize) as T;
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, normalize(x)])) as T;
  }
  return v;
}

/** Checks type and id as QEMU does before it looks at the driver. */
function checkBase(input: unknown): { type: (typeof NETDEV_TYPES)[number]; id: string; rest: Record<string, unknown> } {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new LabError({ code: 'EINVALIDOPTION', field: '(netdev)', message: `(netdev): expected an object with type, id and the driver's options, got ${valueText(input)}` });
  }
  const { type, id, ...rest } = input as Record<string, unknown>;
  const types = NETDEV_TYPES.join(', ');
  if (type === undefined) throw invalidOption('type', "Parameter 'type' is missing", `expected one of ${types}`);
  if (type === 'nic') throw invalidOption('type', "'nic' is a guest network card (-device or -nic), not a network backend", `a netdev type is one of ${types}`);
  if (!isNetdevType(type)) throw invalidOption('type', `Parameter 'type' does not accept value ${quoted(type)}`, `expected one of ${types}`);
  if (id === undefined) throw invalidOption('id', "Parameter 'id' is missing", 'every netdev needs an id (the name -device netdev= refers to)');
  if (typeof id !== 'string') throw invalidOption('id', `expects a string, got ${valueText(id)}`);
  if (!isIdentifier(id)) throw invalidOption('id', `Parameter 'id' expects an identifier, got ${valueText(id)}`, IDENTIFIER_RULE);
  return { type, id, rest };
}

/** Validates with QEMU's rules; returns the Netdev with integers normalized. Throws LabError. */
export function validateNetdev(input: unknown): Netdev {
  const { type, id, rest } = checkBase(input);
  const d = driverOf(type);
  const parsed = d.options.safeParse(rest);
  if (!parsed.success) throw issueError(parsed.error.issues, d.options, rest, d.struct);
  const options = normalize(parsed.data) as Record<string, unknown>;
  for (const rule of d.rules) {
    const p: Problem | undefined = rule(options);
    if (p) throw invalidOption(p.field, p.message, p.hint);
  }
  return { type, id, ...options } as Netdev;
}

export type NetdevCheck = { ok: true; netdev: Netdev } | { ok: false; error: LabError };

export function checkNetdev(input: unknown): NetdevCheck {
  try {
    return { ok: true, netdev: validateNetdev(input) };
  } catch (e) {
    if (e instanceof LabError) return { ok: false, error: e };
    throw e;
  }
}

/** The members of a driver, described (for messages and the UI). */
export function driverFields(type: (typeof NETDEV_TYPES)[number]): FieldSpec[] {
  return objectSpec(DRIVERS[type].options as unknown as z.ZodObject);
}
