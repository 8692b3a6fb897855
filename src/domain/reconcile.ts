/**
 * The journal reconciled with what is observed (pure): what to do about each
 * server the journal records as a failed old master.
 *
 *   fence   another server is the cluster's writable master, or the replicas
 *           follow another server: the failed one must never take writes
 *           (read_only, connections killed) when it answers
 *   rejoin  it replicates, healthy, from a server that is not failed: a
 *           replica again
 *   adopt   the cluster was rebuilt around it (replicas follow it, no other
 *           server is the writable master): a member again, with a clear log
 *           line and in /status. A stale journal must never take down the only
 *           master of a cluster an operator rebuilt.
 *   leave   not observed (down), or nothing follows anybody: nothing to do now
 *
 * Addresses are resolved against every configured server, failed ones
 * included, so a message names the server an address belongs to.
 */
import { resolveSource, type ServerSpec } from './topology.js';
import type { ServerObservation, ServerProbe } from './types.js';

export type ReconcileAction = 'fence' | 'rejoin' | 'adopt' | 'leave';

export interface Reconciled {
  server: string;
  action: ReconcileAction;
  reason: string;
  /** fence: it answers and is writable now (fencing must act at once). */
  writable?: boolean | undefined;
}

/** The server a replica's Master_Host:Master_Port names, if configured. */
function sourceOf(specs: readonly ServerSpec[], observed: Map<string, ServerObservation>, o: ServerObservation): string | undefined {
  const r = o.replica;
  if (r === undefined || r.sourceHost === '') return undefined;
  return resolveSource(specs as ServerSpec[], observed, r.sourceHost, r.sourcePort)?.name;
}

/** Its IO thread runs (or tries to connect): it follows its source now. A stopped IO thread follows nobody. */
function replicating(o: ServerObservation): boolean {
  const r = o.replica;
  return r !== undefined && r.sourceHost !== '' && r.ioRunning !== 'No';
}

export function reconcileFailed(failed: readonly string[], specs: readonly ServerSpec[], probes: readonly ServerProbe[]): Reconciled[] {
  const observed = new Map<string, ServerObservation>();
  for (const p of probes) if (p.ok) observed.set(p.obs.name, p.obs);
  const failedSet = new Set(failed);
  return failed.map((name): Reconciled => {
    const f = observed.get(name);
    if (f === undefined) return { server: name, action: 'leave', reason: `${name} does not answer: it is fenced if it comes back while the cluster has moved on` };
    const others = [...observed.values()].filter((o) => o.name !== name && !failedSet.has(o.name));
    // Who follows whom now (replication running, or trying to).
    const followersOf = (server: string): string[] => others.filter((o) => replicating(o) && sourceOf(specs, observed, o) === server).map((o) => o.name);
    const followF = followersOf(name);
    // Writable servers that follow nobody: masters. A promoted master may keep a stopped replica config.
    const masters = others.filter((o) => !o.readOnly && !replicating(o));
    const followOther = others.filter((o) => replicating(o) && sourceOf(specs, observed, o) !== name && sourceOf(specs, observed, o) !== undefined).map((o) => o.name);
    if (masters.length > 0) {
      const followed = masters.filter((m) => followersOf(m.name).length > 0);
      if (followF.length > 0 && followed.length === 0) {
        return { server: name, action: 'leave', reason: `${followF.join(', ')} follow ${name}, but ${masters.map((m) => m.name).join(', ')} ${masters.length > 1 ? 'are' : 'is'} writable too: two writable masters; not fencing either automatically (mhats check-repl)` };
      }
      return { server: name, action: 'fence', reason: `${(followed[0] ?? masters[0])!.name} is the cluster's writable master`, writable: !f.readOnly };
    }
    if (followOther.length > followF.length) return { server: name, action: 'fence', reason: `the replicas (${followOther.join(', ')}) follow another server`, writable: !f.readOnly };
    const src = sourceOf(specs, observed, f);
    const rs = f.replica;
    if (src !== undefined && !failedSet.has(src) && rs?.ioRunning === 'Yes' && rs.sqlRunning) return { server: name, action: 'rejoin', reason: `${name} replicates from ${src} again` };
    if (followF.length > 0) {
      return {
        server: name,
        action: 'adopt',
        reason: `the cluster was rebuilt around ${name}: ${followF.join(', ')} replicate from it and no other server is the writable master${f.readOnly ? ` (${name} is read_only)` : ''}`,
      };
    }
    return { server: name, action: 'leave', reason: `nothing replicates from ${name} or from another master` };
  });
}
