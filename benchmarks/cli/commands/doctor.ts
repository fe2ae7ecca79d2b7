// `xdplab doctor`: what this machine can do for the lab, and what to fix.
import { parseFlags, type Io } from '../io.js';

export const DOCTOR_USAGE = `Usage: xdplab doctor [--json] [--cleanup] [--qemu PATH]

Checks this machine: every line says what was found and, when not ok, what to do.
Exit code 0 when every required check is ok, 1 otherwise; informational checks never fail it.

Options:
  --json         Print {"checks":[{"id","ok","detail","severity"}]} instead of text
  --cleanup      First remove what crashed labs left behind (namespaces, links, processes)
  --qemu PATH    The QEMU binary to check (default: $XDPLAB_QEMU, then qemu-system-x86_64)
  -h, --help     Show this help
`;

export async function run(args: string[], io: Io): Promise<number> {
  const values = parseFlags('doctor', args, {
    json: { type: 'boolean' }, cleanup: { type: 'boolean' }, qemu: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (values.help) { io.out(DOCTOR_USAGE); return 0; }
  const { doctor } = await import('../../doctor/doctor.js');
  return doctor({ json: !!values.json, cleanup: !!values.cleanup, ...(values.qemu ? { qemu: values.qemu } : {}) }, io.out);
}

