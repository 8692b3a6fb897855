/**
 * Online master switch (MHA's `masterha_master_switch --master_state=alive`):
 * the pre-checks, the choice of the new master and the plan. Pure: the
 * topology analysis and the master's processlist in, a decision out, with
 * every check and its result so the operator sees why.
 *
 * Checks (each reported, pass or fail):
 *   no_failover    no failover is in progress or unfinished in the journal
 *   topology       one writable master, every server reachable, no check-repl error
 *   replicas       every replica replicates from the master, both threads running, read_only
 *   candidate      the new master is eligible (chooseNewMaster, delay check off, as MHA)
 *   lag            every replica's Seconds_Behind_Master is known and ≤ the limit
 *   long_writes    no write statement on the master has run for running_updates_limit s or more
 *   errant_gtid    no replica has transactions the master does not have
 */
import { candidateInputs, chooseNewMaster, type Rejection } from './candidates.js';
import type { LocationPolicy, PromotionConfig } from './promotion.js';
import type { Finding, FindingCode, TopologyAnalysis } from './topology.js';
import type { Flavor } from './types.js';

/** One row of the processlist (information_schema.PROCESSLIST), as Dialect.parseProcess returns it. */
export interface ProcessRow {
  id: number;
  user: string;
  host: string;
  db: string | null;
  command: string;
  /** Seconds in the current state. */
  time: number;
  state: string | null;
  /** The statement, or null when idle. */
  info: string | null;
}

export type PreCheckId = 'no_failover' | 'topology' | 'replicas' | 'candidate' | 'lag' | 'long_writes' | 'errant_gtid';

export interface PreCheck {
  id: PreCheckId;
  title: string;
  ok: boolean;
  /** What was found: the reason on failure, a short summary on success. */
  detail: string;
}

/** MHA's flags and the promotion rules (domain/promotion.ts). */
export interface SwitchoverServer extends PromotionConfig {
  name: string;
}

export interface SwitchoverInput {
  analysis: TopologyAnalysis;
  /** The cluster's servers in config order (MHA's priority order). */
  servers: SwitchoverServer[];
  /** The cluster's promotion_location (default nearest). */
  promotionLocation?: LocationPolicy | undefined;
  /** --new-master, as a config name. */
  newMaster?: string | undefined;
  /** Seconds (--max-lag). */
  maxLagSeconds: number;
  /** Seconds (--running-updates-limit, MHA's running_updates_limit). */
  runningUpdatesLimit: number;
  /** The master's processlist; undefined when it could not be read. */
  masterProcesses?: ProcessRow[] | undefined;
  /** Connections of mhats itself on the master: never counted or killed. */
  ownConnectionIds?: number[] | undefined;
  /** An unfinished failover in the journal (its id), if any. */
  unfinishedFailover?: string | undefined;
}

export interface SwitchoverPlan {
  master: string;
  newMaster: string;
  /** Why this new master (the selection rule). */
  newMasterReason: string;
  /** The other replicas of the master, to repoint to the new master. */
  replicas: string[];
  mode: 'gtid' | 'position';
  flavor: Flavor;
  rejected: Rejection[];
}

export type SwitchoverDecision = { ok: true; checks: PreCheck[]; plan: SwitchoverPlan } | { ok: false; checks: PreCheck[]; reason: string };

/** Processlist commands that are not client sessions. */
const SYSTEM_COMMANDS = new Set(['binlog dump', 'binlog dump gtid', 'daemon', 'slave_io', 'slave_sql', 'slave_worker', 'register slave']);
const SYSTEM_USERS = new Set(['system user', 'event_scheduler']);

/** Is this a replication connection (a replica's dump thread) or a server thread? */
export function isSystemOrReplication(p: ProcessRow): boolean {
  return SYSTEM_COMMANDS.has(p.command.toLowerCase()) || SYSTEM_USERS.has(p.user.toLowerCase());
}

