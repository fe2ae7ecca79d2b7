// The guest's /init and /etc/inittab, as busybox sh text. They live in TypeScript (String.raw, so
// backslashes stay as written) so that they ship inside dist/ with the code that builds the
// image; their text is part of the image's inputs hash. Rule for editing: no backticks and no
// dollar-brace sequences (a template literal would interpolate them; tsc rejects most by accident,
// not all): use $var, $(...) and basename/cut instead of parameter expansions.

/** Printed on the serial console when the guest's network is configured and the agent starts. */
export const READY_MARKER = 'XDPLAB-READY';

export const INIT_SCRIPT = String.raw`#!/bin/sh
# xdplab guest /init (PID 1 until it execs busybox init, which then respawns the agent).
#   xdplab.ip=eth0:192.0.2.15/24,eth1:198.51.100.2/24   addresses; ethN is the N-th NIC in PCI order
#   xdplab.gw=10.0.2.2                                   default route
#   xdplab.modules=pktgen                                extra modules to load (from /lib/modules)
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
log() { echo "xdplab-init: $*"; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
hostname xdplab-guest

kver=$(uname -r)
ips=
gw=
extra=
for w in $(cat /proc/cmdline); do
  case "$w" in
    xdplab.ip=*) ips=$(echo "$w" | cut -d= -f2-) ;;
    xdplab.gw=*) gw=$(echo "$w" | cut -d= -f2-) ;;
    xdplab.modules=*) extra=$(echo "$w" | cut -d= -f2- | tr ',' ' ') ;;
  esac
done

# Modules in dependency order, as resolved from modules.dep when the image was built.
while read -r m; do
  [ -n "$m" ] || continue
  insmod "/lib/modules/$kver/$m" || log "insmod $m failed"
done < /etc/xdplab/modules
# Drivers for devices that may or may not be there: the e1000 NIC (Intel, class 0x0200xx) and
# virtio-9p (virtio device id 9). Loading them only when needed keeps them off the boot time.
for d in /sys/bus/pci/devices/*; do
  v=; c=
  read -r v < "$d/vendor"; read -r c < "$d/class"
  case "$v $c" in "0x8086 0x0200"*) extra="e1000 $extra" ;; esac
done
for d in /sys/bus/virtio/devices/*; do
  [ -e "$d/device" ] || continue
  read -r id < "$d/device"
  [ "$id" = 0x0009 ] && extra="9pnet_virtio 9p $extra"
done
for m in $extra; do modprobe "$m" || log "modprobe $m failed"; done

# NICs named eth0..N in PCI order, whatever the load order of their drivers (virtio_net, e1000):
# sorted by device path (/sys/devices/pci0000:00/0000:00:03.0/virtio1 for virtio-net).
nics=$(for d in /sys/class/net/*; do
  [ -e "$d/device" ] || continue
  echo "$(readlink -f "$d/device") $(basename "$d")"
done | sort)
count=$(echo "$nics" | grep -c .)
if [ "$count" -gt 1 ]; then
  i=0
  for n in $(echo "$nics" | cut -d' ' -f2); do ip link set dev "$n" name "xlnic$i"; i=$((i + 1)); done
  i=0
  while [ "$i" -lt "$count" ]; do ip link set dev "xlnic$i" name "eth$i"; i=$((i + 1)); done
fi

ip link set lo up
for d in /sys/class/net/eth*; do [ -e "$d" ] && ip link set "$(basename "$d")" up; done
for spec in $(echo "$ips" | tr ',' ' '); do
  oldifs=$IFS; IFS=:; set -- $spec; IFS=$oldifs
  ip addr add "$2" dev "$1" || log "address $2 on $1 failed"
done
if [ -n "$gw" ]; then ip route add default via "$gw" || log "default route via $gw failed"; fi

# Up to 3 s for every link to have a carrier (the kernel activates a link's queues when its
# carrier comes on), so that traffic sent right after the marker is not dropped: virtio-net has
# it at once, e1000 negotiates for a while. Not operstate: linkwatch may report "up" up to 1 s
# late. A backend without a peer may never get a carrier: the marker line names such links.
n=0
down=
while [ "$n" -lt 60 ]; do
  down=
  for d in /sys/class/net/eth*; do
    [ -e "$d" ] || continue
    c=0
    read -r c < "$d/carrier" 2>/dev/null
    [ "$c" = 1 ] || down="$down $(basename "$d")"
  done
  [ -z "$down" ] && break
  usleep 50000
  n=$((n + 1))
done

echo "$READY_MARKER kernel=$kver nics=$count nocarrier=$(echo $down | tr ' ' ',')"
exec /bin/busybox init
`.replace('$READY_MARKER', READY_MARKER);

/** busybox init: respawn the agent; power off without asking anything. */
export const INITTAB = `::respawn:/sbin/xdplab-agent
::ctrlaltdel:/bin/poweroff -f
::shutdown:/bin/sync
`;
