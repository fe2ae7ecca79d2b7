// `xdplab vm image [--rebuild] [--json] [--kernel auto|host|debian]`: builds the guest image, or
// shows the cached one for the current inputs. Progress goes to stderr, the result to stdout.
// Exit codes: 0 ok, 1 failure, 2 bad usage.
import { parseFlags, type Io } from '../io.js';
import { describeError } from '../../contracts/errors.js';
import type { GuestImage, KernelChoice } from '../../qemu/guest-image.js';

export type CommandIo = Io;

export const USAGE = `Usage: xdplab vm image [--rebuild] [--json] [--kernel auto|host|debian]

Builds the guest image the lab's VMs boot (a kernel, and an initramfs with busybox, iperf3,
ethtool, the virtio/virtio_net/virtio_console/9p/e1000 modules, pktgen, and xdplab's guest agent)
from Debian packages, or shows the cached one. It is rebuilt only when its inputs change
(package versions, the guest's init and agent, the builder). Cache: $XDPLAB_CACHE_DIR, default
~/.cache/xdplab (images under guest/<inputs-hash>/).

Options:
  --rebuild        Build even when the cache has an image for these inputs, and replace it
  --json           Print the image as JSON: paths, sizes, inputs and their hash
  --kernel KIND    auto (default; also $XDPLAB_GUEST_KERNEL): the host's kernel when its image
                   is readable and has the virtio drivers, else Debian's linux-image-*-amd64;
                   host or debian to insist on one
  -h, --help       Show this help
`;

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

function shortModule(path: string): string {
  return (path.split('/').pop() ?? path).replace(/\.ko$/, '');
}

export function describeImage(img: GuestImage): string {
  const m = img.manifest;
  const k = m.inputs.kernel;
  const kernelFrom = k.source === 'debian' ? `${k.package} ${k.version}` : `the host's, ${k.path}`;
  const others = Object.entries(m.inputs.packages).map(([p, v]) => `${p} ${v}`).join(', ');
  const lines = [
    `guest image ${m.inputsHash} (${img.cached ? 'cached' : `built in ${(m.buildMs / 1000).toFixed(1)} s`}, ${m.builtAt})`,
    `  directory  ${img.dir}`,
    `  kernel     ${img.kernelPath}  ${mib(m.kernelBytes)}  ${m.kernelRelease} from ${kernelFrom}${m.kernelBoot === 'pvh' ? ', uncompressed, PVH entry' : ', bzImage'}`,
    `  initramfs  ${img.initrdPath}  ${mib(m.initrdBytes)}`,
    `  modules    ${m.bootModules.map(shortModule).join(' ')}`,
    `             on demand: ${m.onDemandModules.map(shortModule).join(' ') || 'none'}${m.builtinModules.length ? `; built in: ${m.builtinModules.join(' ')}` : ''}${m.missingModules.length ? `; not in this kernel: ${m.missingModules.join(' ')}` : ''}`,
    `  programs   busybox, ${m.programs.join(', ')}`,
    `  inputs     hash ${m.inputsHash}: builder ${m.inputs.builderVersion}, ${others}${Object.keys(m.inputs.files).length ? `, ${Object.keys(m.inputs.files).length} unpackaged files by sha256` : ''}, init+agent ${m.inputs.sourcesSha256.slice(0, 12)}`,
  ];
  return `${lines.join('\n')}\n`;
}

export async function run(args: string[], io: CommandIo): Promise<number> {
  let values;
  try {
    values = parseFlags('vm image', args, {
      rebuild: { type: 'boolean' }, json: { type: 'boolean' }, kernel: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    });
  } catch (err) {
    io.err(`${(err as Error).message}\nRun 'xdplab vm image --help' for its options.\n`);
    return 2;
  }
  if (values.help) { io.out(USAGE); return 0; }
  if (values.kernel !== undefined && !['auto', 'host', 'debian'].includes(values.kernel)) {
    io.err(`xdplab vm image: --kernel expects auto, host or debian, got '${values.kernel}'\n`);
    return 2;
  }
  try {
    const { ensureGuestImage } = await import('../../qemu/guest-image.js');
    const img = await ensureGuestImage({
      ...(values.rebuild ? { rebuild: true } : {}),
      ...(values.kernel ? { kernel: values.kernel as KernelChoice } : {}),
      onProgress: (m) => io.err(`${m}\n`),
    });
    if (values.json) {
      io.out(`${JSON.stringify({
        dir: img.dir,
        kernelPath: img.kernelPath,
        initrdPath: img.initrdPath,
        cached: img.cached,
        inputsHash: img.manifest.inputsHash,
        kernelBytes: img.manifest.kernelBytes,
        initrdBytes: img.manifest.initrdBytes,
        manifest: img.manifest,
      }, null, 2)}\n`);
    } else {
      io.out(describeImage(img));
    }
    return 0;
  } catch (err) {
    io.err(`xdplab vm image: ${describeError(err)}\n`);
    return 1;
  }
}
