// Device channel counts through the SIOCETHTOOL ioctl (works in whatever network namespace the
// thread is in, unlike /sys/class/net, which shows the namespace sysfs was mounted in).
import koffi from 'koffi';
import { libc } from './libc.js';

const SIOCETHTOOL = 0x8946;
const ETHTOOL_GCHANNELS = 0x3c;
const AF_INET = 2;
const SOCK_DGRAM = 2;

export interface Channels { maxRx: number; maxTx: number; maxCombined: number; rx: number; tx: number; combined: number }

/** The device's channel counts, or null when the driver does not report them. */
export function getChannels(ifname: string): Channels | null {
  const fd = libc().socket(AF_INET, SOCK_DGRAM, 0) as number;
  if (fd < 0) return null;
  const data = koffi.alloc('uint32_t', 9);
  try {
    const view = new Uint32Array(koffi.view(data, 36) as ArrayBuffer);
    view.fill(0);
    view[0] = ETHTOOL_GCHANNELS;
    const ifr = Buffer.alloc(40);
    ifr.write(ifname, 0, 15, 'utf8');
    ifr.writeBigUInt64LE(BigInt(koffi.address(data)), 16);
    if (libc().ioctl(fd, SIOCETHTOOL, ifr) !== 0) return null;
    return { maxRx: view[1]!, maxTx: view[2]!, maxCombined: view[4]!, rx: view[5]!, tx: view[6]!, combined: view[8]! };
  } finally {
    koffi.free(data);
    libc().close(fd);
  }
}

/** Queues that can receive: combined channels plus rx-only channels. */
export function rxQueueCount(ch: Channels): number {
  return ch.combined + ch.rx;
}
