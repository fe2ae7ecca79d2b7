// The QMP console's safety rules, for every face that sends a user's QMP command to a VM (the VMs
// page, a running run's QMP panel, a scenario's timeline): commands that reach outside the VM
// (run host programs, read or write host files as QEMU's user, root here) are refused.
/** QMP commands the console refuses: each can run host programs or read or write host files
 * as QEMU's user (root here). `xdplab qmp --socket` from a shell still has them. */
export const QMP_REFUSED: Record<string, string> = {
  'human-monitor-command': 'HMP reaches everything QMP refuses here',
  migrate: 'an exec: URI runs a host command', 'migrate-incoming': 'an exec: URI runs a host command', 'migrate-recover': 'an exec: URI runs a host command',
  'dump-guest-memory': 'writes a host file', pmemsave: 'writes a host file', memsave: 'writes a host file', screendump: 'writes a host file',
  'blockdev-add': 'opens host files', 'blockdev-create': 'creates host files', 'blockdev-snapshot-sync': 'creates host files',
  'drive-backup': 'writes host files', 'drive-mirror': 'writes host files', 'blockdev-change-medium': 'opens host files',
  'chardev-add': 'opens host files and sockets', 'chardev-change': 'opens host files and sockets',
  'object-add': 'memory and secret objects read host files', 'snapshot-save': 'writes host files',
  'dump-skeys': 'writes a host file', 'x-debug-block-dirty-bitmap-sha256': 'debugging only',
};
/** netdev_add members that run host programs or take host file descriptors. */
const NETDEV_REFUSED_KEYS = ['script', 'downscript', 'helper', 'fd', 'fds', 'vhostfd', 'vhostfds', 'sock-fds'];
/** device_add drivers that load host files or hand over host devices. */
const DEVICE_REFUSED = /^(loader|guest-loader|vfio.*|usb-host|ivshmem.*|vhost-.*|pc-dimm|nvdimm|virtio-pmem.*)$/;

export function qmpRefusal(command: string, args: Record<string, unknown> | undefined): string | undefined {
  const why = QMP_REFUSED[command];
  if (why) return `${command} is refused by xdplab's QMP console: ${why}`;
  if (command === 'netdev_add') {
    const bad = NETDEV_REFUSED_KEYS.filter((k) => args && k in args);
    if (bad.length) return `netdev_add with ${bad.join(', ')} is refused by xdplab's QMP console: it runs host programs or takes host file descriptors`;
  }
  if (command === 'device_add' && typeof args?.driver === 'string' && DEVICE_REFUSED.test(args.driver)) {
    return `device_add of ${args.driver} is refused by xdplab's QMP console: it loads host files or hands over host devices`;
  }
  return undefined;
}
