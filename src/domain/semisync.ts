/**
 * Semi-synchronous replication in check-repl, pure:
 *  - the semi-sync state of every server, in one line each;
 *  - the trap: rpl_semi_sync_master_enabled=ON on a replica with
 *    rpl_semi_sync_master_wait_no_slave=ON. The replica logs what its SQL
 *    thread applies (log_slave_updates), has no semi-sync replica of its own,
 *    and so waits rpl_semi_sync_master_timeout for an acknowledgement on
 *    every commit: its SQL thread stalls and the lag grows;
 *  - AFTER_COMMIT instead of AFTER_SYNC on the master (an acknowledged write
 *    can be seen, and lost, before any replica has it);
 *  - after a failover that lost writes with asynchronous replication, what
 *    semi-sync (AFTER_SYNC) would have changed, and how to enable it.
 */
import type { Finding } from './topology.js';
import type { Flavor, SemiSyncState, ServerObservation } from './types.js';

/** "source ON (AFTER_SYNC, wait_no_slave OFF, timeout 10000 ms), active, 2 client(s); replica ON" */
export function describeSemiSync(s: SemiSyncState, role: 'master' | 'replica'): string {
  const src = s.sourceEnabled
    ? `source ON (${[s.waitPoint, s.waitNoReplica === undefined ? undefined : `wait_no_slave ${s.waitNoReplica ? 'ON' : 'OFF'}`, s.timeoutMs === undefined ? undefined : `timeout ${s.timeoutMs} ms`].filter(Boolean).join(', ') || 'settings unknown'})${role === 'master' ? `, ${s.sourceActive ? 'active' : 'NOT active (asynchronous now)'}, ${s.sourceClients} semi-sync client(s)` : ''}`
    : 'source OFF';
  return `semi-sync ${src}; replica ${s.replicaEnabled ? 'ON' : 'OFF'}`;
}

/** How to turn semi-sync on, lossless (AFTER_SYNC), for this flavour. */
export function enableSemiSyncHowTo(flavor: Flavor): string {
  if (flavor === 'mariadb') {
    return 'on every server (and in my.cnf): SET GLOBAL rpl_semi_sync_master_enabled=ON, rpl_semi_sync_slave_enabled=ON, rpl_semi_sync_master_wait_point=AFTER_SYNC, rpl_semi_sync_master_wait_no_slave=OFF; then on each replica STOP SLAVE IO_THREAD; START SLAVE IO_THREAD (MariaDB ≥ 10.3.3 has it built in)';
  }
  return "on every server (and in my.cnf): INSTALL PLUGIN rpl_semi_sync_source SONAME 'semisync_source.so' and rpl_semi_sync_replica SONAME 'semisync_replica.so' (MySQL < 8.0.26: semisync_master / semisync_slave), SET GLOBAL rpl_semi_sync_source_enabled=ON, rpl_semi_sync_replica_enabled=ON, rpl_semi_sync_source_wait_point=AFTER_SYNC, rpl_semi_sync_source_wait_no_replica=OFF; then restart each replica's IO thread";
}

/** Per-server semi-sync findings (the master's own active/not-active findings are the topology's). */
export function semiSyncFindings(master: ServerObservation | undefined, replicas: readonly ServerObservation[]): Finding[] {
  const out: Finding[] = [];
  if (master) {
    out.push({ severity: 'info', code: 'semi_sync', server: master.name, message: describeSemiSync(master.semiSync, 'master') });
    if (master.semiSync.sourceEnabled && master.semiSync.waitPoint === 'AFTER_COMMIT') {
      out.push({ severity: 'warning', code: 'semi_sync', server: master.name, message: 'semi-sync waits AFTER_COMMIT: a write is visible to others, and can be lost in a crash, before any replica has it', hint: 'SET GLOBAL rpl_semi_sync_master_wait_point=AFTER_SYNC (lossless; the default on MySQL 5.7+ and MariaDB 10.3.3+)' });
    }
  }
  for (const r of replicas) {
    out.push({ severity: 'info', code: 'semi_sync', server: r.name, message: describeSemiSync(r.semiSync, 'replica') });
    const s = r.semiSync;
    if (s.sourceEnabled && s.waitNoReplica !== false && r.logBin && r.logSlaveUpdates) {
      out.push({
        severity: 'warning',
        code: 'semi_sync',
        server: r.name,
        message: `rpl_semi_sync_master_enabled=ON on this replica with rpl_semi_sync_master_wait_no_slave=${s.waitNoReplica === undefined ? 'ON (default)' : 'ON'}: with no semi-sync replica of its own, every transaction its SQL thread commits (log_slave_updates) waits ${s.timeoutMs ?? 10000} ms for an acknowledgement: replication stalls`,
        hint: 'SET GLOBAL rpl_semi_sync_master_wait_no_slave=OFF on the replicas (and in my.cnf), which keeps semi-sync ready for when one is promoted; or enable the master side only on the master',
      });
    }
  }
  return out;
}

/**
 * After a failover that lost transactions with asynchronous replication: what semi-sync would
 * have done. `lost` is the failover's lost-transaction text ("none ...", "N transaction(s): ...").
 */
export function lostWritesAdvice(last: { id: string; lost?: string | undefined; at: string } | undefined, master: ServerObservation | undefined): Finding | undefined {
  if (!last?.lost || /^none\b/.test(last.lost)) return undefined;
  if (master?.semiSync.sourceEnabled && master.semiSync.sourceActive && master.semiSync.waitPoint !== 'AFTER_COMMIT') return undefined;
  const flavor: Flavor = master?.version.flavor ?? 'mariadb';
  return {
    severity: 'warning',
    code: 'semi_sync',
    server: master?.name,
    message: `the last failover (${last.id}, ${last.at}) lost transactions with asynchronous replication: ${last.lost}. Semi-synchronous replication with AFTER_SYNC would have prevented it: the master acknowledges a commit only once a replica has it in its relay log, so the failover would have found every acknowledged write on a replica`,
    hint: enableSemiSyncHowTo(flavor),
  };
}
