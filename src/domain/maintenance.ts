/**
 * Maintenance (downtime), as orchestrator's "downtime" and MaxScale's
 * maintenance mode: an operator says "leave this alone for a while".
 *
 *  - global:  no automatic failover anywhere (every cluster);
 *  - cluster: the cluster is watched and reported, never failed over
 *             automatically (an operator's `mhats failover` still works);
 *  - server:  the server is never a candidate, and its absence does not block
 *             a failover or a switchover.
 *
 * Every entry has an owner, a reason and an expiry: nothing stays in
 * maintenance forever by accident. Entries are journal records (start, then
 * maybe stop), folded here. Pure: records and `now` in, decisions out.
 */
import { isoTime } from './time.js';

export type MaintenanceScope = 'global' | 'cluster' | 'server';

export type MaintenanceRecord =
  | { type: 'maintenance_start'; id: string; at: number; scope: MaintenanceScope; cluster?: string | undefined; server?: string | undefined; owner: string; reason: string; expiresAt: number }
  | { type: 'maintenance_stop'; id: string; at: number; by: string; reason?: string | undefined };

export interface MaintenanceEntry {
  id: string;
  scope: MaintenanceScope;
  cluster?: string | undefined;
  server?: string | undefined;
  owner: string;
  reason: string;
  startedAt: number;
  expiresAt: number;
  stoppedAt?: number | undefined;
  stoppedBy?: string | undefined;
}

/** The longest maintenance one `start` may ask for: renew it, or take the server out of the configuration. */
export const MAX_MAINTENANCE_MS = 7 * 24 * 3600_000;

/** Start and stop records folded into entries, in start order. Unknown or torn records are skipped. */
export function foldMaintenance(records: readonly unknown[]): MaintenanceEntry[] {
  const byId = new Map<string, MaintenanceEntry>();
  for (const raw of records) {
    const r = raw as Partial<MaintenanceRecord> | null;
    if (r === null || typeof r !== 'object' || typeof r.id !== 'string') continue;
    if (r.type === 'maintenance_start') {
      const s = r as Extract<MaintenanceRecord, { type: 'maintenance_start' }>;
      if (typeof s.at !== 'number' || typeof s.expiresAt !== 'number') continue;
      byId.set(s.id, { id: s.id, scope: s.scope, cluster: s.cluster, server: s.server, owner: String(s.owner), reason: String(s.reason), startedAt: s.at, expiresAt: s.expiresAt });
    } else if (r.type === 'maintenance_stop') {
      const e = byId.get(r.id);
      const s = r as Extract<MaintenanceRecord, { type: 'maintenance_stop' }>;
      if (e && e.stoppedAt === undefined) {
        e.stoppedAt = s.at;
        e.stoppedBy = s.by;
      }
    }
  }
  return [...byId.values()];
}

export function isActive(e: MaintenanceEntry, now: number): boolean {
  return e.stoppedAt === undefined && now < e.expiresAt;
}

export function activeEntries(entries: readonly MaintenanceEntry[], now: number): MaintenanceEntry[] {
  return entries.filter((e) => isActive(e, now));
}

/** Does this entry concern the cluster (global, or the cluster, or one of its servers)? */
export function concerns(e: MaintenanceEntry, cluster: string): boolean {
  return e.scope === 'global' || e.cluster === cluster;
}

export interface ClusterMaintenance {
  cluster: string;
  /** Global and cluster entries in force: no automatic failover. */
  clusterWide: MaintenanceEntry[];
  /** Server entries in force, by server name. */
  servers: Record<string, MaintenanceEntry[]>;
  /** Names of the servers in maintenance (sorted). */
  serversInMaintenance: string[];
}

export function maintenanceOf(entries: readonly MaintenanceEntry[], cluster: string, now: number): ClusterMaintenance {
  const active = activeEntries(entries, now).filter((e) => concerns(e, cluster));
  const servers: Record<string, MaintenanceEntry[]> = {};
  for (const e of active) {
    if (e.scope !== 'server' || e.server === undefined) continue;
    (servers[e.server] ??= []).push(e);
  }
  return { cluster, clusterWide: active.filter((e) => e.scope !== 'server'), servers, serversInMaintenance: Object.keys(servers).sort() };
}

export type AutoFailoverDecision = { allowed: true } | { allowed: false; reason: string; entries: MaintenanceEntry[] };

/** May the manager fail this cluster over automatically now? (An operator's failover is never held.) */
export function mayFailOverAutomatically(entries: readonly MaintenanceEntry[], cluster: string, now: number): AutoFailoverDecision {
  const m = maintenanceOf(entries, cluster, now);
  if (m.clusterWide.length === 0) return { allowed: true };
  const global = m.clusterWide.filter((e) => e.scope === 'global');
  const what = global.length > 0 ? 'automatic failover is switched off everywhere' : `cluster ${cluster} is in maintenance`;
  return { allowed: false, reason: `${what}: ${m.clusterWide.map((e) => describeEntry(e, now)).join('; ')}`, entries: m.clusterWide };
}

