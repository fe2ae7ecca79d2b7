// The -netdev argument, both ways. QEMU parses it in one of two syntaxes, chosen by type
// (net/net.c netdev_is_modern): stream and dgram (and any JSON argument) go through keyval
// (nested members as dotted keys, addr.type=inet), every other type through QemuOpts and the
// opts visitor ("legacy": lists as repeated keys, short-form booleans, ipv6-net for user).
// In both, a comma inside a value is written twice.
import { LabError, invalidOption } from '../../contracts/errors.js';
import { parseCInteger } from './addr.js';
import { driverOf, isNetdevType, NETDEV_TYPES, type Netdev, type NetdevType } from './drivers.js';
import { normalizeInteger, objectSpec, type FieldSpec } from './fields.js';
import { fromQmpArguments } from './qmp-args.js';
import { jsonText, typeWords, validateNetdev } from './validate.js';

const esc = (s: string): string => s.replace(/,/g, ',,');

function scalarText(spec: FieldSpec, v: unknown): string {
  if (spec.qapi === 'bool') return v ? 'on' : 'off';
  return esc(String(v));
}

/** The -netdev argument for a valid Netdev: `type,id=x,key=value,...` in QEMU's syntax for
 * the type. Options keep the schema's order. Validates first (throws LabError). */
export function formatNetdevArg(input: Netdev): string {
  const n = validateNetdev(input) as Record<string, unknown> & { type: NetdevType; id: string };
  const d = driverOf(n.type);
  const out = [n.type, `id=${esc(n.id)}`];
  for (const spec of objectSpec(d.options)) {
    const v = n[spec.name];
    if (v === undefined) continue;
    if (spec.qapi === 'String-list') {
      (v as string[]).forEach((item, i) => out.push(d.syntax === 'keyval' ? `${spec.name}.${i}=${esc(item)}` : `${spec.name}=${esc(item)}`));
    } else if (spec.qapi === 'SocketAddress') {
      const addr = v as Record<string, unknown>;
      out.push(`${spec.name}.type=${esc(String(addr.type))}`);
      for (const member of spec.variants?.[String(addr.type)] ?? []) {
        if (addr[member.name] !== undefined) out.push(`${spec.name}.${member.name}=${scalarText(member, addr[member.name])}`);
      }
    } else {
      out.push(`${spec.name}=${scalarText(spec, v)}`);
    }
  }
  return out.join(',');
}

/** The whole command line fragment: ['-netdev', '<arg>']. */
export function netdevArgs(n: Netdev): string[] {
  return ['-netdev', formatNetdevArg(n)];
}

// ---- parsing ---------------------------------------------------------------------------------