/** Strips leading whitespace, comments and parentheses so "/* x *\/ (SELECT ..." reads as SELECT. */
function leadingKeyword(sql: string): string {
  let s = sql;
  for (;;) {
    const before = s;
    s = s.replace(/^[\s(]+/, '');
    s = s.replace(/^\/\*[\s\S]*?\*\//, '');
    s = s.replace(/^(--[^\n]*|#[^\n]*)(\n|$)/, '');
    if (s === before) break;
  }
  return (/^[A-Za-z]+/.exec(s)?.[0] ?? '').toUpperCase();
}

/**
 * MHA's definition (DBHelper.pm): anything but SELECT and SHOW is a write.
 * WITH ... SELECT, EXPLAIN, DESCRIBE and HELP do not change data either.
 */
export function isWriteStatement(info: string | null): boolean {
  if (info === null || info.trim() === '') return false;
  const k = leadingKeyword(info);
  return !['SELECT', 'SHOW', 'WITH', 'EXPLAIN', 'DESCRIBE', 'DESC', 'HELP'].includes(k);
}

/** Write statements running for limitSeconds or more (client sessions only; Sleep is idle). */
export function longRunningWrites(processes: ProcessRow[], limitSeconds: number, ownIds: number[] = []): ProcessRow[] {
  const own = new Set(ownIds);
  return processes.filter((p) => !own.has(p.id) && !isSystemOrReplication(p) && p.command.toLowerCase() !== 'sleep' && p.command.toLowerCase() !== 'killed' && isWriteStatement(p.info) && p.time >= limitSeconds);
}

/**
 * The client sessions to end on the old master once read_only is set: every
 * connection but replication, server threads and mhats' own. Idle ones too:
 * on MariaDB ≥ 10.11 a user with READ ONLY ADMIN (ALL PRIVILEGES includes it)
 * writes through read_only, and a pooled connection would keep writing to the
 * old master.
 */
export function sessionsToKill(processes: ProcessRow[], ownIds: number[]): ProcessRow[] {
  const own = new Set(ownIds);
  return processes.filter((p) => !own.has(p.id) && !isSystemOrReplication(p) && p.command.toLowerCase() !== 'killed');
}

function describeProcess(p: ProcessRow): string {
  const stmt = (p.info ?? '').replace(/\s+/g, ' ').trim();
  return `connection ${p.id} (${p.user}@${p.host.replace(/:\d+$/, '')}) running for ${p.time} s: ${stmt.length > 80 ? `${stmt.slice(0, 77)}...` : stmt}`;
}

/** Findings that each check owns; the topology check takes every other error. */
const REPLICA_CODES: ReadonlySet<FindingCode> = new Set(['not_replicating', 'wrong_source', 'unknown_source', 'io_thread', 'sql_thread', 'writable_replica']);
const OWN_ELSEWHERE: ReadonlySet<FindingCode> = new Set([...REPLICA_CODES, 'lag', 'errant_gtid', 'no_candidate']);

function findingText(f: Finding): string {
  return `${f.server ? `${f.server}: ` : ''}${f.message}`;
}

export function decideSwitchover(input: SwitchoverInput): SwitchoverDecision {
  const { analysis: a } = input;
  const checks: PreCheck[] = [];
  const add = (id: PreCheckId, title: string, problems: string[], okDetail: string): void => {
    checks.push({ id, title, ok: problems.length === 0, detail: problems.length === 0 ? okDetail : problems.join('; ') });
  };

  // --- no failover in progress
  add('no_failover', 'no failover in progress', input.unfinishedFailover ? [`the journal holds an unfinished failover (${input.unfinishedFailover}): check the topology, then acknowledge it with mhats ack`] : [], 'none in the journal');

  // --- topology
  const topo: string[] = [];
  if (a.master === undefined) topo.push('no master identified');
  else if (a.masterObs === undefined) topo.push(`the master ${a.master} cannot be reached`);
  else if (a.masterObs.readOnly) topo.push(`the master ${a.master} is read_only: it is not taking writes now`);
  for (const u of a.unreachable) if (u.name !== a.master) topo.push(`${u.name} cannot be reached: ${u.message}`);
  for (const f of a.findings) {
    if (f.severity !== 'error' || OWN_ELSEWHERE.has(f.code) || f.code === 'unreachable' || f.code === 'master_unreachable' || f.code === 'master_read_only') continue;
    topo.push(findingText(f));
  }
  if (a.mode !== 'gtid' && a.mode !== 'position' && a.replicas.length > 0) topo.push(`replication mode is ${a.mode}`);
  const uniqTopo = [...new Set(topo)];
  add('topology', 'one writable master, every server reachable', uniqTopo, a.master ? `master ${a.master}, ${a.mode === 'gtid' ? 'GTID' : 'binlog-position'} replication` : '');

  // --- replicas
  const rep: string[] = [];
  for (const f of a.findings) if (f.severity === 'error' && REPLICA_CODES.has(f.code)) rep.push(findingText(f));
  for (const r of a.replicas) {
    if (a.master !== undefined && r.source !== a.master && !rep.some((x) => x.startsWith(`${r.name}:`))) {
      rep.push(`${r.name}: replicates from ${r.source ?? 'an unknown server'}, not from the master ${a.master}`);
    }
  }
  if (a.replicas.length === 0) rep.push('the master has no replica: nothing to switch to');
  add('replicas', 'every replica healthy and replicating from the master', rep, `${a.replicas.map((r) => r.name).join(', ')}: IO and SQL threads running, read_only`);

  // --- candidate
  const cand: string[] = [];
  let chosen: { name: string; reason: string; rejected: Rejection[] } | undefined;
  if (input.newMaster !== undefined && input.newMaster === a.master) {
    cand.push(`${input.newMaster} is already the master`);
  } else {
    const healthy = new Set(a.replicas.filter((r) => r.source === a.master && r.obs.replica?.ioRunning === 'Yes' && r.obs.replica.sqlRunning).map((r) => r.name));
    // Promotion rules and locations as in a failover: the current master's labels, the cluster's promotion_location.
    const policy = input.promotionLocation ?? 'nearest';
    const ms = input.servers.find((s) => s.name === a.master);
    const inputs = candidateInputs(input.servers, a.replicas.filter((r) => healthy.has(r.name)), { forced: input.newMaster, promotion: { policy, master: a.master } });
    if (input.newMaster !== undefined && !inputs.some((i) => i.name === input.newMaster)) {
      cand.push(`${input.newMaster} is not a healthy replica of ${a.master ?? 'the master'}`);
    } else if (inputs.length === 0) {
      cand.push('no healthy replica to promote');
    } else {
      // MHA: every live replica counts as latest in an online switch, and the delay check is off.
      const c = chooseNewMaster(inputs, { forced: input.newMaster, checkReplDelay: false, latestPriority: false, promotion: { policy, master: ms ? { datacenter: ms.datacenter, region: ms.region } : undefined } });
      if (c.ok) chosen = { name: c.chosen, reason: c.reason, rejected: c.rejected };
      else cand.push(c.reason);
    }
  }
  add('candidate', 'the new master is eligible', cand, chosen ? `${chosen.name} (${chosen.reason})${chosen.rejected.length ? `; not chosen: ${chosen.rejected.map((r) => `${r.name} (${r.reason})`).join(', ')}` : ''}` : '');

  // --- lag
  const lag: string[] = [];
  for (const r of a.replicas) {
    const s = r.obs.replica;
    if (s === undefined) continue;
    if (s.secondsBehind === null) lag.push(`${r.name}: lag unknown (Seconds_Behind_Master is NULL)`);
    else if (s.secondsBehind > input.maxLagSeconds) lag.push(`${r.name} is ${s.secondsBehind} s behind (limit ${input.maxLagSeconds} s, --max-lag)`);
  }
  const lags = a.replicas.map((r) => `${r.name} ${r.obs.replica?.secondsBehind ?? '?'} s`).join(', ');
  add('lag', `replication lag ≤ ${input.maxLagSeconds} s`, lag, lags);

  // --- long-running writes
  const lw: string[] = [];
  let lwDetail = '';
  if (input.masterProcesses === undefined) lw.push(`cannot read the processlist of ${a.master ?? 'the master'}`);
  else {
    const long = longRunningWrites(input.masterProcesses, input.runningUpdatesLimit, input.ownConnectionIds);
    for (const p of long) lw.push(describeProcess(p));
    if (long.length > 0) lw.push(`read_only would wait for ${long.length === 1 ? 'it' : 'them'}, blocking every write meanwhile; retry when done, or raise --running-updates-limit`);
    const clients = sessionsToKill(input.masterProcesses, input.ownConnectionIds ?? []).length;
    lwDetail = `none running ≥ ${input.runningUpdatesLimit} s; ${clients} client connection(s) will be ended after read_only`;
  }
  add('long_writes', `no write running ≥ ${input.runningUpdatesLimit} s on the master`, lw, lwDetail);

  // --- errant GTIDs
  const errant = a.findings.filter((f) => f.code === 'errant_gtid' && f.severity === 'error').map(findingText);
  add('errant_gtid', 'no errant GTID on any replica', errant, 'none');

  const failed = checks.filter((c) => !c.ok);
  if (failed.length > 0 || chosen === undefined || a.master === undefined || a.masterObs === undefined) {
    return { ok: false, checks, reason: failed.map((c) => `${c.title}: ${c.detail}`).join(' | ') || 'pre-checks failed' };
  }
  return {
    ok: true,
    checks,
    plan: {
      master: a.master,
      newMaster: chosen.name,
      newMasterReason: chosen.reason,
      replicas: a.replicas.filter((r) => r.name !== chosen.name).map((r) => r.name),
      mode: a.mode === 'gtid' ? 'gtid' : 'position',
      flavor: a.masterObs.version.flavor,
      rejected: chosen.rejected,
    },
  };
}

export interface PlanOptions {
  origMasterIsNewSlave: boolean;
  timeoutSeconds: number;
  hook: boolean;
  hasSuperReadOnly: boolean;
  /** Addresses of built-in vip hooks moved inside the switch (engine/switchover.ts vipHooksInSwitch). */
  vips?: string[] | undefined;
}

/** The plan, step by step, as printed before asking. */
export function describePlan(p: SwitchoverPlan, o: PlanOptions): string[] {
  const ro = o.hasSuperReadOnly ? 'read_only and super_read_only' : 'read_only';
  const vip = o.vips !== undefined && o.vips.length > 0 ? o.vips.join(', ') : undefined;
  const steps = [
    ...(o.hook && !vip ? [`master_ip_online_change_script --command=stop`] : []),
    ...(vip ? [`${p.master}'s host: release ${vip}  (writes through it blocked from here)`] : []),
    `${p.master}: set ${ro} = ON  (writes blocked from here)`,
    ...(vip ? [`${p.newMaster}'s host: add ${vip}, gratuitous ARP  (once ${p.master}'s host has released it, beside the next steps)`] : []),
    `${p.master}: end every client connection (not replication, not mhats)`,
    `${p.master}: record the final binlog position${p.mode === 'gtid' ? ' and GTID position' : ''}`,
    `${p.newMaster}: wait until it has applied exactly that (at most ${o.timeoutSeconds} s of blocked writes in all, else roll back)`,
    `${p.newMaster}: stop replication, record its own binlog position`,
    `${p.newMaster}: set read_only = OFF  (writes accepted again: the new master${vip ? `; only once ${vip} is on its host` : ''})`,
    ...(vip ? [`verify: ${vip} reaches ${p.newMaster}  (beside the next steps)`] : []),
    `${p.newMaster}: RESET SLAVE ALL`,
    ...(o.hook && !vip ? [`master_ip_online_change_script --command=start`] : []),
    ...p.replicas.map((r) => `${r}: ${p.mode === 'gtid' ? 'replicate from' : `once at ${p.master}'s final position, replicate from`} ${p.newMaster} ${p.mode === 'gtid' ? 'by GTID' : "at its recorded position"}`),
    o.origMasterIsNewSlave ? `${p.master}: replicate from ${p.newMaster} (stays read_only)` : `${p.master}: stays read_only and replicates from nobody (--orig-master-is-new-slave not given)`,
    `verify: a heartbeat write on ${p.newMaster} (infra.chk_masterha) reaches every replica`,
  ];
  return steps.map((s, i) => `${String(i + 1).padStart(2)}. ${s}`);
}
