/**
 * Does a server's host answer SSH? Asked over the manager's kept SSH sessions
 * (SshPool.reachable): when a suspicion of the master begins, and again by
 * the failover, which reuses that answer (or the probe still running) instead
 * of opening a new SSH connection and waiting out its ConnectTimeout.
 *
 * Deadline: on a kept remote shell a probe is one round trip, so it gets the
 * second route's deadline (second_route_timeout, at least 1 s, at most the SSH
 * connect_timeout), the same bound the detector already trusts for "no answer
 * from that host"; without a kept shell it is a new session, within the SSH
 * connect_timeout plus a second for the command, as before.
 */
import type { ClusterConfig, ServerConfig } from '../../config/types.js';
import { detectionSettings } from '../../config/resolve.js';
import type { SshPool, SshReach } from '../../adapters/ssh/session.js';
import { sshOptionsFor } from '../../adapters/ssh/targets.js';

/** A failover reuses a probe started at most this long ago (a suspicion at ping_interval 1 lasts 1–3 s). */
export const SSH_PROBE_REUSE_MS = 5000;

/** The probe's deadline (pure): one round trip on a kept shell, else a new session. */
export function sshProbeTimeoutMs(connectTimeoutS: number, secondRouteTimeoutS: number, keptShell: boolean): number {
  const connectMs = Math.max(1, Math.round(connectTimeoutS * 1000));
  if (!keptShell) return connectMs + 1000;
  return Math.min(connectMs, Math.max(1000, Math.round(secondRouteTimeoutS * 1000)));
}

/** Starts (or joins) a probe of server's host over the pool. */
export function probeSsh(pool: SshPool, cluster: ClusterConfig, server: ServerConfig, maxAgeMs = SSH_PROBE_REUSE_MS): Promise<SshReach> {
  const { target, options } = sshOptionsFor(cluster, server);
  const timeoutMs = sshProbeTimeoutMs(options.connectTimeoutMs / 1000, detectionSettings(cluster).second_route_timeout, pool.hasShell(target));
  return pool.reachable(target, options, { timeoutMs, maxAgeMs });
}

/**
 * A quick probe's "no" is final only when the master's host itself may be gone: the failover's
 * verdict rested on timeouts (a host off the network). When the host answered the manager (its port
 * refused, a statement stalled) or no verdict is known (a manual failover), a host too loaded to answer
 * one round trip within the quick deadline is still up, and the dead master's binlog may hold
 * acknowledged transactions no replica received: ask again with a new session and the full SSH
 * connect_timeout before giving the salvage up.
 */
export function recheckSshAfterNo(verdict: { basis?: string | undefined; failure?: string | undefined } | undefined): boolean {
  if (verdict === undefined) return true;
  return verdict.basis === 'refused' || verdict.basis === 'stalled' || verdict.failure === 'refused';
}
