// The privileged half of QEMU's inhibit=on + sock-fds model: attach the XSK program, create one
// unbound AF_XDP socket per queue and add it to the XSKMAP. The sockets then go to a process
// without capabilities (over SCM_RIGHTS or by inheritance), which opens AfXdpPort with
// inhibit=on and sock-fds and loads nothing. The provider keeps the program attached until it
// is closed, and detaches only the program it attached.
import { invalidOption } from '../../benchmarks/contracts/errors.js';
import { libc, check } from '../sys/libc.js';
import { NetnsHandle } from '../sys/netns.js';
import { XskProgram, type XdpMode } from '../xdp/xsk-program.js';
import { AF_XDP, SOCK_RAW } from './constants.js';
import { checkQueueRange, resolveIfindex } from './port.js';

export interface ProvideOptions { ifname: string; mode?: XdpMode; queues?: number; 'start-queue'?: number }

export class XskSocketProvider {
  private closed = false;
  private readonly netns = NetnsHandle.current();

  private constructor(readonly program: XskProgram, readonly fds: number[], readonly queueIds: number[]) {}

  get mode(): XdpMode { return this.program.mode; }

  /** The sock-fds option value for these sockets, as seen by a process holding the same numbers. */
  get sockFds(): string { return this.fds.join(':'); }

  static create(o: ProvideOptions): XskSocketProvider {
    const queues = o.queues ?? 1;
    const start = o['start-queue'] ?? 0;
    if (!Number.isInteger(queues) || queues < 1) throw invalidOption('queues', `invalid number of queues (${queues}) for '${o.ifname}': must be 1 or more`);
    if (!Number.isInteger(start) || start < 0) throw invalidOption('start-queue', `must be 0 or more, got ${start}`);
    const ifindex = resolveIfindex(o.ifname);
    checkQueueRange(o.ifname, start, queues);
    const program = XskProgram.attachAsQemuDoes(o.ifname, ifindex, o.mode, start + queues - 1);
    const fds: number[] = [];
    const ids: number[] = [];
    try {
      for (let i = 0; i < queues; i++) {
        const fd = check(libc().socket(AF_XDP, SOCK_RAW, 0), 'socket', `creating the AF_XDP socket for ${o.ifname} queue ${start + i}`);
        fds.push(fd);
        ids.push(start + i);
        program.insert(start + i, fd);
      }
    } catch (err) {
      for (const fd of fds) libc().close(fd);
      program.detach();
      throw err;
    }
    return new XskSocketProvider(program, fds, ids);
  }

  /** Closes this process's copies of the sockets and detaches the program it attached. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.netns.run(() => {
      for (const fd of this.fds) libc().close(fd);
      this.program.detach();
    });
    this.netns.close();
  }
}
