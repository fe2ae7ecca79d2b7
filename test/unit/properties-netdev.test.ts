// Property tests of the netdev model (benchmarks/qemu/netdev/*): whatever comes in (a -netdev
// string, a JSON-ish object, QMP arguments) ends as a valid Netdev or a LabError naming the
// field, never another exception and never a hang; and every valid netdev, generated from the
// model's own drivers and member specs, survives -netdev string -> parse and QMP args -> validate
// unchanged. Counterexamples that found bugs are kept as plain examples at the end.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LabError } from '../../benchmarks/contracts/errors.js';
import { DRIVERS, NETDEV_TYPES, checkNetdev, formatNetdevArg, fromQmpArguments, jsonText, parseNetdevArg, toQmpArguments, validateNetdev, type Netdev, type NetdevType } from '../../benchmarks/qemu/netdev.js';
import { normalizeInteger, objectSpec, type FieldSpec } from '../../benchmarks/qemu/netdev/fields.js';
import { RUNS, outcome, wellFormed } from '../helpers/outcome.js';

const SPECS = Object.fromEntries(NETDEV_TYPES.map((t) => [t, objectSpec(DRIVERS[t].options)])) as Record<NetdevType, FieldSpec[]>;

// ---- the input domain, read from the model ----------------------------------------------------

/** Every member name the model knows, dotted names of SocketAddress members and list items, and
 * names that are dangerous for plain objects. */
const KEYS = [...new Set([
  'type', 'id', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'ipv6-net',
  ...NETDEV_TYPES.flatMap((t) => SPECS[t].flatMap((f) => [
    f.name, `${f.name}.0`, `${f.name}.1`, `${f.name}.type`,
    ...Object.values(f.variants ?? {}).flat().map((m) => `${f.name}.${m.name}`),
  ])),
])];

const identifier = fc.stringMatching(/^[A-Za-z][A-Za-z0-9._-]{0,12}$/);
const port = fc.integer({ min: 0, max: 70000 });
/** Strings shaped like what members hold (numbers, sizes, addresses, fd lists, paths), and any. */
const textValue = fc.oneof(
  fc.string({ maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('', 'on', 'off', 'yes', 'no', 'y', 'n', 'true', '0', '1', '-1', '0x1f', '017', '08', '65536', '4294967296',
    '18446744073709551616', '1K', '1.5M', '2G', '1e3', ' 7', ',', ',,', '=', 'a=b', '3:4', '3::4', 'vsock', 'inet', 'unix', 'fd'),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  fc.ipV4(),
  fc.ipV6(),
  fc.tuple(fc.oneof(fc.ipV4(), fc.constant(''), identifier), port).map(([h, p]) => `${h}:${p}`),
  fc.tuple(fc.constantFrom('tcp', 'udp', '', 'unix'), fc.ipV4(), port, fc.ipV4(), port).map(([p, a, b, c, d]) => `${p}:${a}:${b}-${c}:${d}`),
  fc.array(fc.nat(40), { minLength: 1, maxLength: 3 }).map((xs) => xs.join(':')),
  fc.stringMatching(/^\/[a-z0-9/._-]{0,120}$/),
  identifier,
);

/** A -netdev string: a type (mostly a real one), then key=value, bare flags and stray commas. */
const netdevText = fc.oneof(
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
  {
    weight: 6,
    arbitrary: fc.tuple(
      fc.oneof(fc.constantFrom(...NETDEV_TYPES, 'nic', ''), fc.string({ maxLength: 8 })),
      fc.array(fc.oneof(
        { weight: 6, arbitrary: fc.tuple(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 6 })), textValue).map(([k, v]) => `${k}=${v.replace(/,/g, ',,')}`) },
        { weight: 1, arbitrary: fc.oneof(fc.tuple(fc.boolean(), fc.constantFrom(...KEYS)).map(([no, k]) => (no ? `no${k}` : k)), fc.constantFrom('', ',', '=')) },
      ), { maxLength: 8 }),
    ).map(([type, params]) => [type, ...params].join(',')),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
);

