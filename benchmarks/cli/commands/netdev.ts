// `xdplab netdev check|schema|drivers`: validate a -netdev argument the way QEMU would and
// print its netdev_add arguments; list the netdev schema; list what a QEMU binary offers.
import { parseArgs } from 'node:util';
import { LabError } from '../../contracts/errors.js';
import { formatNetdevArg, toQmpArguments } from '../../qemu/netdev.js';
import { parseNetdevArg } from '../../qemu/netdev/cmdline.js';
import { describeDriver, describeNetdevSchema } from '../../qemu/netdev/describe.js';
import { NETDEV_TYPES, isNetdevType, type Netdev } from '../../qemu/netdev/drivers.js';
import type { FieldSpec } from '../../qemu/netdev/fields.js';
import { jsonText } from '../../qemu/netdev/validate.js';

import type { Io } from '../io.js';
export type { Io };

export const NETDEV_USAGE = `Usage: xdplab netdev check [--cmdline] [--qemu PATH] '<-netdev argument>'
       xdplab netdev schema [--json] [TYPE]
       xdplab netdev drivers [--json] [--qemu PATH] [--refresh]

check    Validates a -netdev argument with QEMU's rules (types, ranges, required members,
         and each driver's rules) and prints the netdev_add arguments as JSON. Accepts
         QEMU's syntaxes: type,id=x,key=value (commas in values doubled; lists as repeated
         keys: hostfwd=...,hostfwd=...), dotted keys for stream and dgram
         (addr.type=inet,addr.host=127.0.0.1,addr.port=5555), and JSON ('{"type":...}').
           --cmdline    print the canonical -netdev argument instead of the JSON
           --qemu PATH  also require that this QEMU has the driver and its members
         Exit 0 when valid; 2 with the member (field), QEMU's message and what is allowed
         on stderr when not.
schema   Lists the drivers and their members: QAPI type, range, default, doc comment.
           --json       the whole schema as JSON (for forms)
drivers  What a QEMU binary offers: version, which drivers it has (and why not), the
         af-xdp members, accelerators and KVM, -L directories. Cached per binary.
           --qemu PATH  the binary (default: $XDPLAB_QEMU, then qemu-system-x86_64)
           --refresh    ask the binary again instead of using the cache
           --json       everything as JSON

Examples:
  xdplab netdev check 'user,id=n0,hostfwd=tcp::2222-:22'
  xdplab netdev check 'stream,id=s0,server=on,addr.type=inet,addr.host=127.0.0.1,addr.port=5555'
  xdplab netdev schema af-xdp
`;

function usage(io: Io, message: string): number {
  io.err(`xdplab netdev: ${message}\nRun 'xdplab netdev --help' for its options.\n`);
  return 2;
}

function describeError(e: LabError): string {
  return `${e.message}${e.field ? `\n  field: ${e.field}` : ''}${e.hint ? `\n  hint: ${e.hint}` : ''}`;
}

