/**
 * Which manager owns which cluster when several managers share the fleet
 * (etcd sharding). Pure: the live managers and the clusters in, the
 * assignment out; every manager computes the same one from the same view.
 *
 * Rendezvous (highest-random-weight) hashing with bounded loads: each cluster
 * ranks the managers by hash(cluster, manager); clusters, taken in a fixed
 * order, go to the first manager of their ranking that has room, a manager's
 * room being ceil(clusters / managers). So:
 *  - balance: no manager owns more than ceil(C/M) clusters;
 *  - bounded movement: a manager that joins takes mostly clusters that rank
 *    it first; one that leaves gives away its own clusters, and only the
 *    clusters pushed over a bound move besides.
 */

/** 53-bit string hash (cyrb53): stable across processes and versions, no crypto needed. */
export function hash53(s: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** The managers in the order a cluster prefers them (highest weight first; ties by name). */
export function ranking(cluster: string, managers: readonly string[]): string[] {
  return [...managers].map((m) => ({ m, w: hash53(`${cluster}\u0000${m}`) })).sort((a, b) => b.w - a.w || (a.m < b.m ? -1 : a.m > b.m ? 1 : 0)).map((x) => x.m);
}

/**
 * The fair share: cluster → manager. Clusters that must stay where they are
 * (`pinned`: a failover in progress, a manager that cannot hand over yet) keep
 * their owner when that owner is live, and count against its room.
 */
export function assignClusters(clusters: readonly string[], managers: readonly string[], pinned: ReadonlyMap<string, string> = new Map()): Map<string, string> {
  const out = new Map<string, string>();
  const live = [...new Set(managers)].sort();
  if (live.length === 0) return out;
  const names = [...new Set(clusters)].sort();
  const room = Math.ceil(names.length / live.length);
  const load = new Map(live.map((m) => [m, 0]));
  for (const c of names) {
    const p = pinned.get(c);
    if (p !== undefined && load.has(p)) {
      out.set(c, p);
      load.set(p, load.get(p)! + 1);
    }
  }
  // In name order: the same on every manager.
  const rest = names.filter((c) => !out.has(c)).map((c) => ({ c, r: ranking(c, live) }));
  for (const { c, r } of rest) {
    const m = r.find((x) => load.get(x)! < room) ?? r[0]!;
    out.set(c, m);
    load.set(m, load.get(m)! + 1);
  }
  return out;
}

/** How many clusters change owner between two assignments (a cluster absent from either is not counted). */
export function moved(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): number {
  let n = 0;
  for (const [c, m] of a) if (b.has(c) && b.get(c) !== m) n++;
  return n;
}
