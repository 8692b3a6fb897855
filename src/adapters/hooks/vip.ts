/**
 * Built-in `vip` hook, as Pacemaker's IPaddr2 moves an address:
 *   stop  (old master's host, when reachable over SSH): ip addr del VIP dev IF
 *   start (new master's host): ip addr add VIP dev IF; gratuitous ARP (arping -U)
 *         so neighbours drop the old MAC; then a MySQL connection to the VIP
 *         must land on the new master (server_id).
 * Over ssh to each server's ssh_host/ssh_port/ssh_user, with the values as
 * positional parameters of a fixed sh script (never interpolated). When the
 * caller has persistent SSH sessions (the manager's SshPool, warmed when a
 * suspicion begins or before a switchover's write block), the script runs on
 * the host's kept remote shell: one round trip instead of an ssh process and
 * a new SSH handshake, which is most of a VIP move.
 */
import type { VipHook } from '../../config/hooks.js';
import type { ClusterConfig, ServerConfig, SshSettings } from '../../config/types.js';
import type { SshPool } from '../ssh/session.js';
import { sshOptionsFor } from '../ssh/targets.js';
import type { HookEvent } from './context.js';
import { destLabel, failure, sshScript } from './openssh.js';
import type { ScriptResult } from './run-script.js';
import type { BuiltinResult } from './types.js';
import { reachesNewMaster } from './verify.js';

/**
 * Each script tries the change first and looks at the interface only when the
 * change failed (already done, or a real error): one ip process in the
 * usual case, since the release and the acquire are inside a switchover's
 * write block (and the release ends a failover's fence).
 */
export const VIP_DEL = `dev=$1; cidr=$2; ip=$3
if ip addr del "$cidr" dev "$dev" 2>/dev/null; then echo removed
elif ip -o -4 addr show dev "$dev" | grep -Fq " inet $ip/"; then ip addr del "$cidr" dev "$dev" || exit 1; echo removed
else echo absent; fi`;

/**
 * Gratuitous ARP. Habets' arping (Debian "arping") takes -i and, with -U, still
 * sends from the interface's primary address unless -S names the VIP (then
 * neighbours keep the old MAC); iputils' arping takes -I and -s. It runs
 * detached: the first announcement leaves within milliseconds, and the script
 * does not wait the interval between announcements (arping -U waits it after
 * each, 0.2 s here, 1 s with iputils): the VIP takes traffic as soon as the
 * address is up and announced. The flavour is $5 when the caller asked the
 * host before (ARPING_FLAVOUR, off the critical path: arping --help costs
 * tens of ms on a loaded host); else it is found in the detached job.
 */
export const VIP_ADD = `dev=$1; cidr=$2; ip=$3; n=$4; f=\${5:-}
if ip addr add "$cidr" dev "$dev" 2>/dev/null; then echo added
elif ip -o -4 addr show dev "$dev" | grep -Fq " inet $ip/"; then echo present
else ip addr add "$cidr" dev "$dev" || exit 1; echo added; fi
if [ "$n" -gt 0 ]; then
  if [ -z "$f" ] && ! command -v arping >/dev/null 2>&1; then f=none; fi
  case "$f" in
    none) echo "arping not found" >&2 ;;
    habets) arping -q -U -S "$ip" -c "$n" -W 0.2 -i "$dev" "$ip" </dev/null >/dev/null 2>&1 & ;;
    iputils) arping -q -U -s "$ip" -c "$n" -I "$dev" "$ip" </dev/null >/dev/null 2>&1 & ;;
    *) (if arping --help 2>&1 | grep -q Habets; then exec arping -q -U -S "$ip" -c "$n" -W 0.2 -i "$dev" "$ip"; else exec arping -q -U -s "$ip" -c "$n" -I "$dev" "$ip"; fi) </dev/null >/dev/null 2>&1 & ;;
  esac
fi
exit 0`;

/** Which arping a host has (VIP_ADD's $5): habets, iputils or none. */
export const ARPING_FLAVOUR = `if ! command -v arping >/dev/null 2>&1; then echo none; elif arping --help 2>&1 | grep -q Habets; then echo habets; else echo iputils; fi`;

