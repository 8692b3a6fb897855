/**
 * A cluster that changes owner (etcd sharding) while its master dies. Pure:
 * the previous owner's last view and the new owner's first inspection in,
 * the decision out; no I/O, no clock (times are passed in).
 *
 * A manager that starts and finds the master already dead does not fail it
 * over (as MHA refuses to start on a dead master): it cannot know what
 * happened before it looked (an operator stopping the master on purpose, a
 * failover done by hand, a wrong configuration). A new OWNER is not in that
 * position when the previous owner watched the cluster until a moment ago:
 * its last view counts. Each owner records what it sees of its cluster
 * (`OwnerView`: the master, and whether its last health check succeeded)
 * in etcd when that changes, on a lease it renews while its monitor loops
 * make progress; the record outlives its writer by a bounded window (the
 * view lease), so a view that can still be read is recent by construction,
 * without comparing two hosts' clocks. A new owner reads the view when it
 * takes the cluster; if its first inspection finds the master dead, it
 * watches that master as one that just failed (the usual confirmation by
 * the replicas and the second route, the maintenance and the failover
 * guard then decide, exactly as for a master it had watched itself) when:
 *  - a view exists (no view: a cold start, today's refusal);
 *  - it names the master the replicas still point at (a view naming another
 *    master is about another topology: refused);
 *  - the master is only unreachable: the other problems of the inspection are
 *    the ones a dead master causes (its replicas' IO threads, their lag);
 *  - the previous owner saw it healthy, or failing for a short time only
 *    (a master it saw failing for long was not failed over for a reason the
 *    new owner cannot know);
 *  - the view was read shortly before the first inspection.
 */

/** What an owner last recorded about its cluster (etcd: PREFIX/clusters/NAME/view). */
export interface OwnerView {
  /** The master the owner watched; absent: none (its inspection found the topology broken). */
  master?: string | undefined;
  /** Its last health check of that master succeeded. */
  healthy: boolean;
  /** Wall ms (the writer's clock): when the owner's checks of the master began to fail (with healthy false). */
  failingSince?: number | undefined;
  /** The owner (instance name). */
  by: string;
  /** Wall ms (the writer's clock) of the write. */
  at: number;
}

/** What the new owner's first inspection found (from domain/topology's analysis). */
export interface FirstLook {
  /** The master: the server the replicas point at (set even when it is down). */
  master?: string | undefined;
  /** Was the master reached? */
  masterReachable: boolean;
  /** Every finding of severity error: its code and server. */
  errors: Array<{ code: string; server?: string | undefined }>;
}

export interface HandoverLimits {
  /** A failing master counts while it has failed for at most this long (ms; the writer's clock against ours). */
  maxFailingMs: number;
  /** The view must have been read at most this long (ms, monotonic) before the first inspection. */
  maxReadAgeMs: number;
}

export type HandoverDecision = { adopt: true; master: string; reason: string } | { adopt: false; reason: string };

/** Problems a dead master causes by itself: its replicas cannot reach it, and fall behind. */
const CAUSED_BY_A_DEAD_MASTER = new Set(['master_unreachable', 'io_thread', 'lag']);

/**
 * Should the new owner watch the master it found dead at its first look as a master that just failed?
 * `readAgoMs`: monotonic time from reading the view to the first inspection; `now`: wall ms.
 */
