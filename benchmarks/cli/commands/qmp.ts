// `xdplab qmp --socket PATH COMMAND [JSON-ARGS]`: one QMP command against a running QEMU.
// Exit codes: 0 with the command's `return` as JSON on stdout; 1 when QEMU answers with an
// error (its class and desc on stderr) or the socket cannot be used; 2 for bad usage or
// arguments that are not a JSON object.
import { parseArgs } from 'node:util';
import { LabError } from '../../contracts/errors.js';
import { jsonText } from '../../qemu/netdev/validate.js';
import { QmpClient, QmpError } from '../../qemu/qmp.js';

import type { Io } from '../io.js';
export type { Io };

export const QMP_USAGE = `Usage: xdplab qmp --socket PATH [--timeout MS] COMMAND [JSON-ARGS]

Runs one QMP command on the QEMU listening at PATH (-qmp unix:PATH,server=on,wait=off)
and prints its "return" as JSON.

  COMMAND        a QMP command: query-version, query-status, netdev_add, netdev_del,
                 set_link, query-rx-filter, device_add, device_del, system_powerdown, quit, ...
  JSON-ARGS      the command's arguments as one JSON object, e.g. '{"id":"n0"}'

Options:
  --socket PATH  the QMP unix socket (required)
  --timeout MS   how long to wait for the connection and for the answer (default 10000)
  -h, --help     show this help

Exit codes: 0 ok (the return value on stdout), 1 QEMU answered with an error (class and
desc on stderr) or the socket could not be used, 2 bad usage or JSON-ARGS not a JSON object.

Examples:
  xdplab qmp --socket /tmp/vm.qmp query-version
  xdplab qmp --socket /tmp/vm.qmp netdev_add '{"type":"user","id":"n1"}'
  xdplab qmp --socket /tmp/vm.qmp set_link '{"name":"nic0","up":false}'
`;

function usage(io: Io, message: string): number {
  io.err(`xdplab qmp: ${message}\nRun 'xdplab qmp --help' for its options.\n`);
  return 2;
}

export async function run(args: string[], io: Io): Promise<number> {
  let values: { socket?: string; timeout?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args, strict: true, allowPositionals: true,
      options: { socket: { type: 'string' }, timeout: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    return usage(io, (err as Error).message);
  }
  if (values.help) { io.out(QMP_USAGE); return 0; }
  if (!values.socket) return usage(io, '--socket PATH is required');
  const [command, rawArgs, ...extra] = positionals;
  if (!command) return usage(io, 'COMMAND is missing');
  if (extra.length) return usage(io, `unexpected argument '${extra[0]}' (JSON-ARGS is one JSON object; quote it)`);
  const timeoutMs = values.timeout === undefined ? 10_000 : Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) return usage(io, `--timeout expects a positive number of milliseconds, got '${values.timeout}'`);
  let commandArgs: Record<string, unknown> | undefined;
  if (rawArgs !== undefined) {
    let parsed: unknown;
    try { parsed = JSON.parse(rawArgs); } catch (err) {
      return usage(io, `JSON-ARGS is not valid JSON: ${(err as Error).message}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return usage(io, `JSON-ARGS must be a JSON object (the command's arguments), got ${jsonText(parsed)}`);
    commandArgs = parsed as Record<string, unknown>;
  }
  let client: QmpClient | undefined;
  try {
    client = await QmpClient.connect(values.socket, { timeoutMs, commandTimeoutMs: timeoutMs });
    const ret = await client.execute(command, commandArgs);
    io.out(`${jsonText(ret, 2)}\n`);
    return 0;
  } catch (err) {
    if (err instanceof QmpError) {
      io.err(`xdplab qmp: ${command} failed: ${err.errorClass}: ${err.desc}${err.hint ? `\n  hint: ${err.hint}` : ''}\n`);
      return 1;
    }
    if (err instanceof LabError) {
      io.err(`xdplab qmp: ${err.message}${err.hint ? `\n  hint: ${err.hint}` : ''}\n`);
      return 1;
    }
    throw err;
  } finally {
    await client?.close();
  }
}
