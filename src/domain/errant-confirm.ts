/**
 * Errant GTIDs are confirmed before they count. The servers of a cluster are
 * read in parallel, a few milliseconds apart: under writes a replica read
 * after the master can hold transactions the master's (earlier) snapshot
 * lacks, and look "ahead" of its master. The master's GTID state only grows,
 * so reading it again after every replica has been read removes that race:
 * what a replica holds and the master's later state still lacks is errant.
 *
 * Pure: the caller reads the master again and passes its GTID state in.
 */
import type { TopologyAnalysis } from './topology.js';
import type { GtidState, ServerProbe } from './types.js';

/** The master whose GTID state must be read again: the analysis reports errant transactions against it. */
export function errantToConfirm(a: TopologyAnalysis): string | undefined {
  if (a.masterObs === undefined) return undefined;
  return a.findings.some((f) => f.code === 'errant_gtid' && f.severity === 'error') ? a.masterObs.name : undefined;
}

/** The probes with the master's GTID state replaced by a later read (whether GTID is in use stays as observed). */
export function withMasterGtid(probes: ServerProbe[], master: string, later: GtidState): ServerProbe[] {
  return probes.map((p) => (p.ok && p.obs.name === master ? { ok: true, obs: { ...p.obs, gtid: { ...later, enabled: p.obs.gtid.enabled } } } : p));
}
