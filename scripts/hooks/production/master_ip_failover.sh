#!/bin/sh
# An MHA master_ip_failover_script that moves a VIP (as Pacemaker's IPaddr2):
# ip addr del on the old master (when reachable over SSH), ip addr add and
# gratuitous ARP on the new one. It takes MHA's exact arguments, so it runs
# under MHA and under mhats alike:
#
#   master_ip_failover_script: /usr/local/lib/mhats/hooks/master_ip_failover.sh --vip=10.0.0.100/24 --dev=eth0
#
# Exit codes (MHA): 0 ok; 10 failed but let the failover continue; 1 abort.
# Removing the VIP from an old master that is not reachable is not an error
# (fence it with shutdown_script); failing to add it on the new master is
# exit 10 by default (the failover goes on, clients need a manual fix), or 1
# with --strict.
set -u
vip= dev=eth0 command= orig_host= new_host= ssh_user=root strict=0 orig_ssh_port=22 new_ssh_port=22 orig_ssh_host= new_ssh_host=
for a in "$@"; do
  case $a in
    --vip=*) vip=${a#*=} ;;
    --dev=*) dev=${a#*=} ;;
    --strict) strict=1 ;;
    --command=*) command=${a#*=} ;;
    --ssh_user=*) ssh_user=${a#*=} ;;
    --orig_master_host=*) orig_host=${a#*=} ;;
    --new_master_host=*) new_host=${a#*=} ;;
    --orig_master_ssh_host=*) orig_ssh_host=${a#*=} ;;
    --new_master_ssh_host=*) new_ssh_host=${a#*=} ;;
    --orig_master_ssh_port=*) orig_ssh_port=${a#*=} ;;
    --new_master_ssh_port=*) new_ssh_port=${a#*=} ;;
    *) ;; # every other MHA argument (ips, ports, users) is not needed here
  esac
done
[ -n "$vip" ] || { echo "--vip=ADDRESS/PREFIX is required" >&2; exit 1; }
ip=${vip%/*}
ssh_opts="-o BatchMode=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=yes"
run() { # host port script args...
  h=$1 p=$2; shift 2
  # shellcheck disable=SC2086
  timeout 20 ssh $ssh_opts -p "$p" -l "$ssh_user" "$h" sh -c "'$1'" mhats "$2" "$3" "$4"
}
DEL='if ip -o -4 addr show dev "$1" | grep -Fq " inet $3/"; then ip addr del "$2" dev "$1"; fi'
ADD='ip -o -4 addr show dev "$1" | grep -Fq " inet $3/" || ip addr add "$2" dev "$1" || exit 1
if arping --help 2>&1 | grep -q Habets; then arping -q -U -S "$3" -c 3 -i "$1" "$3"; else arping -q -U -s "$3" -c 3 -I "$1" "$3"; fi; exit 0'
case $command in
  status) exit 0 ;;
  stop) echo "old master $orig_host is not reachable over SSH: $vip stays there until it is fenced"; exit 0 ;;
  stopssh) run "${orig_ssh_host:-$orig_host}" "$orig_ssh_port" "$DEL" "$dev" "$vip" "$ip" && exit 0
           echo "could not remove $vip from $orig_host" >&2; exit 10 ;;
  start) run "${new_ssh_host:-$new_host}" "$new_ssh_port" "$ADD" "$dev" "$vip" "$ip" && { echo "$vip is on $new_host"; exit 0; }
         echo "could not add $vip on $new_host" >&2; [ "$strict" = 1 ] && exit 1; exit 10 ;;
  *) echo "unknown --command=$command" >&2; exit 1 ;;
esac
