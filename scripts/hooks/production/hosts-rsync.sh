#!/bin/sh
# mhats command hook (phase start): point a service name at the new master in
# every app server's /etc/hosts, pushed with rsync over ssh, in parallel, each
# with a deadline. The built-in `hosts` hook does the same; use this script
# when you need to change what it does.
#
#   - name: app-hosts
#     type: command
#     phases: [start, online_change_start]
#     timeout: 60
#     command: [/usr/local/lib/mhats/hooks/hosts-rsync.sh, db-master.prod.example, app1.prod.example, app2.prod.example]
#
# Context: MHATS_NEW_MASTER_IP (and the JSON in MHATS_CONTEXT_FILE).
# Options (environment): HOSTS_PATH (/etc/hosts), HOSTS_INPLACE=1 (rsync
# --inplace: needed for a bind-mounted file, e.g. `ip netns exec` or a
# container), SSH_OPTS, HOST_TIMEOUT (seconds per app server, 20).
# Exit 0 when every app server was updated and verified, 1 otherwise.
set -u
name=$1; shift
addr=${MHATS_NEW_MASTER_IP:?MHATS_NEW_MASTER_IP is not set: run me as an mhats hook}
path=${HOSTS_PATH:-/etc/hosts}
per=${HOST_TIMEOUT:-20}
ssh_opts=${SSH_OPTS:-"-o BatchMode=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=yes"}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
inplace=
[ "${HOSTS_INPLACE:-0}" = 1 ] && inplace=--inplace

push() { # $1 = app server
  h=$1
  # shellcheck disable=SC2086
  timeout "$per" ssh $ssh_opts "$h" cat "$path" > "$tmp/$h.old" || { echo "$h: cannot read $path"; return 1; }
  awk -v n="$name" '{ keep=""; for (i = 2; i <= NF; i++) if ($i != n) keep = keep " " $i; if ($0 ~ /^[ \t]*#/ || NF < 2) print; else if (keep != "") print $1 keep }' "$tmp/$h.old" > "$tmp/$h"
  printf '%s\t%s\t# mhats: %s\n' "$addr" "$name" "${MHATS_CLUSTER:-}" >> "$tmp/$h"
  timeout "$per" rsync -I $inplace --timeout="$per" -e "ssh $ssh_opts" -- "$tmp/$h" "$h:$path" || { echo "$h: rsync failed"; return 1; }
  # shellcheck disable=SC2086
  got=$(timeout "$per" ssh $ssh_opts "$h" getent hosts "$name" | awk '{print $1; exit}')
  [ "$got" = "$addr" ] || { echo "$h: $name resolves to '${got}', not $addr"; return 1; }
  echo "$h: $name -> $addr"
}

pids=
for h in "$@"; do push "$h" > "$tmp/$h.result" 2>&1 & pids="$pids $!"; done
rc=0
for p in $pids; do wait "$p" || rc=1; done
cat "$tmp"/*.result
exit $rc
