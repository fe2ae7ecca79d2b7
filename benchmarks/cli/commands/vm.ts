// `xdplab vm ...`: the VM lab's subcommands.
import type { Io } from '../io.js';

export const VM_USAGE = `Usage: xdplab vm image [--rebuild] [--json] [--kernel auto|host|debian]
       xdplab vm bench [--backends LIST] [--tests LIST] [--duration S] [--trials N] ...

  image    build or show the cached guest image (xdplab vm image --help)
  bench    QEMU network backends x tests with VMs; a report (xdplab vm bench --help)
`;

export async function run(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'image') return (await import('./image.js')).run(rest, io);
  if (sub === 'bench') return (await import('./vm-bench.js')).run(rest, io);
  if (sub === undefined || sub === '-h' || sub === '--help') { io.out(VM_USAGE); return sub === undefined ? 2 : 0; }
  io.err(`xdplab vm: unknown subcommand '${sub}'; subcommands: image, bench\n`);
  return 2;
}
