#!/bin/sh
# mhats command hook: point HAProxy's MySQL backend at the new master through
# the runtime API (admin socket, `level admin`), on this host or on the load
# balancer over ssh. The built-in `haproxy` hook does the same and verifies a
# connection through HAProxy; this script is the small version to adapt.
#
#   - name: lb
#     type: command
#     phases: [start, online_change_start]
#     timeout: 20
#     command: [/usr/local/lib/mhats/hooks/haproxy-runtime.sh, /run/haproxy/admin.sock, mysql]
#
# HAProxy server names must be the mhats server names (MHATS_NEW_MASTER_NAME).
# Set LB_HOST=lb1.staging.example to reach the socket over ssh (socat there).
set -u
sock=$1 backend=$2
new=${MHATS_NEW_MASTER_NAME:?run me as an mhats hook}
api() {
  if [ -n "${LB_HOST:-}" ]; then printf '%s\n' "$1" | timeout 10 ssh -o BatchMode=yes -o ConnectTimeout=5 "$LB_HOST" socat -t 5 STDIO "UNIX-CONNECT:$sock"
  else printf '%s\n' "$1" | timeout 10 socat -t 5 STDIO "UNIX-CONNECT:$sock"; fi
}
servers=$(api "show servers state $backend" | awk -v b="$backend" '$2 == b { print $4 }') || exit 1
echo "$servers" | grep -qx "$new" || { echo "backend $backend has no server $new (servers: $servers)" >&2; exit 1; }
for s in $servers; do
  [ "$s" = "$new" ] && continue
  api "set server $backend/$s state maint" >/dev/null
  api "shutdown sessions server $backend/$s" >/dev/null
done
out=$(api "set server $backend/$new state ready")
[ -z "$(echo "$out" | tr -d '[:space:]')" ] || { echo "HAProxy: $out" >&2; exit 1; }
echo "backend $backend: only $new takes connections"