export type ArpingFlavour = 'habets' | 'iputils' | 'none';

function destOf(s: ServerConfig): { host: string; port: number; user: string } {
  return { host: s.ssh_host, port: s.ssh_port, user: s.ssh_user };
}

export function vipIp(h: VipHook): string {
  return h.address.split('/')[0] ?? h.address;
}

export interface VipOptions {
  ssh: SshSettings;
  signal?: AbortSignal | undefined;
  /** Persistent SSH sessions: the script runs on the host's kept session (same host keys, keys and ssh_options). */
  pool?: SshPool | undefined;
}

/** Runs a small sh script (values as positional parameters) on a database host: over the pool's kept session when there is one, else OpenSSH. */
async function onHost(cluster: ClusterConfig, server: ServerConfig, script: string, args: string[], timeoutMs: number, o: VipOptions): Promise<ScriptResult> {
  if (o.pool === undefined) return sshScript({ ssh: o.ssh, dest: destOf(server), dbHost: true, script, args, timeoutMs, signal: o.signal });
  const t0 = performance.now();
  const { target, options } = sshOptionsFor(cluster, server);
  try {
    const r = await o.pool.run(target, options, ['sh', '-c', script, 'mhats', ...args], { timeoutMs, signal: o.signal });
    return { exitCode: r.code, signal: null, timedOut: false, stdout: r.stdout, stderr: r.stderr, durationMs: Math.round(performance.now() - t0) };
  } catch (err) {
    const e = err as Error & { kind?: string };
    const timedOut = e.kind === 'timeout';
    return { exitCode: timedOut ? null : 255, signal: null, timedOut, stdout: '', stderr: e.message, durationMs: Math.round(performance.now() - t0) };
  }
}

/** Takes h's address off a host (the stop hook's step): removed, or it was not there. */
export async function vipRelease(h: VipHook, cluster: ClusterConfig, server: ServerConfig, timeoutMs: number, o: VipOptions): Promise<BuiltinResult & { removed?: boolean }> {
  const r = await onHost(cluster, server, VIP_DEL, [h.interface, h.address, vipIp(h)], timeoutMs, o);
  if (r.exitCode !== 0) return { ok: false, detail: `ip addr del ${h.address} dev ${h.interface} on ${destLabel(destOf(server))}: ${failure(r)}` };
  const removed = r.stdout.includes('removed');
  return { ok: true, removed, detail: removed ? `${h.address} removed from ${server.name} (${h.interface})` : `${h.address} was not on ${server.name}` };
}

/** Asks a host which arping it has (before a switchover's write block); undefined when it could not say. */
export async function vipArpingFlavour(cluster: ClusterConfig, server: ServerConfig, timeoutMs: number, o: VipOptions): Promise<ArpingFlavour | undefined> {
  const r = await onHost(cluster, server, ARPING_FLAVOUR, [], timeoutMs, o);
  const f = r.stdout.trim();
  return r.exitCode === 0 && (f === 'habets' || f === 'iputils' || f === 'none') ? f : undefined;
}

/**
 * Puts h's address on a host and starts the gratuitous ARP (detached); no check through it (vipVerify).
 * arping: the host's flavour when known (vipArpingFlavour), so the announcement leaves at once.
 */
export async function vipAcquire(h: VipHook, cluster: ClusterConfig, server: ServerConfig, timeoutMs: number, o: VipOptions, arping?: ArpingFlavour): Promise<BuiltinResult> {
  const r = await onHost(cluster, server, VIP_ADD, [h.interface, h.address, vipIp(h), String(h.arping_count), ...(arping ? [arping] : [])], timeoutMs, o);
  if (r.exitCode !== 0) return { ok: false, detail: `ip addr add ${h.address} dev ${h.interface} on ${destLabel(destOf(server))}: ${failure(r)}` };
  const arp = r.stderr.match(/arping not found/)?.[0];
  return { ok: true, detail: `${h.address} ${r.stdout.includes('present') ? 'already on' : 'added on'} ${server.name} (${h.interface})${h.arping_count > 0 ? `, gratuitous ARP x${h.arping_count}${arp ? ` NOT sent (${arp}: neighbours keep the old MAC until their ARP entries expire)` : ' (sent in the background)'}` : ''}` };
}

