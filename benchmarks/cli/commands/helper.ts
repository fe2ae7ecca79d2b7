// `xdplab helper`: the privileged half of an unprivileged xdplab (see benchmarks/helper/).
import { parseFlags, type Io } from '../io.js';

export const HELPER_USAGE = `Usage: xdplab helper [--config FILE] [--socket PATH] [--socket-mode 0660] [--socket-group GROUP] [--check]

Serves the privileged steps of a bench to unprivileged xdplab clients over a unix socket:
namespaces and veth pairs it names itself, libxdp's XSK program and AF_XDP sockets passed with
SCM_RIGHTS (inhibit=on + sock-fds, as QEMU's af-xdp backend takes them), XDP drop programs, and
interface counters. Only users and groups its config allows may connect; only the session's own
interfaces and those the config lists are served. Everything a session made is removed when
its client disconnects and when the helper stops (SIGINT, SIGTERM).

Needs root, or CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN and CAP_BPF (effective and ambient),
and CAP_CHOWN to give the socket to socketGroup when it creates the socket itself.

Options:
  --config FILE        JSON config (default /etc/xdplab/helper.json)
  --socket PATH        overrides the config's socket (default /run/xdplab/helper.sock)
  --socket-mode MODE   overrides the config's socketMode (default 0660)
  --socket-group NAME  overrides the config's socketGroup
  --check              check the config and the capabilities, then exit
  -h, --help           this help
`;

export async function run(args: string[], io: Io): Promise<number> {
  const v = parseFlags('helper', args, {
    config: { type: 'string' }, socket: { type: 'string' }, 'socket-mode': { type: 'string' }, 'socket-group': { type: 'string' },
    check: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  });
  if (v.help) { io.out(HELPER_USAGE); return 0; }
  const { DEFAULT_HELPER_CONFIG, loadConfig, parseConfig } = await import('../../helper/config.js');
  const { CAP_CHOWN, checkHelperCapabilities } = await import('../../helper/capabilities.js');
  const path = v.config ?? DEFAULT_HELPER_CONFIG;
  const file = loadConfig(path);
  const config = parseConfig({
    socket: file.socket, socketMode: v['socket-mode'] ?? file.socketMode, allowUsers: file.allowUsers, allowGroups: file.allowGroups,
    interfaces: file.interfaces, maxSessions: file.maxSessions,
    ...(v['socket-group'] ?? file.socketGroup) !== undefined ? { socketGroup: v['socket-group'] ?? file.socketGroup } : {},
    ...(v.socket ? { socket: v.socket } : {}),
  }, path);
  const activated = process.env.LISTEN_FDS === '1' && process.env.LISTEN_PID === String(process.pid);
  checkHelperCapabilities(undefined, undefined, config.socketGid !== undefined && !activated ? [CAP_CHOWN] : []);
  if (v.check) {
    io.out(`xdplab helper: ${path} is valid; capabilities present; would listen on ${config.socket} (mode ${config.socketMode})\n`);
    return 0;
  }
  const { HelperServer } = await import('../../helper/server.js');
  const server = HelperServer.start(config, (line) => io.err(`${line}\n`));
  io.out(`xdplab helper: listening on ${config.socket}\n`);
  return new Promise<number>((resolve) => {
    const stop = (sig: NodeJS.Signals) => {
      process.off('SIGINT', stop); process.off('SIGTERM', stop);
      io.err(`xdplab helper: ${sig}: stopping\n`);
      server.stop();
      resolve(0);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