export function handoverDecision(view: OwnerView | undefined, look: FirstLook, readAgoMs: number, now: number, limits: HandoverLimits): HandoverDecision {
  if (view === undefined) return { adopt: false, reason: 'no recent view of a previous owner (a cold start): a master dead at the first look is not failed over' };
  if (look.master === undefined) return { adopt: false, reason: 'the replicas name no master' };
  if (look.masterReachable) return { adopt: false, reason: `the master ${look.master} answers` };
  if (view.master === undefined) return { adopt: false, reason: `the previous owner ${view.by} watched no master (it found the topology broken)` };
  if (view.master !== look.master) return { adopt: false, reason: `the previous owner ${view.by} watched ${view.master} as master, the replicas now point at ${look.master}` };
  const other = look.errors.filter((e) => !CAUSED_BY_A_DEAD_MASTER.has(e.code));
  if (other.length > 0) return { adopt: false, reason: `the topology has other problems than a dead master (${[...new Set(other.map((e) => `${e.server ? `${e.server}: ` : ''}${e.code}`))].join(', ')})` };
  if (readAgoMs > limits.maxReadAgeMs) return { adopt: false, reason: `the previous owner's view was read ${Math.round(readAgoMs / 1000)} s before this first inspection (at most ${Math.round(limits.maxReadAgeMs / 1000)} s count)` };
  if (!view.healthy) {
    if (view.failingSince === undefined) return { adopt: false, reason: `the previous owner ${view.by} saw ${view.master} failing, since an unknown time` };
    const failing = now - view.failingSince;
    if (failing > limits.maxFailingMs) return { adopt: false, reason: `the previous owner ${view.by} saw ${view.master} failing for ${Math.round(failing / 1000)} s without failing it over (at most ${Math.round(limits.maxFailingMs / 1000)} s count)` };
    return { adopt: true, master: look.master, reason: `the previous owner ${view.by} watched ${view.master} until a moment ago; its checks began to fail ${Math.max(0, Math.round(failing / 1000))} s ago` };
  }
  return { adopt: true, master: look.master, reason: `the previous owner ${view.by} watched ${view.master} healthy until a moment ago` };
}

/** What an owner records about its cluster, from its monitor's state; undefined: nothing to record yet (before its first inspection). */
export function viewOf(m: { state: string; master?: string | undefined; detectorHealthy: boolean; failingSince?: number | undefined }, by: string, now: number): OwnerView | undefined {
  if (m.state === 'starting' || m.state === 'stopped') return undefined;
  if (m.state === 'broken' || m.master === undefined) return { healthy: false, by, at: now };
  if (m.state === 'failing_over') return { master: m.master, healthy: false, failingSince: m.failingSince ?? now, by, at: now };
  return m.detectorHealthy ? { master: m.master, healthy: true, by, at: now } : { master: m.master, healthy: false, failingSince: m.failingSince ?? now, by, at: now };
}

/** Two views say the same (the write time aside): no need to write again. */
export function sameView(a: OwnerView | undefined, b: OwnerView | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.master === b.master && a.healthy === b.healthy && a.failingSince === b.failingSince && a.by === b.by;
}

export function parseView(v: string | undefined): OwnerView | undefined {
  if (v === undefined) return undefined;
  try {
    const o = JSON.parse(v) as Record<string, unknown>;
    if (typeof o.healthy !== 'boolean' || typeof o.by !== 'string' || typeof o.at !== 'number') return undefined;
    if (o.master !== undefined && typeof o.master !== 'string') return undefined;
    if (o.failingSince !== undefined && typeof o.failingSince !== 'number') return undefined;
    return { master: o.master, healthy: o.healthy, failingSince: o.failingSince, by: o.by, at: o.at };
  } catch {
    return undefined;
  }
}

/**
 * The limits derived from the settings (no configuration key): the view lease lasts 2 × lease_ttl +
 * 2 × request_timeout (its writer's death, the owner lease running out, one ownership round and the
 * new owner's reads fit in it); a failing master counts for as long; the first inspection must come
 * within a few ping intervals of the read.
 */
export function handoverTimes(o: { leaseTtlS: number; requestTimeoutS: number; pingIntervalS: number; connectTimeoutS: number }): { viewTtlS: number } & HandoverLimits {
  const viewTtlS = Math.ceil(2 * o.leaseTtlS + 2 * o.requestTimeoutS);
  return { viewTtlS, maxFailingMs: viewTtlS * 1000, maxReadAgeMs: Math.max(10_000, (3 * o.pingIntervalS + 2 * o.connectTimeoutS) * 1000) };
}