/** A MySQL connection through h's address lands on `server` (server_id); undefined when it does, else why not. */
export function vipVerify(h: VipHook, server: ServerConfig, timeoutMs: number): Promise<string | undefined> {
  return reachesNewMaster(vipIp(h), server.port, server, timeoutMs);
}

export async function runVip(h: VipHook, ev: HookEvent, o: VipOptions): Promise<BuiltinResult> {
  const end = performance.now() + h.timeout * 1000;
  const left = (): number => Math.max(1, Math.round(end - performance.now()));
  if (ev.phase === 'stop' || ev.phase === 'online_change_stop') {
    const om = ev.origMaster;
    if (ev.origSshReachable === false) return { ok: true, detail: `${om.name}'s host is not reachable over SSH: ${h.address} not removed there (only fencing can guarantee it is gone)` };
    const r = await vipRelease(h, ev.cluster, om, left(), o);
    return { ok: r.ok, detail: r.detail };
  }
  const nm = ev.newMaster;
  if (nm === undefined) return { ok: true, detail: 'no new master in this phase: nothing to do' };
  const r = await vipAcquire(h, ev.cluster, nm, left(), o);
  if (!r.ok) return r;
  if (!h.verify) return { ok: true, detail: `${r.detail}; not verified` };
  const bad = await vipVerify(h, nm, left());
  if (bad !== undefined) return { ok: false, detail: `${r.detail}; but ${bad}` };
  return { ok: true, detail: `${r.detail}; ${vipIp(h)}:${nm.port} answers from ${nm.name}` };
}

export function describeVip(h: VipHook, ev: HookEvent): string[] {
  if (ev.phase === 'stop' || ev.phase === 'online_change_stop') {
    return [`ssh ${destLabel(destOf(ev.origMaster))} (${ev.origMaster.name}, if reachable): ip addr del ${h.address} dev ${h.interface}`];
  }
  const nm = ev.newMaster;
  if (nm === undefined) return ['nothing (no new master in this phase)'];
  return [
    `ssh ${destLabel(destOf(nm))} (${nm.name}): ip addr add ${h.address} dev ${h.interface}${h.arping_count > 0 ? `; arping -U -S ${vipIp(h)} -c ${h.arping_count} ${vipIp(h)}` : ''}`,
    ...(h.verify ? [`verify: MySQL ${vipIp(h)}:${nm.port} reaches ${nm.name} (server_id)`] : []),
  ];
}

export interface VipRelease {
  hook: string;
  address: string;
  /** removed: it was there and is gone; absent: it was not there; failed: SSH or ip failed (detail). */
  outcome: 'removed' | 'absent' | 'failed';
  detail: string;
}

/**
 * Reconcile: the addresses of the built-in vip hooks taken off a failed old
 * master's host that came back (a restart, a healed network: the failover's
 * stop hook could not reach it, or the host kept its run-time addresses).
 * The same script as the stop hook; the caller makes sure the host is not
 * the current master's.
 */
export async function releaseVips(hooks: readonly VipHook[], cluster: ClusterConfig, server: ServerConfig, o: VipOptions & { timeoutMs: number }): Promise<VipRelease[]> {
  return Promise.all(
    hooks.map(async (h): Promise<VipRelease> => {
      const r = await onHost(cluster, server, VIP_DEL, [h.interface, h.address, vipIp(h)], o.timeoutMs, o);
      if (r.exitCode !== 0) return { hook: h.name, address: h.address, outcome: 'failed', detail: `ip addr del ${h.address} dev ${h.interface} on ${destLabel(destOf(server))}: ${failure(r)}` };
      return r.stdout.includes('removed') ? { hook: h.name, address: h.address, outcome: 'removed', detail: `${h.address} removed from ${server.name} (${h.interface})` } : { hook: h.name, address: h.address, outcome: 'absent', detail: `${h.address} was not on ${server.name}` };
    }),
  );
}