/** Splits at single commas; ",," is a literal comma. */
export function splitParams(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === ',') {
      if (text[i + 1] === ',') { cur += ','; i++; continue; }
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

const TRUE = ['on', 'yes', 'true', 'y'];
const FALSE = ['off', 'no', 'false', 'n'];

/** qemu_strtosz(): bytes with an optional B/K/M/G/T/P/E suffix (binary multiples). */
export function parseSize(text: string): bigint | undefined {
  const m = /^\s*(0[xX][0-9a-fA-F]+|\d+(?:\.\d+)?)\s*([bBkKmMgGtTpPeE]?)$/.exec(text);
  if (!m) return undefined;
  const shift = { '': 0, b: 0, k: 10, m: 20, g: 30, t: 40, p: 50, e: 60 }[m[2]!.toLowerCase() as '' | 'b']!;
  const num = m[1]!;
  if (/^0[xX]/.test(num)) return BigInt(num) << BigInt(shift);
  if (num.includes('.')) {
    if (!m[2] || m[2].toLowerCase() === 'b') return undefined; // fractions need a unit above bytes
    const [int, frac] = num.split('.') as [string, string];
    const scale = 10n ** BigInt(frac.length);
    return (BigInt(int) * scale + BigInt(frac)) * (1n << BigInt(shift)) / scale;
  }
  return BigInt(num) << BigInt(shift);
}

/** One string value to the member's type, with QEMU's words when it cannot. */
function coerce(spec: FieldSpec, field: string, raw: string): unknown {
  switch (spec.qapi) {
    case 'bool':
      if (TRUE.includes(raw)) return true;
      if (FALSE.includes(raw)) return false;
      throw invalidOption(field, `Parameter '${field}' expects 'on' or 'off', got '${raw}'`);
    case 'int': case 'int32': case 'uint16': case 'uint32': case 'uint64': {
      const v = parseCInteger(raw);
      if (v === undefined) throw invalidOption(field, `Parameter '${field}' expects ${typeWords(spec)}, got '${raw}'`);
      return normalizeInteger(v);
    }
    case 'size': {
      const v = parseSize(raw);
      if (v === undefined) throw invalidOption(field, `Parameter '${field}' expects a size value, got '${raw}'`, 'bytes, or a number with a K, M, G, T, P or E suffix (1M = 1048576)');
      return normalizeInteger(v);
    }
    default:
      return raw;
  }
}

function unknownMember(field: string, legacy: boolean, members: FieldSpec[], owner: string): LabError {
  return invalidOption(field, legacy ? `Invalid parameter '${field}'` : `Parameter '${field}' is unexpected`, `${owner} accepts: ${members.map((m) => m.name).join(', ')}`);
}

/** QemuOpts syntax, as -netdev parses every type but stream and dgram. */
function parseOpts(type: NetdevType, params: [string, string][]): Record<string, unknown> {
  const d = driverOf(type);
  const specs = objectSpec(d.options);
  const out: Record<string, unknown> = { type };
  for (const [key, raw] of params) {
    if (key === 'type') continue;
    if (key === 'id') { if (out.id === undefined) out.id = raw; continue; } // QemuOpts keeps the first id
    if (type === 'user' && key === 'ipv6-net') {
      // net_client_init(): ipv6-net=prefix[/len] is ipv6-prefix= plus ipv6-prefixlen= (default 64).
      if (raw === '') throw invalidOption('ipv6-net', "Parameter 'ipv6-net' expects a valid IPv6 prefix", 'expected ipv6-net=prefix/length, e.g. fd00::/64');
      const [prefix, len] = raw.split(/\/(.*)/s) as [string, string | undefined];
      if (len !== undefined && !/^\d+$/.test(len)) throw invalidOption('ipv6-net', "parameter 'ipv6-net' expects a number after '/'", 'expected ipv6-net=prefix/length, e.g. fd00::/64');
      out['ipv6-prefix'] = prefix;
      out['ipv6-prefixlen'] = Number(len ?? '64');
      continue;
    }
    const spec = specs.find((s) => s.name === key);
    if (!spec) throw unknownMember(key, true, specs, d.struct);
    if (spec.qapi === 'String-list') {
      ((out[key] ??= []) as string[]).push(raw);
    } else {
      out[key] = coerce(spec, key, raw); // the opts visitor takes the last of repeated keys
    }
  }
  return out;
}

type Tree = { [k: string]: Tree | string };

/** keyval syntax, as -netdev parses stream and dgram: dotted keys build nested objects. */
function parseKeyval(type: NetdevType, params: [string, string][]): Record<string, unknown> {
  const tree: Tree = {};
  for (const [key, raw] of params) {
    const parts = key.split('.');
    if (parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) throw invalidOption(key, `Invalid parameter '${key}'`);
    let node = tree;
    for (const p of parts.slice(0, -1)) {
      const next = node[p];
      if (typeof next === 'string') throw invalidOption(key, `Parameter '${parts.slice(0, parts.indexOf(p) + 1).join('.')}' used inconsistently`);
      node = (node[p] ??= {}) as Tree;
    }
    const leaf = parts[parts.length - 1]!;
    if (typeof node[leaf] === 'object') throw invalidOption(key, `Parameter '${key}' used inconsistently`);
    node[leaf] = raw; // keyval: the last of repeated keys wins
  }
  const d = driverOf(type);
  const specs = objectSpec(d.options);
  const out: Record<string, unknown> = { type };
  for (const [key, value] of Object.entries(tree)) {
    if (key === 'type') continue;
    if (key === 'id') { if (typeof value !== 'string') throw invalidOption('id', "Parameter 'id' expects a string"); out.id = value; continue; }
    const spec = specs.find((s) => s.name === key);
    if (!spec) throw unknownMember(key, false, specs, d.struct);
    if (spec.qapi === 'SocketAddress') {
      if (typeof value === 'string') throw invalidOption(key, `Parameter '${key}' expects a socket address (${key}.type=inet,${key}.host=...,${key}.port=...)`);
      const t = value.type;
      if (t === undefined) throw invalidOption(`${key}.type`, `Parameter '${key}.type' is missing`, `expected one of ${Object.keys(spec.variants ?? {}).join(', ')}`);
      if (typeof t !== 'string' || !spec.variants?.[t]) throw invalidOption(`${key}.type`, `Parameter '${key}.type' does not accept value ${jsonText(t)}`, `expected one of ${Object.keys(spec.variants ?? {}).join(', ')}`);
      const members = spec.variants[t]!;
      const addr: Record<string, unknown> = { type: t };
      for (const [k, v] of Object.entries(value)) {
        if (k === 'type') continue;
        const m = members.find((x) => x.name === k);
        if (!m) throw unknownMember(`${key}.${k}`, false, members, `${key} (type ${t})`);
        if (typeof v !== 'string') throw invalidOption(`${key}.${k}`, `Parameter '${key}.${k}' expects ${typeWords(m)}`);
        addr[k] = coerce(m, `${key}.${k}`, v);
      }
      out[key] = addr;
    } else if (spec.qapi === 'String-list') {
      if (typeof value === 'string') throw invalidOption(key, `Parameter '${key}' expects a list (${key}.0=...,${key}.1=...)`);
      const items = Object.entries(value).sort(([a], [b]) => Number(a) - Number(b));
      items.forEach(([k, v], i) => {
        if (k !== String(i) || typeof v !== 'string') throw invalidOption(`${key}.${k}`, `Parameter '${key}.${k}' is not list element ${i}`, 'list elements are key.0, key.1, ... with string values');
      });
      out[key] = items.map(([, v]) => v);
    } else {
      if (typeof value !== 'string') throw invalidOption(key, `Parameter '${key}' expects ${typeWords(spec)}, not nested members`);
      out[key] = coerce(spec, key, value);
    }
  }
  return out;
}

/** The -netdev argument as QEMU reads it, with member types applied but no rules checked:
 * what QEMU would pass to netdev_add. Throws LabError on syntax errors and unknown members. */
export function parseNetdevArgRaw(text: string): Record<string, unknown> {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let obj: unknown;
    try { obj = JSON.parse(trimmed); } catch (e) {
      throw invalidOption('(netdev)', `the argument starts with '{' but is not valid JSON: ${(e as Error).message}`);
    }
    return fromQmpArguments(obj);
  }
  if (trimmed === '') throw invalidOption('type', "Parameter 'type' is missing", `expected one of ${NETDEV_TYPES.join(', ')}`);
  const tokens = splitParams(text);
  let type: string | undefined;
  const params: [string, string][] = [];
  const flags: string[] = [];
  tokens.forEach((tok, i) => {
    const eq = tok.indexOf('=');
    if (eq < 0) {
      if (i === 0) { type = tok; return; }
      flags.push(tok);
      return;
    }
    const key = tok.slice(0, eq);
    const value = tok.slice(eq + 1);
    if (key === 'type') type = value;
    params.push([key, value]);
  });
  if (type === undefined) throw invalidOption('type', "Parameter 'type' is missing", `expected one of ${NETDEV_TYPES.join(', ')}`);
  if (type === 'nic') throw invalidOption('type', "'nic' is a guest network card (-device or -nic), not a network backend", `a netdev type is one of ${NETDEV_TYPES.join(', ')}`);
  if (!isNetdevType(type)) throw invalidOption('type', `Parameter 'type' does not accept value '${type}'`, `expected one of ${NETDEV_TYPES.join(', ')}`);
  const keyval = driverOf(type).syntax === 'keyval';
  if (keyval) {
    if (flags.length) throw invalidOption(flags[0]!, `Expected '=' after parameter '${flags[0]}'`, `${type} takes key=value pairs only, e.g. ${flags[0]}=on`);
    return parseKeyval(type, params.filter(([k]) => k !== 'type'));
  }
  // QemuOpts: a bare "name" means name=on, "noname" name=off (deprecated, still accepted).
  const withFlags: [string, string][] = [];
  let flagIndex = 0;
  tokens.forEach((tok, i) => {
    if (i === 0 && !tok.includes('=')) return;
    if (!tok.includes('=')) {
      const f = flags[flagIndex++]!;
      withFlags.push(f.startsWith('no') ? [f.slice(2), 'off'] : [f, 'on']);
    } else {
      const eq = tok.indexOf('=');
      withFlags.push([tok.slice(0, eq), tok.slice(eq + 1)]);
    }
  });
  return parseOpts(type, withFlags);
}

/** Parses a -netdev argument (QemuOpts, keyval or JSON, as QEMU would) and validates it. */
export function parseNetdevArg(text: string): Netdev {
  return validateNetdev(parseNetdevArgRaw(text));
}
