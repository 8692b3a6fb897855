/**
 * Choosing the new master. Pure: replicas' observations and config flags in,
 * a choice with every rejected host and its reason out.
 *
 * Order (MHA's, ServerManager::select_new_master):
 *   1. a forced host (--new-master), if eligible;
 *   2. the latest replica that is a candidate_master;
 *   3. any candidate_master, in config order;
 *   4. the latest replica;
 *   5. any replica, in config order.
 * Exclusions: no_master; log_bin off; a newer major version than the oldest
 * replica; lag beyond check_repl_delay's limit; and whatever the caller
 * excludes (a delayed replica, one still applying its relay log, one that
 * could not be brought level), each with its reason. Coordinates are compared
 * numerically (MHA compared file names as strings: issue #143).
 *
 * candidateInputs() builds the inputs, the same way for the failover, the
 * monitor's plan (/status) and the switchover.
 */
import { binlogFileIndex, compareCoords } from './binlog-coord.js';
import type { BinlogCoord, ServerObservation } from './types.js';

export interface CandidateInput {
  name: string;
  candidate_master: boolean;
  no_master: boolean;
  /** In maintenance: never a candidate. */
  inMaintenance?: boolean | undefined;
  obs: ServerObservation;
  /** Not a candidate, for this reason (it still counts for "latest"). */
  exclude?: { code: string; reason: string } | undefined;
}

/** The config of a server that the choice needs. */
export interface CandidateServer {
  name: string;
  candidate_master: boolean;
  no_master: boolean;
}

export interface ChooseOptions {
  forced?: string | undefined;
  checkReplDelay: boolean;
  latestPriority: boolean;
  /** MHA: 100,000,000 bytes of unapplied binlog. */
  maxDelayBytes?: number | undefined;
  /** Used to estimate byte distance across a binlog rotation. Default 1 GiB. */
  maxBinlogSize?: number | undefined;
}

export interface Rejection {
  name: string;
  reason: string;
  /** Machine-readable cause where the caller gave one (e.g. 'delayed'). */
  code?: string | undefined;
}

/**
 * The candidate inputs, in config order (MHA's priority order): every server
 * of `servers` that is among `replicas`. A delayed replica (SQL_Delay > 0) is
 * never a candidate unless explicitly allowed (`allowDelayed`: promotion
 * rules) or forced with --new-master: candidate_master alone does not allow
 * it (MHA files often set it on every server). `exclude` adds the caller's
 * own exclusions.
 */
export function candidateInputs(
  servers: readonly CandidateServer[],
  replicas: ReadonlyArray<{ name: string; obs: ServerObservation }>,
  opts: { forced?: string | undefined; exclude?: ReadonlyMap<string, { code: string; reason: string }> | undefined; maintenance?: readonly string[] | undefined; allowDelayed?: readonly string[] | undefined } = {},
): CandidateInput[] {
  return servers.flatMap((s) => {
    const r = replicas.find((x) => x.name === s.name);
    if (r === undefined) return [];
    const delay = r.obs.replica?.sqlDelay ?? 0;
    const exclude =
      opts.exclude?.get(s.name) ??
      (delay > 0 && opts.forced !== s.name && !(opts.allowDelayed?.includes(s.name) ?? false) ? { code: 'delayed', reason: `delayed replica (MASTER_DELAY=${delay} s): never a candidate unless explicitly allowed (--new-master)` } : undefined);
    const inMaintenance = opts.maintenance?.includes(s.name) ?? false;
    return [{ name: s.name, candidate_master: s.candidate_master, no_master: s.no_master, obs: r.obs, ...(inMaintenance ? { inMaintenance } : {}), ...(exclude ? { exclude } : {}) }];
  });
}

export type Choice =
  | { ok: true; chosen: string; rule: 'forced' | 'latest_candidate' | 'candidate' | 'latest' | 'any'; reason: string; latest: string[]; rejected: Rejection[] }
  | { ok: false; reason: string; latest: string[]; rejected: Rejection[] };

function versionKey(o: ServerObservation): number {
  return o.version.major * 100 + o.version.minor;
}

