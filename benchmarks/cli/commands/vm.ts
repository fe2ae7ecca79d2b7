// `xdplab vm ...`: the VM lab's subcommands.
import type { Io } from '../io.js';

export const VM_USAGE = `Usage: xdplab vm image [--rebuild] [--json] [--kernel auto|host|debian]

  image    build or show the cached guest image (xdplab vm image --help)
`;

export async function run(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'image') return (await import('./image.js')).run(rest, io);
  if (sub === undefined || sub === '-h' || sub === '--help') { io.out(VM_USAGE); return sub === undefined ? 2 : 0; }
  io.err(`xdplab vm: unknown subcommand '${sub}'; subcommands: image\n`);
  return 2;
}
