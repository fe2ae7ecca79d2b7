// The `xdplab` command: parses argv and dispatches to a subcommand. Exit codes: 0 ok,
// 1 failure, 2 bad usage (unknown command or flag).
import { describeError } from '../contracts/errors.js';

import { stdio, UsageError, type Io } from './io.js';

const USAGE = `Usage: xdplab <command> [options]

Commands:
  doctor [--json] [--cleanup] [--qemu PATH] [--peer-host [USER@]HOST [--ssh CMD]]
                Check that this machine can run the lab (AF_XDP, capabilities, tools, QEMU, KVM)
  netdev check|schema|drivers ...
                Validate -netdev arguments; list the netdev schema; list what a QEMU offers
  qmp --socket PATH COMMAND [JSON-ARGS]
                Run one QMP command on a running QEMU
  bench [--quick] [--engines LIST] [--modes LIST] [--reference testpmd] ...
                Run testpmd-style engines and iperf3 through the AF_XDP datapath; write a report
  run FILE [--plan] [--json] [--out DIR] [--quick]
                Run a scenario file (benchmarks/scenarios/*.json); --plan: only say what it would do
  report show A | report compare A B | report rerun A
                Show a report (rows, NDR/PDR, latency, frame-size sweeps); compare two reports
                (deltas, beyond the noise or not); run a report's scenario again
  vm image [--rebuild] [--json]
                Build or show the guest image the lab's VMs boot
  vm bench [--backends LIST] [--tests LIST] [--quick] ...
                QEMU network backends (user, tap, stream, dgram, af-xdp, ...) with VMs; a report
  helper [--config FILE] [--socket PATH]
                The privileged steps for an unprivileged xdplab (bench --helper), over a unix socket
  vhost serve --socket PATH --ifname IF [--mode native|skb] [--client] ...
                A vhost-user-net back end over an AF_XDP port: any QEMU's guest on IF
  agent --stdio
                The peer side of a two-host lab over stdin/stdout (started through ssh by --peer-host)
  serve [--port N] [--host 127.0.0.1]
                Serve the app's UI in a browser (web mode) on 127.0.0.1, with a token in the URL

Options:
  -h, --help    Show help (also: xdplab <command> --help)
`;


type Command = { run(args: string[], io: Io): Promise<number> };

// Loaded on demand: --help and usage errors must not depend on koffi and native libraries.
const COMMANDS: Record<string, () => Promise<Command>> = {
  doctor: () => import('./commands/doctor.js'),
  netdev: () => import('./commands/netdev.js'),
  qmp: () => import('./commands/qmp.js'),
  serve: () => import('./commands/serve.js'),
  bench: () => import('./commands/bench.js'),
  run: () => import('./commands/run.js'),
  vm: () => import('./commands/vm.js'),
  report: () => import('./commands/report.js'),
  helper: () => import('./commands/helper.js'),
  vhost: () => import('./commands/vhost.js'),
  agent: () => import('./commands/agent.js'),
};

/** Runs the CLI; returns the exit code instead of exiting, so tests can call it. */
export async function main(argv: string[], io: Io = stdio): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) { io.err(USAGE); return 2; }
  if (command === '-h' || command === '--help' || command === 'help') { io.out(USAGE); return 0; }
  const load = COMMANDS[command];
  if (!load) {
    io.err(`xdplab: unknown ${command.startsWith('-') ? 'option' : 'command'} '${command}'; commands: ${Object.keys(COMMANDS).join(', ')} (xdplab --help)\n`);
    return 2;
  }
  try {
    return await (await load()).run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      // The message names the (sub)command it is about: "xdplab vm bench: --tests: ...".
      const named = /^xdplab ([a-z][a-z ]*?):/.exec(err.message)?.[1] ?? command;
      io.err(`${err.message}\nRun 'xdplab ${named} --help' for its options.\n`);
      return 2;
    }
    io.err(`xdplab ${command}: ${describeError(err)}\n`);
    return 1;
  }
}
