// A cpio "newc" archive writer, the format the kernel unpacks as an initramfs. Written here
// rather than piped through cpio(1) so that the archive can hold /dev/console (a device node
// needs root to create on disk) and so that it is byte-for-byte reproducible: every entry owned
// by root, mtime 0, entries in the order given.

export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; data: Buffer; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'char'; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

const hex8 = (n: number) => n.toString(16).padStart(8, '0');
const pad4 = (n: number) => (4 - (n % 4)) % 4;

function header(ino: number, mode: number, nlink: number, size: number, rdevMajor: number, rdevMinor: number, name: string): Buffer {
  const nameBytes = Buffer.from(`${name}\0`);
  const fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rdevMajor, rdevMinor, nameBytes.length, 0];
  const head = Buffer.from(`070701${fields.map(hex8).join('')}`, 'ascii');
  return Buffer.concat([head, nameBytes, Buffer.alloc(pad4(head.length + nameBytes.length))]);
}

/** The archive as one buffer; paths are relative ("init", "bin/busybox"), parents first. */
export function cpioNewc(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of entries) {
    const name = e.path.replace(/^\/+/, '');
    let mode: number;
    let data: Buffer = Buffer.alloc(0);
    let major = 0;
    let minor = 0;
    let nlink = 1;
    switch (e.type) {
      case 'dir': mode = S_IFDIR | (e.mode ?? 0o755); nlink = 2; break;
      case 'file': mode = S_IFREG | (e.mode ?? 0o644); data = e.data; break;
      case 'symlink': mode = S_IFLNK | 0o777; data = Buffer.from(e.target); break;
      case 'char': mode = S_IFCHR | (e.mode ?? 0o600); major = e.major; minor = e.minor; break;
    }
    parts.push(header(ino++, mode, nlink, data.length, major, minor, name), data, Buffer.alloc(pad4(data.length)));
  }
  parts.push(header(0, 0, 1, 0, 0, 0, 'TRAILER!!!'));
  return Buffer.concat(parts);
}
