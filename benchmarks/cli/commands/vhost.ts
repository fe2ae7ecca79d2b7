// `xdplab vhost serve`: xdplab's vhost-user-net back end (native/vhost/) bridging a guest's
// virtio-net NIC to an interface through an AF_XDP port. One JSON line per event on stdout
// (listening, connected, refused, disconnected, stats), so that the lab and tests can follow it.
import { invalidOption } from '../../contracts/errors.js';
import { parseServeOptions } from '../../contracts/vhost.js';
import { parseFlags, UsageError, type Io } from '../io.js';

export { parseServeOptions };

export const VHOST_USAGE = `Usage: xdplab vhost serve --socket PATH --ifname IF [--mode native|skb] [--queues N] [--netns NS] [--client] [--stats-ms N]
       [--spin-us N] [--cpu N]

A vhost-user-net device back end: the guest's virtio-net queues to and from an AF_XDP port on
IF (one copy each way, between guest memory and the UMEM). QEMU needs shared guest memory
(-object memory-backend-memfd,...,share=on -numa node,memdev=...) and
  -chardev socket,id=c0,path=PATH[,reconnect=1] -netdev vhost-user,id=n0,chardev=c0
  -device virtio-net-pci,netdev=n0
As the server (the default) it listens on PATH and serves one QEMU at a time; with --client it
connects to a QEMU whose chardev has server=on, and reconnects when the connection drops.
A message it refuses, or a ring that points outside guest memory, drops that connection (the
error names the message and the field); it then waits for the next one. SIGINT/SIGTERM stop it
and detach its XDP program.

Options:
  --socket PATH   the vhost-user unix socket
  --ifname IF     the interface the AF_XDP port opens (a veth end, a NIC)
  --mode MODE     native or skb (default: native, falling back to skb)
  --queues N      queue pairs (XSK queues 0..N-1; VIRTIO_NET_F_MQ when N > 1; default 1)
  --netns NS      open the port in this network namespace (ip netns)
  --client        connect to PATH instead of listening on it
  --stats-ms N    print the counters every N ms (default: only at disconnect and exit)
  --spin-us N     keep polling N µs after the last frame before sleeping on the kick eventfds
                  (default 10000: under TCG a guest's bursts come ms apart; 0 sleeps at once)
  --cpu N         run the back end's loop on CPU N (default: wherever the kernel puts it)
  -h, --help      this help
`;

export async function run(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === '-h' || sub === '--help' || sub === undefined) { io.out(VHOST_USAGE); return sub === undefined ? 2 : 0; }
  if (sub !== 'serve') throw new UsageError(`xdplab vhost: unknown subcommand '${sub}'; subcommands: serve`);
  const v = parseFlags('vhost', rest, {
    socket: { type: 'string' }, ifname: { type: 'string' }, mode: { type: 'string' }, queues: { type: 'string' },
    netns: { type: 'string' }, client: { type: 'boolean' }, 'stats-ms': { type: 'string' }, 'spin-us': { type: 'string' }, cpu: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (v.help) { io.out(VHOST_USAGE); return 0; }
  const num = (s: string | undefined, field: string) => {
    if (s === undefined) return undefined;
    if (!/^\d+$/.test(s)) throw invalidOption(field, `expected a whole number, got '${s}'`);
    return Number(s);
  };
  if (!v.socket) throw new UsageError('xdplab vhost: --socket PATH is required');
  if (!v.ifname) throw new UsageError('xdplab vhost: --ifname IF is required');
  const o = parseServeOptions({
    socket: v.socket, ifname: v.ifname, ...(v.mode ? { mode: v.mode } : {}), ...(v.queues ? { queues: num(v.queues, 'queues') } : {}),
    ...(v.netns ? { netns: v.netns } : {}), client: !!v.client, ...(v['stats-ms'] ? { statsMs: num(v['stats-ms'], 'stats-ms') } : {}),
    ...(v['spin-us'] !== undefined ? { spinUs: num(v['spin-us'], 'spin-us') } : {}),
    ...(v.cpu !== undefined ? { cpu: num(v.cpu, 'cpu') } : {}),
  });
  const { serveVhost } = await import('../../vhost/serve.js');
  return serveVhost(o, (e) => io.out(`${JSON.stringify(e)}\n`));
}