/** Values of any JSON-ish kind, plus what JSON cannot carry (bigint, NaN, -0, cycles' cousins). */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  textValue,
  fc.anything({ maxDepth: 2, withBigInt: true, withNullPrototype: true, withBoxedValues: true, withSparseArray: true }),
  fc.constantFrom(NaN, Infinity, -0, 1e300, 2 ** 53 + 1, 1.5, -1, 0, 2n ** 64n, -(2n ** 63n) - 1n, true, null, undefined),
  fc.record({ type: fc.constantFrom('inet', 'unix', 'vsock', 'fd', 'x'), host: textValue, port: textValue, path: textValue, str: textValue }, { requiredKeys: ['type'] }),
  fc.array(textValue, { maxLength: 3 }),
);

/** A JSON-ish netdev object: a type (mostly real), an id (mostly an identifier), members. */
const netdevObject = fc.oneof(
  { weight: 1, arbitrary: fc.anything({ maxDepth: 3, withBigInt: true, withNullPrototype: true }) },
  {
    weight: 6,
    arbitrary: fc.tuple(
      fc.oneof(fc.constantFrom(...NETDEV_TYPES, 'nic'), anyValue),
      fc.oneof(identifier, anyValue),
      fc.dictionary(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 6 })), anyValue, { maxKeys: 6 }),
    ).map(([type, id, rest]) => ({ ...rest, type, id })),
  },
);

// ---- valid netdevs from the model ------------------------------------------------------------

function valueFor(spec: FieldSpec): fc.Arbitrary<unknown> {
  switch (spec.qapi) {
    case 'str': return textValue;
    case 'bool': return fc.boolean();
    case 'enum': return fc.constantFrom(...(spec.values ?? []));
    case 'String-list': return fc.array(textValue, { maxLength: 3 });
    case 'SocketAddress': {
      const variants = Object.entries(spec.variants ?? {});
      return fc.constantFrom(...variants).chain(([type, members]) => fc.record(
        Object.fromEntries([['type', fc.constant(type)], ...members.map((m) => [m.name, valueFor(m)])]) as Record<string, fc.Arbitrary<unknown>>,
        { requiredKeys: ['type', ...members.filter((m) => m.required).map((m) => m.name)] },
      ));
    }
    default: {
      const min = BigInt(spec.min!);
      const max = BigInt(spec.max!);
      const small = fc.bigInt({ min: min > -5n ? min : -5n, max: max < 300n ? max : 300n });
      return fc.oneof(small, fc.bigInt({ min, max })).map(normalizeInteger);
    }
  }
}

function candidate(type: NetdevType): fc.Arbitrary<Record<string, unknown>> {
  const specs = SPECS[type];
  return fc.tuple(
    identifier,
    fc.record(Object.fromEntries(specs.map((f) => [f.name, valueFor(f)])), { requiredKeys: specs.filter((f) => f.required).map((f) => f.name) as never[] }),
  ).map(([id, options]) => ({ type, id, ...options }));
}

/** Drops the optional member a LabError names until the candidate validates (the error's field
 * is the repair instruction), or gives up when the member is required. */
