// The PVP guest's forwarder: eth0 <-> eth1, as a busybox sh script run through the agent. Same
// editing rule as init.ts: no backticks, no dollar-brace sequences.
//
// Why the kernel bridge:
//   - it is kernel-only: the image already has busybox (brctl, ip) and the module comes from the
//     guest's own kernel package (bridge.ko with stp.ko and llc.ko, on demand in the image); no
//     program of ours has to run in the guest per packet, and nothing in it needs KVM;
//   - it behaves the same under TCG and KVM, so the method is identical on a KVM host (only the
//     rate changes);
//   - an XDP redirect in the guest (xdp_redirect_map between the two NICs, the faster path on
//     real hardware) would need a loader in the guest: xdplab loads its programs from Node over
//     libxdp/libbpf (native/xdp), and the guest has no Node, no libbpf and no ip with BPF
//     support (busybox ip cannot attach XDP). tc mirred would need iproute2's tc (busybox tc
//     has no actions). Both would mean new binaries and libraries in every image.
// What the bridge costs: a MAC learning lookup per frame (the generator's frames go to the
// receiver's MAC, which the bridge never learns because the receiver sends nothing, so it
// floods them to the one other port: eth1). It never sends a frame back out of the port it came
// in on. STP is off and the forward delay 0, so the ports forward as soon as they are up; the
// bridge has no address (ipv6.disable=1 on the guest's command line: no neighbour discovery,
// no MLD) and no multicast snooping (no IGMP reports of its own, seen here before it was off),
// so the guest itself sends nothing into the path. Ports are promiscuous as bridge
// ports always are.

/** The forwarder's name in reports. */
export const FORWARDER = 'linux-bridge';

/** The guest's bridge between eth0 and eth1. */
export const GUEST_BRIDGE = 'br0';

/**
 * Sets up the bridge and waits until both ports forward (brport state 3), at most ~5 s.
 * Prints the ports' states on the last line. Exits non-zero with a message otherwise.
 */
export const FORWARDER_SCRIPT = String.raw`set -e
modprobe bridge
brctl addbr br0
# busybox brctl here is built without stp/setfd: the bridge's sysfs does the same.
echo 0 > /sys/class/net/br0/bridge/stp_state
echo 0 > /sys/class/net/br0/bridge/forward_delay
# No multicast snooping: with it the bridge joins 224.0.0.106 (all-snoopers) when it comes up
# and sends two IGMPv3 reports for it, the second up to 1 s later, out of both ports.
echo 0 > /sys/class/net/br0/bridge/multicast_snooping
for p in eth0 eth1; do
  [ -e /sys/class/net/$p ] || { echo "no $p in the guest (the PVP VM has two NICs)" >&2; exit 3; }
  brctl addif br0 $p
  ip link set $p up
done
ip link set br0 up
set +e
for p in eth0 eth1; do
  n=0
  s=0
  while :; do
    read -r s < /sys/class/net/$p/brport/state
    [ "$s" = 3 ] && break
    n=$((n + 1))
    if [ "$n" -gt 250 ]; then echo "bridge port $p is in state $s, not forwarding (3), after 5 s" >&2; exit 4; fi
    usleep 20000
  done
done
echo "br0 forwarding: eth0 eth1"
`;

/** The commands the script runs, as typed by hand (for reports). */
export const FORWARDER_COMMANDS = [
  'modprobe bridge', 'brctl addbr br0', 'echo 0 > /sys/class/net/br0/bridge/stp_state', 'echo 0 > /sys/class/net/br0/bridge/forward_delay',
  'echo 0 > /sys/class/net/br0/bridge/multicast_snooping',
  'brctl addif br0 eth0', 'brctl addif br0 eth1', 'ip link set eth0 up', 'ip link set eth1 up', 'ip link set br0 up',
] as const;
