// netdev_add arguments: the Netdev as QMP's JSON wants it. The QMP wire differs from the model
// in one place: QAPI ['String'] members (user's hostfwd, guestfwd, dnssearch) are lists of
// {"str": ...} objects. uint64 members above 2^53 stay bigints (jsonText writes them).
import { driverOf, isNetdevType, type Netdev } from './drivers.js';
import { objectSpec } from './fields.js';
import { validateNetdev } from './validate.js';

export type QmpNetdevArguments = { type: string; id: string } & Record<string, unknown>;

/** The netdev_add arguments of a Netdev (validated first; throws LabError). */
export function toQmpArguments(input: Netdev): QmpNetdevArguments {
  const n = validateNetdev(input) as unknown as QmpNetdevArguments;
  const lists = new Set(objectSpec(driverOf(n.type as Netdev['type']).options).filter((f) => f.qapi === 'String-list').map((f) => f.name));
  const out: QmpNetdevArguments = { type: n.type, id: n.id };
  for (const [k, v] of Object.entries(n)) {
    if (k === 'type' || k === 'id' || v === undefined) continue;
    out[k] = lists.has(k) ? (v as string[]).map((str) => ({ str })) : v;
  }
  return out;
}

/** The model's shape of netdev_add arguments: [{"str": "x"}] lists become ["x"]. Anything it
 * does not recognize is left for validation to report. */
export function fromQmpArguments(args: unknown): Record<string, unknown> {
  if (args === null || typeof args !== 'object' || Array.isArray(args)) return args as Record<string, unknown>;
  const obj = { ...(args as Record<string, unknown>) };
  if (!isNetdevType(obj.type)) return obj;
  for (const f of objectSpec(driverOf(obj.type).options)) {
    const v = obj[f.name];
    if (f.qapi !== 'String-list' || !Array.isArray(v)) continue;
    if (v.every((x) => x !== null && typeof x === 'object' && !Array.isArray(x) && Object.keys(x).length === 1 && typeof (x as { str?: unknown }).str === 'string')) {
      obj[f.name] = v.map((x) => (x as { str: string }).str);
    }
  }
  return obj;
}
