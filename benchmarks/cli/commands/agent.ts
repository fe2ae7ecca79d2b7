// `xdplab agent --stdio`: the peer side of a two-host lab, driven over stdin/stdout (usually by
// `xdplab ... --peer-host HOST` through ssh). Not meant to be run by hand.
import { parseFlags, UsageError, type Io } from '../io.js';

export const AGENT_USAGE = `Usage: xdplab agent --stdio

The lab's peer side on this host, driven over stdin/stdout by another xdplab (usually started
through ssh by 'xdplab doctor --peer-host HOST'). One JSON message per line each way; the first is
a hello carrying the protocol version and xdplab's version, and both sides must match.
It removes everything it made (namespaces, links, iperf3 servers, engine workers) when stdin
closes (the ssh connection dropped), and on SIGTERM, SIGHUP and SIGINT.

Options:
  --stdio        Speak the protocol on stdin/stdout (the only transport)
  -h, --help     Show this help

Environment (for tests):
  XDPLAB_AGENT_FAKE_VERSION   Claim this xdplab version in the hello (tests the version check)
`;

export async function run(args: string[], io: Io): Promise<number> {
  const values = parseFlags('agent', args, { stdio: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) { io.out(AGENT_USAGE); return 0; }
  if (!values.stdio) throw new UsageError('xdplab agent: --stdio is required (the agent speaks only over stdin/stdout)');
  const { runAgent } = await import('../../agent/agent.js');
  return runAgent({ input: process.stdin, output: process.stdout, log: (l) => io.err(`xdplab agent: ${l}\n`) });
}