function repair(type: NetdevType, input: Record<string, unknown>): Netdev | null {
  const o: Record<string, unknown> = structuredClone(input);
  for (let i = 0; i < 24; i++) {
    const r = checkNetdev(o);
    if (r.ok) return r.netdev;
    const [top, sub] = (r.error.field ?? '').split(/[.[]/);
    const spec = SPECS[type].find((f) => f.name === top);
    if (!spec) return null;
    const addr = o[top!] as Record<string, unknown> | undefined;
    const member = sub && addr && typeof addr === 'object' ? spec.variants?.[String(addr.type)]?.find((m) => m.name === sub) : undefined;
    if (member && !member.required) delete addr![sub!];
    else if (!spec.required && o[top!] !== undefined) delete o[top!];
    else {
      // The error names a missing member ("'a', 'b', 'c' should be provided together"): drop
      // the optional members the message names instead.
      const named = SPECS[type].filter((f) => !f.required && o[f.name] !== undefined && r.error.message.includes(`'${f.name}'`));
      if (!named.length) return null;
      for (const f of named) delete o[f.name];
    }
  }
  return null;
}

const seen = new Map<NetdevType, number>();
const validNetdev = fc.constantFrom(...NETDEV_TYPES)
  .chain((type) => candidate(type).map((c) => repair(type, c)))
  .filter((n): n is Netdev => n !== null)
  .map((n) => { seen.set(n.type, (seen.get(n.type) ?? 0) + 1); return n; });

/** The Netdev without empty lists: QemuOpts has no spelling for an empty list (hostfwd=...
 * repeated zero times), and QEMU treats an empty list as an absent one. */
function withoutEmptyLists(n: Netdev): Netdev {
  return Object.fromEntries(Object.entries(n).filter(([, v]) => !(Array.isArray(v) && v.length === 0))) as Netdev;
}

/** Integers beyond 2^53 do not survive JSON.parse as numbers (QEMU's parser keeps them). */
function safeForJsonParse(v: unknown): boolean {
  if (typeof v === 'bigint') return false;
  if (v && typeof v === 'object') return Object.values(v).every(safeForJsonParse);
  return true;
}

// ---- properties ---------------------------------------------------------------------------------

/** A result of the model is itself valid: validating it again changes nothing. */
function expectValid(n: Netdev): void {
  expect(validateNetdev(n)).toEqual(n);
}

describe('netdev model: properties', () => {
  it('a -netdev string parses to a valid Netdev or a LabError naming the field', () => {
    fc.assert(fc.property(netdevText, (text) => {
      const r = outcome(`parseNetdevArg(${JSON.stringify(text)})`, () => parseNetdevArg(text));
      if (r.ok) expectValid(r.value);
      else expect(wellFormed(r.error, true), r.error.message).toBe(true);
    }), { numRuns: RUNS * 2 });
  });

  it('a JSON-ish object validates to a Netdev or a LabError naming the field', () => {
    fc.assert(fc.property(netdevObject, (input) => {
      const r = outcome('validateNetdev', () => validateNetdev(input));
      if (r.ok) {
        expectValid(r.value);
        // What validates also formats and converts.
        expect(parseNetdevArg(formatNetdevArg(r.value))).toEqual(withoutEmptyLists(r.value));
      } else {
        expect(wellFormed(r.error, true), r.error.message).toBe(true);
      }
      const c = outcome('checkNetdev', () => checkNetdev(input));
      expect(c.ok).toBe(true);
    }), { numRuns: RUNS * 2 });
  });

  it('QMP arguments and the model\'s output functions take any input the same way', () => {
    fc.assert(fc.property(netdevObject, (input) => {
      const q = outcome('toQmpArguments', () => toQmpArguments(input as Netdev));
      if (!q.ok) expect(wellFormed(q.error, true)).toBe(true);
      const f = outcome('formatNetdevArg', () => formatNetdevArg(input as Netdev));
      if (!f.ok) expect(wellFormed(f.error, true)).toBe(true);
      const back = outcome('validateNetdev(fromQmpArguments)', () => validateNetdev(fromQmpArguments(input)));
      if (!back.ok) expect(wellFormed(back.error, true)).toBe(true);
    }), { numRuns: RUNS });
  });

  it('every valid netdev of every driver round-trips through its -netdev string and its QMP arguments', () => {
    seen.clear();
    fc.assert(fc.property(validNetdev, (n) => {
      const text = formatNetdevArg(n);
      expect(parseNetdevArg(text), text).toEqual(withoutEmptyLists(n));
      const qmp = toQmpArguments(n);
      expect(validateNetdev(fromQmpArguments(qmp))).toEqual(n);
      // As a JSON -netdev argument (QEMU accepts the QMP form on the command line).
      if (safeForJsonParse(qmp)) expect(parseNetdevArg(jsonText(qmp))).toEqual(n);
    }), { numRuns: RUNS });
    // The generator reached every driver the model declares.
    expect([...seen.keys()].sort(), JSON.stringify([...seen])).toEqual([...NETDEV_TYPES].sort());
  });
});

describe('netdev model: counterexamples found by the properties', () => {
  it('a bigint, a circular or a deeply nested member is described, not thrown as TypeError/RangeError', () => {
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const circular: Record<string, unknown> = { type: 'user', id: 'a' };
    circular.hostname = circular;
    for (const input of [{ type: 'user', id: 'a', hostname: deep }, circular, { type: 'user', id: deep }, deep]) {
      expect(() => validateNetdev(input)).toThrow(LabError);
    }
    expect(() => validateNetdev({ type: 'hubport', id: 'h', hubid: 2n ** 40n })).toThrow(/hubid: expects int32_t.*got 1099511627776$/);
  });
});
