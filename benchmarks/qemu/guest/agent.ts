// The guest agent: a busybox sh script on the virtio-serial port named AGENT_PORT_NAME. Same
// editing rule as init.ts: no backticks, no dollar-brace sequences.
//
// Protocol: one request per line from the host, one JSON reply per line from the guest, matched
// by a numeric id (replies of concurrent commands may come in any order):
//   ping ID                                      -> {"id":ID,"pong":true,"kernel":"6.1.0-56-amd64"}
//   exec ID TIMEOUT_S SCRIPT_B64 [STDIN_B64]     -> {"id":ID,"exitCode":N,"timedOut":false,
//                                                    "stdout":"<base64>","stderr":"<base64>"}
//   nic ID IFNAME                                -> {"id":ID,"nic":"<IFNAME's /proc/net/dev line>",
//                                                    "uptime":"<the /proc/uptime line>"}
// `nic` is answered in the agent's own loop with shell builtins only: no fork, so the live
// samples keep their rate when iperf3 saturates a TCG guest's one vCPU (an exec forks ~8 times).
// SCRIPT_B64 is a /bin/sh script (the host quotes argv into `exec 'cmd' 'arg'...`); it runs in a
// session of its own, so that a timeout kills everything it started (exit code 137, timedOut
// true). Each exec runs in the background: a long command does not hold up the others.
//
// The guest kernel discards what the host sends while no guest process has the port open, and
// reads return EOF while no host is connected: so the host repeats `ping` until answered, and
// the agent waits for a host in a loop. Writes block while no host is connected.

export const AGENT_PORT_NAME = 'org.xdplab.agent';

export const AGENT_SCRIPT = String.raw`#!/bin/sh
# xdplab guest agent (see benchmarks/qemu/guest/agent.ts in xdplab for the protocol).
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
NAME=@PORT_NAME@
port=
for p in /sys/class/virtio-ports/*; do
  [ "$(cat "$p/name" 2>/dev/null)" = "$NAME" ] && port=/dev/$(basename "$p")
done
if [ -z "$port" ]; then
  echo "xdplab-agent: no virtio-serial port named $NAME (is -device virtserialport,name=$NAME there?)"
  sleep 10
  exit 1
fi
exec 3<>"$port" || { echo "xdplab-agent: cannot open $port"; sleep 10; exit 1; }
mkdir -p /run/xa
rmdir /run/xa/lock 2>/dev/null

# One writer at a time, so that two replies never interleave (busybox has no flock).
reply() {
  until mkdir /run/xa/lock 2>/dev/null; do usleep 5000; done
  printf '%s\n' "$1" >&3
  rmdir /run/xa/lock
}

run() {
  id=$1
  d=/run/xa/$id
  mkdir -p "$d"
  echo "$3" | base64 -d > "$d/cmd"
  if [ -n "$4" ]; then echo "$4" | base64 -d > "$d/in"; else : > "$d/in"; fi
  cd /root
  setsid sh "$d/cmd" < "$d/in" > "$d/out" 2> "$d/err" &
  pid=$!
  cd /
  (
    trap 'kill $s 2>/dev/null; exit 0' TERM
    sleep "$2" & s=$!
    wait $s && { : > "$d/timedout"; kill -9 -$pid 2>/dev/null || kill -9 $pid 2>/dev/null; }
  ) &
  watchdog=$!
  wait $pid
  rc=$?
  kill $watchdog 2>/dev/null
  timedout=false
  [ -e "$d/timedout" ] && timedout=true
  reply "{\"id\":$id,\"exitCode\":$rc,\"timedOut\":$timedout,\"stdout\":\"$(base64 -w 0 "$d/out")\",\"stderr\":\"$(base64 -w 0 "$d/err")\"}"
  rm -rf "$d"
}

kernel=$(uname -r)
while :; do
  while read -r op id a b c <&3; do
    case "$op" in
      ping) reply "{\"id\":$id,\"pong\":true,\"kernel\":\"$kernel\"}" ;;
      exec) run "$id" "$a" "$b" "$c" & ;;
      nic)
        line=
        while IFS= read -r l; do
          case "$l" in "$a:"*|*" $a:"*) line=$l ;; esac
        done < /proc/net/dev
        IFS= read -r up < /proc/uptime
        reply "{\"id\":$id,\"nic\":\"$line\",\"uptime\":\"$up\"}" ;;
      '') ;;
      *) reply "{\"id\":0,\"error\":\"unknown request\"}" ;;
    esac
  done
  # EOF: no host connected to the port yet (or it went away); look again shortly.
  usleep 50000
done
`.replace('@PORT_NAME@', AGENT_PORT_NAME);
