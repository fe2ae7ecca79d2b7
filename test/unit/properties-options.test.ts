// Property tests of the two option parsers every run goes through before anything is created:
// NetdevAFXDPOptions (native/afxdp/options.ts, what AfXdpPort.open takes) and the bench scenario
// (benchmarks/contracts/scenario.ts). Any input ends as resolved options or a LabError with a field,
// and what resolves obeys QEMU's rules.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AfXdpTuningSchema, NetdevAFXDPOptionsSchema, resolveAfXdpOptions, resolveTuning } from '../../native/afxdp/options.js';
import { ScenarioSchema, resolveScenario } from '../../benchmarks/contracts/scenario.js';
import { RUNS, outcome, wellFormed } from '../helpers/outcome.js';

const scalar = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom('', 'native', 'skb', 'veth0', 'a'.repeat(16), '3', '3:4', '3:x', ':', 'txonly', 'testpmd'),
  fc.integer({ min: -5, max: 70000 }),
  fc.constantFrom(NaN, Infinity, -0, 1.5, 2 ** 53, 1e300, 0, 1, 2, 64, 4096, 2048),
  fc.bigInt({ min: -5n, max: 2n ** 64n }),
  fc.boolean(),
  fc.constantFrom(null, undefined),
  // fd lists: colon-separated numbers, some far beyond an int.
  fc.array(fc.oneof(fc.nat(64), fc.bigInt({ min: 0n, max: 2n ** 70n })).map(String), { minLength: 1, maxLength: 3 }).map((xs) => xs.join(':')),
);
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 2, withBigInt: true, withNullPrototype: true, withBoxedValues: true }) },
);

/** Values of the member's own type (read from its zod schema) most of the time, anything else
 * sometimes: so that inputs get past the type checks to the rules behind them. */
function typedFor(schema: z.ZodType): fc.Arbitrary<unknown> {
  let s: z.ZodType = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
  let typed: fc.Arbitrary<unknown> = scalar;
  if (s instanceof z.ZodString) typed = fc.oneof(scalar.filter((v) => typeof v === 'string'), fc.stringMatching(/^[a-z0-9]{1,15}$/));
  else if (s instanceof z.ZodNumber) typed = fc.oneof(fc.integer({ min: -3, max: 70 }), fc.constantFrom(64, 128, 4096, 16384, 65535, 65536));
  else if (s instanceof z.ZodBoolean) typed = fc.boolean();
  else if (s instanceof z.ZodEnum) typed = fc.constantFrom(...(s.options as unknown[]));
  else if (s instanceof z.ZodLiteral) typed = fc.constantFrom(...([...s.values] as unknown[]));
  else if (s instanceof z.ZodArray) typed = fc.array(typedFor(s.element as z.ZodType), { maxLength: 4 });
  return fc.oneof({ weight: 4, arbitrary: typed }, { weight: 1, arbitrary: anyValue });
}

/** Objects whose keys are mostly the schema's own (so the checks past the key check run). */
function objectsOf(shape: Record<string, z.ZodType>): fc.Arbitrary<unknown> {
  const keys = Object.keys(shape);
  return fc.oneof(
    { weight: 6, arbitrary: fc.record(Object.fromEntries(keys.map((k) => [k, typedFor(shape[k]!)])), { requiredKeys: [] }) },
    { weight: 6, arbitrary: fc.dictionary(fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...keys) }, { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'x') }), anyValue, { maxKeys: 8 }) },
    { weight: 1, arbitrary: fc.anything({ maxDepth: 2, withBigInt: true }) },
  );
}

describe('AF_XDP options and scenarios: properties', () => {
  it('NetdevAFXDPOptions: resolved options that obey QEMU\'s rules, or a LabError with a field', () => {
    fc.assert(fc.property(objectsOf(NetdevAFXDPOptionsSchema.shape), (input) => {
      const r = outcome('resolveAfXdpOptions', () => resolveAfXdpOptions(input));
      if (!r.ok) { expect(wellFormed(r.error, true), r.error.message).toBe(true); return; }
      const o = r.value;
      expect(o.ifname.length).toBeGreaterThanOrEqual(1);
      expect(o.ifname.length).toBeLessThanOrEqual(15);
      expect(Number.isInteger(o.queues) && o.queues >= 1).toBe(true);
      expect(Number.isInteger(o.startQueue) && o.startQueue >= 0).toBe(true);
      expect(o.inhibit).toBe(o.sockFds !== undefined);
      if (o.sockFds) {
        expect(o.sockFds).toHaveLength(o.queues);
        for (const fd of o.sockFds) expect(Number.isInteger(fd) && fd >= 0 && fd <= 2 ** 31 - 1).toBe(true);
      }
    }), { numRuns: RUNS * 2 });
  });

  it('tuning: a ring size that is a power of two, frame sizes the UMEM takes, or a LabError with a field', () => {
    fc.assert(fc.property(objectsOf(AfXdpTuningSchema.shape), (input) => {
      const r = outcome('resolveTuning', () => resolveTuning(input));
      if (!r.ok) { expect(wellFormed(r.error, true), r.error.message).toBe(true); return; }
      expect([2048, 4096]).toContain(r.value.frameSize);
      expect(r.value.ringSize & (r.value.ringSize - 1)).toBe(0);
    }), { numRuns: RUNS });
  });

  it('resolveScenario: a scenario, or a LabError whose field is a CLI flag or the unknown member', () => {
    const flags = /^(--[a-z-]+|\(options\))$/;
    fc.assert(fc.property(objectsOf(ScenarioSchema.shape), (input) => {
      const r = outcome('resolveScenario', () => resolveScenario(input));
      if (!r.ok) {
        expect(wellFormed(r.error, true), r.error.message).toBe(true);
        // Either a flag, or the name of a member the schema does not have.
        const known = Object.keys(ScenarioSchema.shape);
        if (!r.error.message.endsWith('unknown member')) expect(r.error.field!, r.error.message).toMatch(flags);
        else expect(r.error.field!.split(', ').every((k) => !known.includes(k))).toBe(true);
        return;
      }
      expect(ScenarioSchema.parse(r.value)).toEqual(r.value);
      expect(r.value.ifname === undefined).toBe(r.value.peer === undefined);
    }), { numRuns: RUNS * 2 });
  });
});

describe('AF_XDP options: counterexamples found by the properties', () => {
  it('a bigint where a number belongs, or an fd beyond a C int, is a LabError', () => {
    expect(() => resolveAfXdpOptions({ ifname: 'veth0', queues: 2n })).toThrow(expect.objectContaining({ field: 'queues', message: 'queues: expected a number, got 2' }));
    expect(() => resolveScenario({ trials: 3n })).toThrow(expect.objectContaining({ field: '--trials' }));
    // 2^53 became the fd 9007199254740992; 2^53 + 1 the same one, rounded.
    expect(() => resolveAfXdpOptions({ ifname: '0', inhibit: true, 'sock-fds': '9007199254740992' })).toThrow(expect.objectContaining({ field: 'sock-fds', message: "sock-fds: '9007199254740992' is not a file descriptor number (at most 2147483647)" }));
    expect(resolveAfXdpOptions({ ifname: 'veth0', inhibit: true, 'sock-fds': '2147483647' }).sockFds).toEqual([2147483647]);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => resolveTuning({ ringSize: circular })).toThrow(expect.objectContaining({ field: 'ringSize' }));
  });
});
