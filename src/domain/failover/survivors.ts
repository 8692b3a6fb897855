/**
 * Who takes part in a failover (pure): the observed servers in, the survivors
 * (the dead master's replicas that will be recovered) and every other server
 * with a coded exclusion out.
 *
 * Exclusion codes (stable: the console, the drill and the journal read them):
 *   unreachable        no answer over SQL
 *   wrong_source       replicates from another server, or from nobody
 *   sql_thread_broken  its SQL thread stopped on an error
 *   failed_old_master  the old master of an earlier failover, not back as a replica
 *   in_maintenance     an operator put it in maintenance: recovered when healthy, never a
 *                      candidate; left alone (not blocking) when down, elsewhere, broken or stopped
 *   errant_gtid        it holds transactions that came from neither the dead master nor the others
 *   mixed_mode         it replicates by GTID while the others use positions, or the reverse
 *   delayed            a delayed replica (SQL_Delay > 0): a survivor, but never a candidate
 *                      unless configured to be, and never waited for
 *
 * `blocking` exclusions stop the failover (refused, nothing changed): a
 * server that should take part but cannot, unless ignore_fail is set for it
 * or it is in maintenance. failed_old_master and in_maintenance never block;
 * errant_gtid and mixed_mode always do; delayed (and a healthy server in
 * maintenance) is not an exclusion from the failover (the replica is
 * recovered), only from candidacy, and is listed for that.
 */
import { errantAmongSurvivors } from '../failover-checks.js';
import { replicationMode, resolveSource, type ServerSpec } from '../topology.js';
import type { Flavor, GtidState, ServerObservation, ServerProbe } from '../types.js';

export type ExclusionCode = 'unreachable' | 'wrong_source' | 'sql_thread_broken' | 'failed_old_master' | 'in_maintenance' | 'errant_gtid' | 'mixed_mode' | 'delayed';

export interface Exclusion {
  server: string;
  code: ExclusionCode;
  reason: string;
  /** The failover cannot go on while this holds (refused). */
  blocking: boolean;
  /** 'failover': left out entirely; 'candidate': recovered as a replica, never promoted. */
  scope: 'failover' | 'candidate';
  /** errant_gtid: the errant transactions. */
  errant?: string | undefined;
}

export interface Survivor {
  name: string;
  obs: ServerObservation;
  /** SQL_Delay in seconds (0: not delayed). */
  delay: number;
}

export interface ClassifyInput {
  /** Every configured server, in config order. */
  servers: readonly ServerSpec[];
  deadMaster: string;
  /** Probes of the servers to consider (the dead master's may be among them: it is ignored). */
  probes: readonly ServerProbe[];
  /** Old masters of earlier failovers that are not back (the journal, reconciled with what is observed). */
  failed?: ReadonlySet<string> | undefined;
  /** Servers an operator put in maintenance: never candidates; their absence or breakage never blocks. */
  maintenance?: readonly string[] | undefined;
  /** The dead master as last observed alive (errant-GTID check). */
  lastMaster?: { serverId: number; serverUuid?: string | undefined; gtid?: GtidState | undefined } | undefined;
}

export interface Classification {
  /** The dead master's replicas that take part, in config order. */
  survivors: Survivor[];
  exclusions: Exclusion[];
  /** The exclusions that stop the failover. */
  blocking: Exclusion[];
  mode: 'gtid' | 'position' | undefined;
  flavor: Flavor | undefined;
}

/** Why the blocking exclusions stop the failover, in one sentence per kind. */
export function blockingReason(blocking: readonly Exclusion[]): string {
  const errant = blocking.filter((e) => e.code === 'errant_gtid');
  const parts = blocking.filter((e) => e.code !== 'errant_gtid').map((e) => `${e.server}: ${e.reason}`);
  if (errant.length > 0) parts.push(`errant GTID transactions: ${errant.map((e) => `${e.server}: ${e.errant ?? '?'}`).join('; ')}. Inspect them and repair by hand before failing over`);
  return parts.join('; ');
}

