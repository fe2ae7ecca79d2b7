// Free ports on 127.0.0.1 for what the lab starts (QEMU's socket/stream/dgram backends, iperf3
// servers): bound to port 0, read back, released. A race with another process taking the same
// port between release and use is possible and reported by whoever binds it next.
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const a = s.address(); s.close(() => resolve(typeof a === 'object' && a ? a.port : 0)); });
  });
}

export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}
