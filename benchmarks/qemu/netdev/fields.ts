// Field builders for the netdev schemas: each QAPI member type becomes a zod schema that
// carries its QAPI type, range and doc comment as metadata, so that validation, the -netdev
// string, the QMP arguments, parsing and the UI listing all read the same declaration.
import { z } from 'zod';

/** The QAPI types that the Netdev union uses. 'String-list' is QAPI's ['String']. */
export type QapiType =
  | 'str' | 'bool' | 'int' | 'int32' | 'uint16' | 'uint32' | 'uint64' | 'size'
  | 'enum' | 'String-list' | 'SocketAddress';

export interface FieldMeta {
  /** The member's doc comment from qapi/net.json (or sockets.json). */
  description: string;
  qapi?: QapiType;
  /** QEMU release that added the member, when later than its struct. */
  since?: string;
  /** Marked unstable (x- prefix) in the schema. */
  unstable?: boolean;
  /** The default QEMU applies when the member is absent, as the schema states it. */
  default?: string;
  /** Available only when QEMU is built with this (the schema's 'if'). */
  condition?: string;
}

export const INTEGER_RANGES: Record<'int' | 'int32' | 'uint16' | 'uint32' | 'uint64' | 'size', readonly [bigint, bigint]> = {
  int: [-(2n ** 63n), 2n ** 63n - 1n],
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint16: [0n, 2n ** 16n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  size: [0n, 2n ** 64n - 1n],
};

export type IntegerType = keyof typeof INTEGER_RANGES;

/** Integers are numbers when they fit a JavaScript number exactly, else bigints. */
export type Integer = number | bigint;

export function str(description: string, extra: Omit<FieldMeta, 'description' | 'qapi'> = {}) {
  return z.string().meta({ description, qapi: 'str', ...extra });
}

export function bool(description: string, extra: Omit<FieldMeta, 'description' | 'qapi'> = {}) {
  return z.boolean().meta({ description, qapi: 'bool', ...extra });
}

export function integer(qapi: IntegerType, description: string, extra: Omit<FieldMeta, 'description' | 'qapi'> = {}) {
  const [min, max] = INTEGER_RANGES[qapi];
  return z.union([z.number(), z.bigint()])
    .refine((v) => (typeof v === 'bigint' || Number.isInteger(v)) && BigInt(v) >= min && BigInt(v) <= max, { message: integerText(qapi) })
    .meta({ description, qapi, ...extra });
}

/** QAPI ['String']: a list of strings (on the QMP wire each is {"str": ...}). */
export function stringList(description: string, extra: Omit<FieldMeta, 'description' | 'qapi'> = {}) {
  return z.array(z.string()).meta({ description, qapi: 'String-list', ...extra });
}

/** "uint32_t, an integer from 0 to 4294967295": QEMU's own type words, then the range. */
export function integerText(qapi: IntegerType): string {
  const [min, max] = INTEGER_RANGES[qapi];
  const c = { int: 'int64_t', int32: 'int32_t', uint16: 'uint16_t', uint32: 'uint32_t', uint64: 'uint64_t', size: 'a size' }[qapi];
  const range = `an integer from ${min} to ${max}`;
  return qapi === 'size' ? `a size in bytes (${range}; on the command line with an optional K, M, G, T, P or E suffix)` : `${c}, ${range}`;
}

/** Normalizes an integer: a number when it is exactly representable, else a bigint. */
export function normalizeInteger(v: Integer): Integer {
  if (typeof v === 'number') return v;
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

// ---- introspection -------------------------------------------------------------------------

export interface FieldSpec {
  name: string;
  qapi: QapiType;
  required: boolean;
  description: string;
  since?: string;
  unstable?: boolean;
  default?: string;
  condition?: string;
  /** Integer range, as decimal strings (int64 and uint64 do not fit a JSON number). */
  min?: string;
  max?: string;
  /** Allowed values of an enum. */
  values?: string[];
  /** String length limits, when the schema has them. */
  minLength?: number;
  maxLength?: number;
  /** SocketAddress: the members of each address type. */
  variants?: Record<string, FieldSpec[]>;
}

function metaOf(s: z.ZodType): FieldMeta | undefined {
  return s.meta() as FieldMeta | undefined;
}

/** The field's schema without ZodOptional, and whether it was optional. */
export function unwrapOptional(s: z.ZodType): { inner: z.ZodType; required: boolean } {
  let inner = s;
  let required = true;
  while (inner instanceof z.ZodOptional) { required = false; inner = inner.unwrap() as z.ZodType; }
  return { inner, required };
}

function inferQapi(inner: z.ZodType): QapiType {
  if (inner instanceof z.ZodString) return 'str';
  if (inner instanceof z.ZodBoolean) return 'bool';
  if (inner instanceof z.ZodEnum) return 'enum';
  if (inner instanceof z.ZodNumber) return 'int';
  if (inner instanceof z.ZodDiscriminatedUnion) return 'SocketAddress';
  if (inner instanceof z.ZodArray) return 'String-list';
  throw new Error(`netdev schema: cannot describe a ${inner.def.type} member`);
}

/** Everything the model knows about one member, read from its zod schema and metadata. */
export function fieldSpec(name: string, schema: z.ZodType): FieldSpec {
  const { inner, required } = unwrapOptional(schema);
  const meta = metaOf(inner) ?? metaOf(schema);
  const qapi = meta?.qapi ?? inferQapi(inner);
  const spec: FieldSpec = { name, qapi, required, description: meta?.description ?? '' };
  if (meta?.since) spec.since = meta.since;
  if (meta?.unstable) spec.unstable = true;
  if (meta?.default) spec.default = meta.default;
  if (meta?.condition) spec.condition = meta.condition;
  if (qapi in INTEGER_RANGES) {
    const [min, max] = INTEGER_RANGES[qapi as IntegerType];
    spec.min = String(min);
    spec.max = String(max);
  } else if (qapi === 'int' && inner instanceof z.ZodNumber) {
    if (inner.minValue !== null && Number.isFinite(inner.minValue)) spec.min = String(inner.minValue);
    if (inner.maxValue !== null && Number.isFinite(inner.maxValue)) spec.max = String(inner.maxValue);
  }
  if (qapi === 'int' && !spec.min) {
    spec.min = String(INTEGER_RANGES.int[0]);
    spec.max = String(INTEGER_RANGES.int[1]);
  }
  if (inner instanceof z.ZodEnum) spec.values = inner.options.map(String);
  if (inner instanceof z.ZodString) {
    if (inner.minLength !== null && inner.minLength > 0) spec.minLength = inner.minLength;
    if (inner.maxLength !== null) spec.maxLength = inner.maxLength;
  }
  if (qapi === 'SocketAddress' && inner instanceof z.ZodDiscriminatedUnion) {
    spec.variants = {};
    for (const option of inner.options as z.ZodObject[]) {
      const t = (option.shape.type as z.ZodLiteral<string>).value;
      spec.variants[t] = Object.entries(option.shape).filter(([k]) => k !== 'type').map(([k, m]) => fieldSpec(k, m as z.ZodType));
    }
  }
  return spec;
}

export function objectSpec(schema: z.ZodObject): FieldSpec[] {
  return Object.entries(schema.shape).map(([name, s]) => fieldSpec(name, s as z.ZodType));
}

/** The member schema at `path` (["addr", "port"]), choosing a SocketAddress variant by the
 * input's own "type"; undefined when the path leaves the schema. */
export function schemaAt(schema: z.ZodObject, path: PropertyKey[], input: unknown): z.ZodType | undefined {
  let s: z.ZodType = schema;
  let v: unknown = input;
  for (const key of path) {
    let { inner } = unwrapOptional(s);
    if (inner instanceof z.ZodDiscriminatedUnion) {
      const t = v !== null && typeof v === 'object' ? (v as Record<string, unknown>).type : undefined;
      const option = (inner.options as z.ZodObject[]).find((o) => (o.shape.type as z.ZodLiteral<string>).value === t);
      if (!option) return key === 'type' ? inner : undefined;
      inner = option;
    }
    if (inner instanceof z.ZodArray && typeof key === 'number') { s = inner.element as z.ZodType; }
    else if (inner instanceof z.ZodObject) {
      const next = inner.shape[String(key)] as z.ZodType | undefined;
      if (!next) return undefined;
      s = next;
    } else return undefined;
    v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[key] : undefined;
  }
  return s;
}

/** Rebuilds a strict object schema with doc metadata on each member, keeping every constraint
 * of the original (used to document a schema declared elsewhere, such as NetdevAFXDPOptions). */
export function documented<S extends z.ZodObject>(schema: S, docs: Record<keyof S['shape'] & string, FieldMeta>): S {
  const shape: Record<string, z.ZodType> = {};
  for (const [name, s] of Object.entries(schema.shape) as [string, z.ZodType][]) {
    const { inner, required } = unwrapOptional(s);
    const meta = docs[name as keyof S['shape'] & string];
    const withMeta = inner.meta({ ...meta } as unknown as Record<string, unknown>);
    shape[name] = required ? withMeta : withMeta.optional();
  }
  return z.object(shape).strict() as unknown as S;
}