/** Bytes between a replica's applied position and the latest received one. */
export function delayBytes(latestRead: BinlogCoord, targetExec: BinlogCoord, maxBinlogSize: number): number {
  const a = binlogFileIndex(latestRead.file);
  const b = binlogFileIndex(targetExec.file);
  if (a === b) return Math.max(0, latestRead.pos - targetExec.pos);
  if (a < b) return 0;
  return latestRead.pos + Math.max(0, maxBinlogSize - targetExec.pos) + (a - b - 1) * maxBinlogSize;
}

/** The replicas that received the most of the old master's binlog. */
export function latestReplicas(replicas: CandidateInput[]): string[] {
  const withStatus = replicas.filter((r) => r.obs.replica !== undefined);
  if (withStatus.length === 0) return [];
  let best = withStatus[0]!.obs.replica!.read;
  for (const r of withStatus) if (compareCoords(r.obs.replica!.read, best) > 0) best = r.obs.replica!.read;
  return withStatus.filter((r) => compareCoords(r.obs.replica!.read, best) === 0).map((r) => r.name);
}

export function chooseNewMaster(replicas: CandidateInput[], opts: ChooseOptions): Choice {
  const maxDelay = opts.maxDelayBytes ?? 100_000_000;
  const maxBinlogSize = opts.maxBinlogSize ?? 1024 * 1024 * 1024;
  const latest = latestReplicas(replicas);
  const latestRead = replicas.find((r) => r.name === latest[0])?.obs.replica?.read;
  const oldest = Math.min(...replicas.map((r) => versionKey(r.obs)));
  const rejected: Rejection[] = [];
  const eligible = new Set<string>();
  for (const r of replicas) {
    const o = r.obs;
    let reason: string | undefined;
    if (r.exclude) {
      rejected.push({ name: r.name, reason: r.exclude.reason, code: r.exclude.code });
      continue;
    }
    if (r.inMaintenance) {
      rejected.push({ name: r.name, reason: 'in maintenance (mhats maintenance list)', code: 'in_maintenance' });
      continue;
    }
    if (r.no_master) reason = 'no_master is set';
    else if (!o.logBin) reason = 'log_bin is OFF: it has no binlog for the others to replicate from';
    else if (versionKey(o) > oldest) reason = `newer version (${o.version.raw}) than the oldest replica: the others could not replicate from it`;
    else if (opts.checkReplDelay && latestRead !== undefined && o.replica !== undefined) {
      const d = delayBytes(latestRead, o.replica.exec, maxBinlogSize);
      if (d > maxDelay) reason = `too far behind: ${d} bytes of binlog not yet applied (check_repl_delay limit ${maxDelay})`;
    }
    if (reason === undefined) eligible.add(r.name);
    else rejected.push({ name: r.name, reason });
  }
  const result = (chosen: string, rule: Extract<Choice, { ok: true }>['rule'], reason: string): Choice => ({ ok: true, chosen, rule, reason, latest, rejected });

  if (opts.forced !== undefined) {
    const f = replicas.find((r) => r.name === opts.forced);
    if (f === undefined) return { ok: false, reason: `the forced new master ${opts.forced} is not a surviving replica (known: ${replicas.map((r) => r.name).join(', ') || 'none'})`, latest, rejected };
    if (!eligible.has(f.name)) return { ok: false, reason: `the forced new master ${f.name} is not eligible: ${rejected.find((x) => x.name === f.name)?.reason ?? '?'}`, latest, rejected };
    return result(f.name, 'forced', 'forced by the operator');
  }
  if (opts.latestPriority) {
    const c = replicas.find((r) => r.candidate_master && latest.includes(r.name) && eligible.has(r.name));
    if (c) return result(c.name, 'latest_candidate', 'candidate_master and has the latest binlog events');
  }
  const c = replicas.find((r) => r.candidate_master && eligible.has(r.name));
  if (c) return result(c.name, 'candidate', 'the first eligible candidate_master in config order');
  if (opts.latestPriority) {
    const l = replicas.find((r) => latest.includes(r.name) && eligible.has(r.name));
    if (l) return result(l.name, 'latest', 'has the latest binlog events');
  }
  const a = replicas.find((r) => eligible.has(r.name));
  if (a) return result(a.name, 'any', 'the first eligible replica in config order');
  return { ok: false, reason: `no eligible new master: ${rejected.map((r) => `${r.name} (${r.reason})`).join('; ') || 'no surviving replica'}`, latest, rejected };
}