export function classifySurvivors(input: ClassifyInput): Classification {
  const { servers, deadMaster } = input;
  const exclusions: Exclusion[] = [];
  const exclude = (server: ServerSpec, code: ExclusionCode, reason: string, blocks: boolean): void => {
    exclusions.push({ server: server.name, code, reason, blocking: blocks, scope: 'failover' });
  };
  const observed = new Map<string, ServerObservation>();
  for (const p of input.probes) if (p.ok) observed.set(p.obs.name, p.obs);
  const probeOf = new Map(input.probes.map((p) => [p.ok ? p.obs.name : p.failure.name, p]));
  const candidates: Survivor[] = [];

  for (const s of servers) {
    if (s.name === deadMaster) continue;
    if (input.failed?.has(s.name)) {
      exclude(s, 'failed_old_master', 'old master of an earlier failover, not back as a replica', false);
      continue;
    }
    const maint = input.maintenance?.includes(s.name) ?? false;
    const p = probeOf.get(s.name);
    if (p === undefined) {
      if (maint) exclude(s, 'in_maintenance', 'in maintenance and not observed: left alone', false);
      continue; // not probed: not part of this failover
    }
    const skip = s.ignore_fail ? '; ignore_fail is set: failing over without it' : '';
    if (!p.ok) {
      if (maint) exclude(s, 'in_maintenance', `in maintenance and unreachable (${p.failure.message}): failing over without it`, false);
      else exclude(s, 'unreachable', `unreachable (${p.failure.message})${skip || '; set ignore_fail=1 for it to fail over without it'}`, !s.ignore_fail);
      continue;
    }
    const r = p.obs.replica;
    // Resolved against every configured server (failed ones too): an address is named by its server.
    const src = r && r.sourceHost !== '' ? resolveSource(servers as ServerSpec[], observed, r.sourceHost, r.sourcePort) : undefined;
    if (maint && (src?.name !== deadMaster || !r!.sqlRunning)) {
      exclude(s, 'in_maintenance', `in maintenance and ${src?.name !== deadMaster ? `not replicating from ${deadMaster}` : 'its SQL thread is stopped'}: left alone (repoint it when the maintenance is over)`, false);
      continue;
    }
    if (src?.name !== deadMaster) {
      const where = r && r.sourceHost !== '' ? (src ? `${src.name} (${r.sourceHost}:${r.sourcePort})` : `${r.sourceHost}:${r.sourcePort}, which is not in the config`) : 'nobody';
      exclude(s, 'wrong_source', `replicates from ${where}, not from ${deadMaster}${s.ignore_fail ? '; ignore_fail is set: leaving it alone' : ''}`, !s.ignore_fail);
      continue;
    }
    if (!r!.sqlRunning && r!.lastSqlErrno !== 0) {
      exclude(s, 'sql_thread_broken', `its SQL thread is broken: error ${r!.lastSqlErrno}: ${r!.lastSqlError}${s.ignore_fail ? '; ignore_fail is set: leaving it out' : ''}`, !s.ignore_fail);
      continue;
    }
    candidates.push({ name: s.name, obs: p.obs, delay: r!.sqlDelay > 0 ? r!.sqlDelay : 0 });
  }

  // One replication mode: the majority's; the others are excluded (blocking unless ignore_fail).
  let survivors = candidates;
  let mode: 'gtid' | 'position' | undefined;
  const m = replicationMode(candidates.map((c) => c.obs), undefined);
  if (m === 'gtid' || m === 'position') mode = m;
  else if (m === 'mixed') {
    const gtid = candidates.filter((c) => c.obs.replica!.gtidAutoPosition);
    mode = gtid.length * 2 >= candidates.length ? 'gtid' : 'position';
    const odd = candidates.filter((c) => c.obs.replica!.gtidAutoPosition !== (mode === 'gtid'));
    for (const c of odd) {
      const spec = servers.find((x) => x.name === c.name)!;
      exclude(spec, 'mixed_mode', `replicates by ${mode === 'gtid' ? 'binlog position' : 'GTID'} while ${candidates.filter((x) => !odd.includes(x)).map((x) => x.name).join(', ')} replicate by ${mode === 'gtid' ? 'GTID' : 'binlog position'}: use one mode everywhere (mhats check-repl)`, !spec.ignore_fail);
    }
    survivors = candidates.filter((c) => !odd.includes(c));
  }
  const flavor = survivors[0]?.obs.version.flavor;

  // Errant transactions: judged against the other survivors and the dead master as last seen.
  if (flavor !== undefined) {
    const errant = errantAmongSurvivors(
      flavor,
      survivors.map((o) => ({ name: o.name, serverId: o.obs.serverId, serverUuid: o.obs.serverUuid, gtid: o.obs.gtid })),
      { serverId: input.lastMaster?.serverId ?? -1, serverUuid: input.lastMaster?.serverUuid, lastGtid: input.lastMaster?.gtid },
    );
    for (const e of errant) {
      exclusions.push({ server: e.name, code: 'errant_gtid', reason: `errant GTID transactions: ${e.errant}. Inspect them and repair by hand before failing over`, blocking: true, scope: 'failover', errant: e.errant });
    }
    const bad = new Set(errant.map((e) => e.name));
    survivors = survivors.filter((s) => !bad.has(s.name));
  }
  for (const s of survivors) {
    if (input.maintenance?.includes(s.name)) exclusions.push({ server: s.name, code: 'in_maintenance', reason: 'in maintenance: recovered as a replica, never promoted', blocking: false, scope: 'candidate' });
    if (s.delay > 0) exclusions.push({ server: s.name, code: 'delayed', reason: `delayed replica (MASTER_DELAY=${s.delay} s): recovered after the new master is writable, never waited for`, blocking: false, scope: 'candidate' });
  }
  return { survivors, exclusions, blocking: exclusions.filter((e) => e.blocking), mode, flavor };
}