// ---------------------------------------------------------------- durations

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** "90s", "30m", "2h", "1d", "1h30m", "1w" → ms. A bare number is refused: say the unit. */
export function parseDuration(text: string): { ok: true; ms: number } | { ok: false; message: string } {
  const t = text.trim().toLowerCase();
  const bad = { ok: false as const, message: `"${text}" is not a duration: write a number and a unit (s, m, h, d, w), e.g. 30m, 2h, 1h30m, 1d` };
  if (t === '' || !/^(\d+(\.\d+)?[smhdw])+$/.test(t)) return bad;
  let ms = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)([smhdw])/g)) ms += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? NaN);
  if (!Number.isFinite(ms) || ms <= 0) return bad;
  return { ok: true, ms: Math.round(ms) };
}

/** 5400000 → "1h30m"; 45000 → "45s". */
export function formatDuration(ms: number): string {
  if (ms <= 0) return '0s';
  let s = Math.ceil(ms / 1000);
  const d = Math.floor(s / 86_400);
  s -= d * 86_400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts = [d ? `${d}d` : '', h ? `${h}h` : '', m ? `${m}m` : '', s && d === 0 && h === 0 ? `${s}s` : ''].filter(Boolean);
  return parts.join('') || '0s';
}

export function scopeText(e: Pick<MaintenanceEntry, 'scope' | 'cluster' | 'server'>): string {
  if (e.scope === 'global') return 'every cluster (no automatic failover anywhere)';
  if (e.scope === 'cluster') return `cluster ${e.cluster ?? '?'}`;
  return `server ${e.server ?? '?'} of ${e.cluster ?? '?'}`;
}

/** One line: what, who, why, until when. */
export function describeEntry(e: MaintenanceEntry, now: number): string {
  const until = e.stoppedAt !== undefined ? `stopped ${isoTime(e.stoppedAt)} by ${e.stoppedBy ?? '?'}` : now >= e.expiresAt ? `expired ${isoTime(e.expiresAt)}` : `until ${isoTime(e.expiresAt)}, ${formatDuration(e.expiresAt - now)} left`;
  return `${scopeText(e)} by ${e.owner} ("${e.reason}"), ${until} [${e.id}]`;
}

// ---------------------------------------------------------------- start / stop

export interface StartInput {
  scope: MaintenanceScope;
  cluster?: string | undefined;
  server?: string | undefined;
  owner: string;
  reason: string;
  /** The --for text, or milliseconds. */
  duration: string | number;
}

export interface KnownClusters {
  clusters: Array<{ name: string; servers: string[] }>;
}

/** Validates a start request against the configuration and builds its record. */
export function buildStart(input: StartInput, known: KnownClusters, id: string, now: number): { ok: true; record: Extract<MaintenanceRecord, { type: 'maintenance_start' }> } | { ok: false; message: string } {
  const reason = input.reason.trim();
  if (reason === '') return { ok: false, message: 'a reason is required (--reason TEXT): the next person on call reads it' };
  if (input.owner.trim() === '') return { ok: false, message: 'an owner is required' };
  const d = typeof input.duration === 'number' ? (input.duration > 0 && Number.isFinite(input.duration) ? { ok: true as const, ms: Math.round(input.duration) } : { ok: false as const, message: 'the duration must be > 0' }) : parseDuration(input.duration);
  if (!d.ok) return d;
  if (d.ms > MAX_MAINTENANCE_MS) return { ok: false, message: `${formatDuration(d.ms)} is longer than the ${formatDuration(MAX_MAINTENANCE_MS)} a maintenance may last: start it again when it ends, or take the server out of the configuration` };
  let cluster: string | undefined;
  let server: string | undefined;
  if (input.scope !== 'global') {
    const c = known.clusters.find((x) => x.name === input.cluster);
    if (c === undefined) return { ok: false, message: input.cluster === undefined ? 'name the cluster (--cluster NAME), or use --global' : `unknown cluster ${input.cluster} (known: ${known.clusters.map((x) => x.name).join(', ') || 'none'})` };
    cluster = c.name;
    if (input.scope === 'server') {
      if (input.server === undefined || !c.servers.includes(input.server)) return { ok: false, message: `unknown server ${input.server ?? '(none)'} in cluster ${c.name} (servers: ${c.servers.join(', ')})` };
      server = input.server;
    }
  }
  return { ok: true, record: { type: 'maintenance_start', id, at: now, scope: input.scope, ...(cluster !== undefined ? { cluster } : {}), ...(server !== undefined ? { server } : {}), owner: input.owner.trim(), reason, expiresAt: now + d.ms } };
}

export type StopTarget = { id: string } | { scope: 'global' } | { scope: 'cluster'; cluster: string } | { scope: 'server'; cluster: string; server: string };

/** The active entries a stop request ends. */
export function entriesToStop(entries: readonly MaintenanceEntry[], target: StopTarget, now: number): MaintenanceEntry[] {
  const active = activeEntries(entries, now);
  if ('id' in target) return active.filter((e) => e.id === target.id);
  switch (target.scope) {
    case 'global':
      return active.filter((e) => e.scope === 'global');
    case 'cluster':
      return active.filter((e) => e.scope === 'cluster' && e.cluster === target.cluster);
    case 'server':
      return active.filter((e) => e.scope === 'server' && e.cluster === target.cluster && e.server === target.server);
  }
}