async function check(args: string[], io: Io): Promise<number> {
  let values: { cmdline?: boolean; qemu?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args, strict: true, allowPositionals: true,
      options: { cmdline: { type: 'boolean' }, qemu: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    return usage(io, `check: ${(err as Error).message}`);
  }
  if (values.help) { io.out(NETDEV_USAGE); return 0; }
  if (positionals.length !== 1) return usage(io, `check takes one -netdev argument (quote it), got ${positionals.length}`);
  let netdev: Netdev;
  try {
    netdev = parseNetdevArg(positionals[0]!);
  } catch (err) {
    if (!(err instanceof LabError)) throw err;
    io.err(`xdplab netdev check: ${describeError(err)}\n`);
    return 2;
  }
  if (values.qemu !== undefined) {
    const { qemuCapabilities } = await import('../../qemu/capabilities.js');
    let caps;
    try {
      caps = await qemuCapabilities({ qemu: values.qemu, kvm: false });
    } catch (err) {
      if (!(err instanceof LabError)) throw err;
      io.err(`xdplab netdev check: ${describeError(err)}\n`);
      return 1;
    }
    const d = caps.drivers[netdev.type];
    if (!d.available) { io.err(`xdplab netdev check: type: ${d.reason} (${caps.binary.path})\n  field: type\n`); return 2; }
    const lacking = Object.keys(netdev).filter((k) => k !== 'type' && k !== 'id' && d.members && !d.members.includes(k));
    if (lacking.length) {
      io.err(`xdplab netdev check: ${lacking[0]}: QEMU ${caps.version} at ${caps.binary.path} has no member '${lacking[0]}' in ${netdev.type}\n  field: ${lacking[0]}\n  hint: it has ${d.members!.join(', ')}\n`);
      return 2;
    }
  }
  io.out(values.cmdline ? `${formatNetdevArg(netdev)}\n` : `${jsonText(toQmpArguments(netdev), 2)}\n`);
  return 0;
}

function fieldLine(f: FieldSpec, indent = '  '): string[] {
  const range = f.values ? `one of ${f.values.join('|')}` : f.min !== undefined ? `${f.min}..${f.max}` : '';
  const bits = [f.qapi, f.required ? 'required' : 'optional', range, f.default ? `default ${f.default}` : '', f.since ? `since ${f.since}` : '', f.unstable ? 'unstable' : '', f.condition ? `if ${f.condition}` : '']
    .filter(Boolean).join(', ');
  const lines = [`${indent}${f.name} (${bits})${f.description ? `: ${f.description}` : ''}`];
  for (const [t, members] of Object.entries(f.variants ?? {})) {
    lines.push(`${indent}  ${f.name}.type=${t}:`);
    for (const m of members) lines.push(...fieldLine({ ...m, name: `${f.name}.${m.name}` }, `${indent}    `));
  }
  return lines;
}

async function schema(args: string[], io: Io): Promise<number> {
  let values: { json?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, strict: true, allowPositionals: true, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    return usage(io, `schema: ${(err as Error).message}`);
  }
  if (values.help) { io.out(NETDEV_USAGE); return 0; }
  if (positionals.length > 1) return usage(io, 'schema takes at most one TYPE');
  const type = positionals[0];
  if (type !== undefined && !isNetdevType(type)) return usage(io, `schema: unknown netdev type '${type}'; types: ${NETDEV_TYPES.join(', ')}`);
  if (values.json) {
    io.out(`${JSON.stringify(type ? describeDriver(type) : describeNetdevSchema(), null, 2)}\n`);
    return 0;
  }
  const drivers = type ? [describeDriver(type)] : describeNetdevSchema().drivers;
  const out: string[] = [];
  for (const d of drivers) {
    out.push(`${d.type} (${d.struct}, since ${d.since}${d.condition ? `, if ${d.condition}` : ''}, -netdev syntax: ${d.syntax === 'keyval' ? 'keyval, dotted keys' : 'QemuOpts'}): ${d.description}`);
    for (const f of d.options) out.push(...fieldLine(f));
    out.push('');
  }
  io.out(out.join('\n'));
  return 0;
}

async function drivers(args: string[], io: Io): Promise<number> {
  let values: { json?: boolean; qemu?: string; refresh?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({ args, strict: true, allowPositionals: false, options: { json: { type: 'boolean' }, qemu: { type: 'string' }, refresh: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    return usage(io, `drivers: ${(err as Error).message}`);
  }
  if (values.help) { io.out(NETDEV_USAGE); return 0; }
  const { qemuCapabilities } = await import('../../qemu/capabilities.js');
  let caps;
  try {
    caps = await qemuCapabilities({ ...(values.qemu ? { qemu: values.qemu } : {}), ...(values.refresh ? { refresh: true } : {}) });
  } catch (err) {
    if (!(err instanceof LabError)) throw err;
    io.err(`xdplab netdev drivers: ${describeError(err)}\n`);
    return 1;
  }
  if (values.json) { io.out(`${JSON.stringify(caps, null, 2)}\n`); return 0; }
  const lines = [
    `QEMU ${caps.version} at ${caps.binary.path}${caps.package ? ` (${caps.package})` : ''}${caps.fromCache ? ' [cached]' : ''}`,
    ...(caps.schemaProblem ? [`  query-qmp-schema failed: ${caps.schemaProblem}`] : []),
  ];
  for (const d of Object.values(caps.drivers)) {
    lines.push(d.available
      ? `  ${d.type.padEnd(13)} yes${d.missingMembers ? ` (lacks ${d.missingMembers.join(', ')})` : ''}${d.extraMembers ? ` (also has ${d.extraMembers.join(', ')})` : ''}`
      : `  ${d.type.padEnd(13)} no: ${d.reason}`);
  }
  lines.push(`af-xdp options: ${caps.afXdp.present ? caps.afXdp.members!.join(', ') : `absent (${caps.afXdp.reason})`}`);
  lines.push(`accelerators: ${caps.accelerators.join(', ') || 'none listed'}; KVM ${caps.kvm.usable ? 'usable' : 'not usable'}: ${caps.kvm.detail}`);
  lines.push(`-L directories: ${caps.dataDirs.length ? caps.dataDirs.join(' ') : 'none needed (the system QEMU)'}`);
  io.out(`${lines.join('\n')}\n`);
  return 0;
}

export async function run(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined) { io.err(NETDEV_USAGE); return 2; }
  if (sub === '-h' || sub === '--help' || sub === 'help') { io.out(NETDEV_USAGE); return 0; }
  if (sub === 'check') return check(rest, io);
  if (sub === 'schema') return schema(rest, io);
  if (sub === 'drivers') return drivers(rest, io);
  return usage(io, `unknown subcommand '${sub}'; subcommands: check, schema, drivers`);
}
