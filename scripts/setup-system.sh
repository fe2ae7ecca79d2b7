#!/usr/bin/env bash
# Installs the Debian packages xdplab's lab needs. Idempotent: installs only what is missing.
# Without root, or on a distribution other than Debian 12, it prints the commands instead.
set -euo pipefail

PACKAGES=(
  iproute2 ethtool kmod cpio
  libxdp1 libxdp-dev libbpf1 libbpf-dev xdp-tools
  iperf3 vde2 iputils-ping
  openssh-server openssh-client
  dpdk dpdk-dev librte-net-af-xdp23 librte-net-vhost23
  busybox-static
  chromium
)
# QEMU >= 8.2 (the af-xdp netdev's first release) is only in bookworm-backports on Debian 12.
BACKPORT_PACKAGES=(qemu-system-x86 qemu-utils)

codename=""
if [ -r /etc/os-release ]; then . /etc/os-release; codename="${VERSION_CODENAME:-}"; fi

print_commands() {
  cat <<MSG
xdplab setup: $1. Run these as root on Debian 12 (bookworm):
  echo 'deb <your Debian mirror>/debian bookworm-backports main' > /etc/apt/sources.list.d/bookworm-backports.list
  apt-get update
  apt-get install -y --no-install-recommends ${PACKAGES[*]}
  apt-get install -y --no-install-recommends -t bookworm-backports ${BACKPORT_PACKAGES[*]}
MSG
}

if [ "$(id -u)" != 0 ]; then print_commands "not root"; exit 0; fi
if [ "$codename" != bookworm ]; then print_commands "this is not Debian 12 (found '${ID:-unknown} ${codename}')"; exit 0; fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
qemu_ok=0
if command -v qemu-system-x86_64 >/dev/null; then
  v=$(qemu-system-x86_64 --version | sed -n 's/.*version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
  set -- $v
  if [ "${1:-0}" -gt 8 ] || { [ "${1:-0}" -eq 8 ] && [ "${2:-0}" -ge 2 ]; }; then qemu_ok=1; fi
fi

if [ ${#missing[@]} -eq 0 ] && [ $qemu_ok = 1 ]; then echo "xdplab setup: all system packages present"; exit 0; fi

export DEBIAN_FRONTEND=noninteractive
if [ $qemu_ok = 0 ] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  # Reuse the mirror this machine already uses, so no new host is introduced.
  uri=$(grep -rhs '^URIs:' /etc/apt/sources.list.d/*.sources | grep -v security | head -n1 | awk '{print $2}')
  [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list | grep -v security | head -n1 | awk '{print $2}')
  if [ -z "$uri" ]; then print_commands "no Debian mirror configured"; exit 1; fi
  echo "deb $uri bookworm-backports main" > /etc/apt/sources.list.d/bookworm-backports.list
fi
apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  echo "xdplab setup: installing ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ $qemu_ok = 0 ]; then
  echo "xdplab setup: installing QEMU from bookworm-backports"
  apt-get install -y -qq --no-install-recommends -t bookworm-backports "${BACKPORT_PACKAGES[@]}" >/dev/null
fi
echo "xdplab setup: done"
