// The `xdplab` command: parses argv and dispatches to a subcommand. Exit codes: 0 ok,
// 1 failure, 2 bad usage (unknown command or flag).
import { parseArgs } from 'node:util';
import { describeError } from '../../native/errors.js';

export interface Io { out: (text: string) => void; err: (text: string) => void }

const stdio: Io = {
  out: (t) => { process.stdout.write(t); },
  err: (t) => { process.stderr.write(t); },
};

const USAGE = `Usage: xdplab <command> [options]

Commands:
  doctor [--json] [--cleanup] [--qemu PATH]
                Check that this machine can run the lab (AF_XDP, capabilities, tools, QEMU, KVM)

Options:
  -h, --help    Show help (also: xdplab <command> --help)
`;

const DOCTOR_USAGE = `Usage: xdplab doctor [--json] [--cleanup] [--qemu PATH]

Checks this machine: every line says what was found and, when not ok, what to do.
Exit code 0 when every required check is ok, 1 otherwise; informational checks never fail it.

Options:
  --json         Print {"checks":[{"id","ok","detail","severity"}]} instead of text
  --cleanup      First remove what crashed labs left behind (namespaces, links, processes)
  --qemu PATH    The QEMU binary to check (default: $XDPLAB_QEMU, then qemu-system-x86_64)
  -h, --help     Show this help
`;

class UsageError extends Error {}

async function runDoctor(args: string[], io: Io): Promise<number> {
  let values: { json?: boolean; cleanup?: boolean; qemu?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        json: { type: 'boolean' },
        cleanup: { type: 'boolean' },
        qemu: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    // parseArgs names the offending flag or argument; keep its words.
    throw new UsageError(`xdplab doctor: ${(err as Error).message}`);
  }
  if (values.help) { io.out(DOCTOR_USAGE); return 0; }
  // Loaded on demand: --help and usage errors must not depend on koffi and native libraries.
  const { doctor } = await import('../doctor/doctor.js');
  return doctor({ json: !!values.json, cleanup: !!values.cleanup, ...(values.qemu ? { qemu: values.qemu } : {}) }, io.out);
}

const COMMANDS: Record<string, (args: string[], io: Io) => Promise<number>> = {
  doctor: runDoctor,
};

/** Runs the CLI; returns the exit code instead of exiting, so tests can call it. */
export async function main(argv: string[], io: Io = stdio): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) { io.err(USAGE); return 2; }
  if (command === '-h' || command === '--help' || command === 'help') { io.out(USAGE); return 0; }
  const run = COMMANDS[command];
  if (!run) {
    io.err(`xdplab: unknown ${command.startsWith('-') ? 'option' : 'command'} '${command}'; commands: ${Object.keys(COMMANDS).join(', ')} (xdplab --help)\n`);
    return 2;
  }
  try {
    return await run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) { io.err(`${err.message}\nRun 'xdplab ${command} --help' for its options.\n`); return 2; }
    io.err(`xdplab ${command}: ${describeError(err)}\n`);
    return 1;
  }
}
