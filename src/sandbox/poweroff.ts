/**
 * Power fencing for a sandbox (`mhats sandbox up --power-fencing`, and the
 * drill matrix's netdown case): MHA's shutdown_script contract, emulated on
 * this machine, so that an old master cut off from the network is fenced by
 * "power" as MHA advises for production (IPMI, a cloud API), not only when it
 * comes back.
 */
import type { SandboxInfo } from './types.js';

/**
 * MHA's shutdown_script for a sandbox, after MHA's sample power_manager:
 *  - `--command=status`: exit 0;
 *  - `--command=stopssh` (the manager reaches the host over SSH): SIGKILL the
 *    mysqld started with that host's options file (found by its exact
 *    --defaults-file argument, killed by PID); once it is gone, exit 10
 *    ("SSH reachable, mysqld killed": the dead master's binlog can still be
 *    saved). If it does not go, power off as below;
 *  - `--command=stop` (SSH unreachable): "power off" the host: the same kill
 *    and, on a netns host, every address but the host's own dropped (a VIP
 *    added at run time does not survive a power cycle). Exit 0: powered off.
 * Any host that is not the sandbox's: exit 1.
 */
export function poweroffScript(sb: SandboxInfo): string {
  const cases = sb.servers.map((s) => `  ${s.address}) cnf='${cmdlineRegex(s.cnf)}'; ns='${s.netns?.ns ?? ''}' ;;`).join('\n');
  return `#!/bin/sh
# written by mhats sandbox: power fencing (shutdown_script) for the sandbox in ${sb.dir}
command=stop
for a in "$@"; do case "$a" in --ip=*) ip="\${a#--ip=}" ;; --command=*) command="\${a#--command=}" ;; esac; done
case "$ip" in
${cases}
  *) echo "no sandbox host $ip" >&2; exit 1 ;;
esac
[ "$command" = status ] && exit 0
# One grep over every command line (NUL-separated arguments, one matched whole), then kill by PID. The
# pattern is a regular expression that does not match its own text, so grep never finds itself.
pids() { for f in $(grep -lzx -- "$cnf" /proc/[0-9]*/cmdline 2>/dev/null); do p="\${f%/cmdline}"; echo "\${p#/proc/}"; done; }
for p in $(pids); do kill -9 "$p" 2>/dev/null; done
if [ "$command" = stopssh ]; then
  i=0
  while [ -n "$(pids)" ] && [ $i -lt 40 ]; do sleep 0.05; i=$((i + 1)); done
  if [ -z "$(pids)" ]; then echo "mysqld of $ip killed; host up"; exit 10; fi
fi
if [ -n "$ns" ]; then
  ip -n "$ns" -o -4 addr show | while read -r _ dev _ cidr _; do
    dev="\${dev%%@*}"
    case "$cidr" in "$ip"/*) ;; *) [ "$dev" = lo ] || ip -n "$ns" addr del "$cidr" dev "$dev" ;; esac
  done
fi
echo "powered off $ip"
exit 0
`;
}

/** A basic regular expression matching exactly `--defaults-file=CNF`, whose own text it does not match (the '=' is bracketed). */
function cmdlineRegex(cnf: string): string {
  return `--defaults-file[=]${cnf.replace(/[.[\]*^$\\]/g, (c) => `\\${c}`)}`.replace(/'/g, `'\\''`);
}
