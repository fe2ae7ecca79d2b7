// `xdplab doctor`: what this machine can do for the lab, and what to fix.
import { parseFlags, UsageError, type Io } from '../io.js';

export const DOCTOR_USAGE = `Usage: xdplab doctor [--json] [--cleanup] [--qemu PATH] [--peer-host [USER@]HOST [--ssh CMD]]

Checks this machine: every line says what was found and, when not ok, what to do.
Exit code 0 when every required check is ok, 1 otherwise; informational checks never fail it.

Options:
  --json         Print {"checks":[{"id","ok","detail","severity"}]} instead of text
  --cleanup      First remove what crashed labs left behind (namespaces, links, processes)
  --qemu PATH    The QEMU binary to check (default: $XDPLAB_QEMU, then qemu-system-x86_64)
  --peer-host [USER@]HOST
                 Also check that host, through 'xdplab agent --stdio' started there by ssh, and
                 show both (--json: {"host","checks","peer":{...}}); both must pass for exit 0
  --ssh CMD      The ssh command line (default: $XDPLAB_SSH, else ssh), split into words like a
                 shell (quotes, backslash; no expansion), e.g. --ssh 'ssh -F ./ssh_config -p 2222'
  --connect-timeout S
                 ssh's ConnectTimeout in seconds (default 10)
  -h, --help     Show this help

Environment:
  XDPLAB_SSH              The ssh command line when --ssh is not given
  XDPLAB_REMOTE_COMMAND   The xdplab command on the peer (default: xdplab), run by its shell
`;

export async function run(args: string[], io: Io): Promise<number> {
  const values = parseFlags('doctor', args, {
    json: { type: 'boolean' }, cleanup: { type: 'boolean' }, qemu: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    'peer-host': { type: 'string' }, ssh: { type: 'string' }, 'connect-timeout': { type: 'string' },
  });
  if (values.help) { io.out(DOCTOR_USAGE); return 0; }
  if ((values.ssh !== undefined || values['connect-timeout'] !== undefined) && values['peer-host'] === undefined) {
    throw new UsageError('xdplab doctor: --ssh and --connect-timeout go with --peer-host');
  }
  let connectTimeoutSeconds: number | undefined;
  if (values['connect-timeout'] !== undefined) {
    connectTimeoutSeconds = Number(values['connect-timeout']);
    if (!Number.isInteger(connectTimeoutSeconds) || connectTimeoutSeconds < 1 || connectTimeoutSeconds > 600) {
      throw new UsageError(`xdplab doctor: --connect-timeout: expected whole seconds from 1 to 600, got '${values['connect-timeout']}'`);
    }
  }
  const peer = values['peer-host'] !== undefined
    ? { host: values['peer-host'], ...(values.ssh !== undefined ? { ssh: values.ssh } : {}), ...(connectTimeoutSeconds !== undefined ? { connectTimeoutSeconds } : {}) }
    : undefined;
  const { doctor } = await import('../../doctor/doctor.js');
  const askPeer = peer ? (await import('../../agent/peer-doctor.js')).peerDoctor : undefined;
  return doctor({ json: !!values.json, cleanup: !!values.cleanup, ...(values.qemu ? { qemu: values.qemu } : {}), ...(peer ? { peer } : {}) }, io.out, askPeer);
}

