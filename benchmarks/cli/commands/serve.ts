// `xdplab serve`: the desktop app's UI in a browser (web mode). Prints the URL with its token,
// then serves until SIGINT or SIGTERM, when it stops the runs and VMs it started.
import { parseArgs } from 'node:util';
import { UsageError, type Io } from '../io.js';

export const SERVE_USAGE = `Usage: xdplab serve [--port N] [--host 127.0.0.1]

Serves the xdplab UI (the same as the desktop app) on the loopback interface, with LabApi over a
WebSocket. Open the URL it prints: it carries a random token, and anything without the token is
refused (HTTP 403). Stops with Ctrl-C (SIGINT) or SIGTERM, stopping the runs and VMs it started.

Options:
  --port N      TCP port (default 7878; 0 picks a free one)
  --host ADDR   loopback address to listen on: 127.0.0.1 (default), another 127.x, or ::1
  -h, --help    show this help

From another machine: ssh -L 7878:127.0.0.1:7878 HOST, then open the printed URL locally.
`;

export interface ServeHooks {
  /** Resolves when the server should stop (default: SIGINT or SIGTERM). */
  until?: Promise<void>;
  /** Called once the server listens (tests read the URL from here or from the output). */
  onListening?: (info: { url: string; port: number; token: string }) => void;
}

function signalled(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => { process.off('SIGINT', done); process.off('SIGTERM', done); resolve(); };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

export async function run(args: string[], io: Io, hooks: ServeHooks = {}): Promise<number> {
  let values: { port?: string; host?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args, strict: true, allowPositionals: false,
      options: { port: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    throw new UsageError(`xdplab serve: ${(err as Error).message}`);
  }
  if (values.help) { io.out(SERVE_USAGE); return 0; }
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65535) throw new UsageError(`xdplab serve: --port expects a port number from 0 to 65535, got '${values.port}'`);
  }
  const { startWebServer } = await import('../../server/web-server.js');
  const { createEngine } = await import('../../server/engine.js');
  const warn = (m: string) => io.err(`xdplab serve: ${m}\n`);
  const until = hooks.until ?? signalled();
  const engine = await createEngine({ warn });
  let server;
  try {
    server = await startWebServer({ service: engine.service, ...(port !== undefined ? { port } : {}), ...(values.host ? { host: values.host } : {}), warn });
  } catch (err) {
    await engine.close();
    throw err;
  }
  if (process.getuid?.() === 0) io.err('xdplab serve: running as root (the lab needs it for namespaces and AF_XDP); the UI is reachable only from this machine and only with the token\n');
  io.out(`xdplab serve: open ${server.url}\n`);
  io.out('xdplab serve: the token in the URL is required; Ctrl-C stops the server\n');
  hooks.onListening?.({ url: server.url, port: server.port, token: server.token });
  await until;
  io.out('xdplab serve: stopping\n');
  await server.close();
  await engine.close();
  return 0;
}
