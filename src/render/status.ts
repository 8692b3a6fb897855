/**
 * `mhats status`: the topology as a tree, one line per server with its role,
 * coordinates or GTID position, lag, thread states and read_only. The same
 * model is printed as JSON for scripts. Pure.
 */
import { formatCoord } from '../domain/binlog-coord.js';
import { traitsOf, type PromotionRule, type RuleSource } from '../domain/promotion.js';
import type { TopologyAnalysis } from '../domain/topology.js';
import type { ServerObservation } from '../domain/types.js';
import type { ClusterReport } from './check-repl.js';
import type { Painter } from './colors.js';

export interface ServerStatus {
  name: string;
  address: string;
  role: 'master' | 'replica' | 'down' | 'unknown';
  source?: string | undefined;
  version?: string | undefined;
  readOnly?: boolean | undefined;
  superReadOnly?: boolean | null | undefined;
  binlog?: string | undefined;
  gtid?: string | undefined;
  io?: string | undefined;
  sql?: boolean | undefined;
  lagSeconds?: number | null | undefined;
  read?: string | undefined;
  exec?: string | undefined;
  lastError?: string | undefined;
  error?: string | undefined;
  /** Its promotion settings from the config: the rule (and the setting it came from), labels, backup / allow_promotion, replication delay. */
  promotion: ServerPromotion;
  /** Maintenance of this server in force (one line each), empty when none. */
  maintenance: string[];
  children: ServerStatus[];
}

export interface ServerPromotion {
  rule: PromotionRule;
  /** Where the rule comes from: promotion_rule, candidate_master, no_master, or default (neutral). */
  from: RuleSource;
  datacenter: string | null;
  region: string | null;
  backup: boolean;
  allowPromotion: boolean;
  /** SQL_Delay of a delayed replica (seconds; 0 when not delayed or unknown). */
  delaySeconds: number;
}

export interface LastFailoverSummary {
  id: string;
  startedAt: string;
  outcome: string;
  oldMaster?: string | undefined;
  newMaster?: string | undefined;
  durationMs?: number | undefined;
  lost?: string | undefined;
}

export interface ClusterStatus {
  cluster: string;
  mode: TopologyAnalysis['mode'];
  healthy: boolean;
  master?: string | undefined;
  errors: string[];
  tree: ServerStatus[];
  lastFailover?: LastFailoverSummary | undefined;
  /** etcd sharding: the manager that owns the cluster (null: none right now). */
  owner?: string | null | undefined;
  /** Maintenance in force, one line each (mhats maintenance list). */
  maintenance?: string[] | undefined;
}

function gtidOf(o: ServerObservation): string | undefined {
  const g = o.version.flavor === 'mariadb' ? (o.gtid.binlogPos ?? o.gtid.executed) : o.gtid.executed;
  return g === '' ? undefined : g;
}

/** `serverMaintenance`: per server name, its maintenance entries in force (describeEntry lines). */
export function statusModel(r: ClusterReport, lastFailover?: LastFailoverSummary, serverMaintenance: Readonly<Record<string, readonly string[]>> = {}): ClusterStatus {
  const a = r.analysis;
  const nodes = new Map<string, ServerStatus>();
  const obsByName = new Map<string, ServerObservation>();
  if (a.masterObs) obsByName.set(a.masterObs.name, a.masterObs);
  for (const rep of a.replicas) obsByName.set(rep.name, rep.obs);
  for (const s of r.specs) {
    const o = obsByName.get(s.name);
    const down = a.unreachable.find((u) => u.name === s.name);
    const rep = o?.replica;
    const t = traitsOf(s);
    nodes.set(s.name, {
      name: s.name,
      address: `${s.ip}:${s.port}`,
      role: down ? 'down' : s.name === a.master ? 'master' : rep ? 'replica' : 'unknown',
      source: a.replicas.find((x) => x.name === s.name)?.source,
      version: o?.version.raw,
      readOnly: o?.readOnly,
      superReadOnly: o?.superReadOnly,
      binlog: o?.binlog ? formatCoord(o.binlog) : undefined,
      gtid: o ? gtidOf(o) : undefined,
      io: rep?.ioRunning,
      sql: rep?.sqlRunning,
      lagSeconds: rep ? rep.secondsBehind : undefined,
      read: rep ? formatCoord(rep.read) : undefined,
      exec: rep ? formatCoord(rep.exec) : undefined,
      lastError: rep ? rep.lastSqlError || rep.lastIoError || undefined : undefined,
      error: down ? `${down.kind}: ${down.message}` : undefined,
      promotion: { rule: t.rule, from: t.ruleFrom, datacenter: t.datacenter ?? null, region: t.region ?? null, backup: t.backup, allowPromotion: t.allowPromotion, delaySeconds: rep?.sqlDelay ?? 0 },
      maintenance: [...(serverMaintenance[s.name] ?? [])],
      children: [],
    });
  }
  const roots: ServerStatus[] = [];
  for (const n of nodes.values()) {
    const parent = n.source !== undefined && n.source !== n.name && n.name !== a.master ? nodes.get(n.source) : undefined;
    if (parent) parent.children.push(n);
    else roots.push(n);
  }
  // Master first, then the rest in config order.
  roots.sort((x, y) => (x.name === a.master ? -1 : y.name === a.master ? 1 : 0));
  return {
    cluster: r.cluster,
    mode: a.mode,
    healthy: a.healthy,
    master: a.master,
    errors: a.findings.filter((f) => f.severity === 'error').map((f) => `${f.server ?? r.cluster}: ${f.message}`),
    tree: roots,
    lastFailover,
  };
}

/** "rule:prefer (candidate_master) dc:fra1 region:eu backup": the promotion settings, for a status line. */
export function promotionText(pr: ServerPromotion, p: Painter): string {
  const rule = `rule:${pr.rule}${pr.from === 'promotion_rule' || pr.from === 'default' ? '' : ` (${pr.from})`}`;
  const parts = [pr.rule === 'must_not' ? p.yellow(rule) : rule];
  if (pr.datacenter !== null) parts.push(`dc:${pr.datacenter}`);
  if (pr.region !== null) parts.push(`region:${pr.region}`);
  if (pr.backup) parts.push(pr.allowPromotion ? 'backup (allow_promotion)' : p.yellow('backup'));
  if (pr.delaySeconds > 0) parts.push(pr.allowPromotion ? `delayed ${pr.delaySeconds}s (allow_promotion)` : p.yellow(`delayed ${pr.delaySeconds}s`));
  return parts.join(' ');
}

function line(n: ServerStatus, p: Painter): string {
  const parts: string[] = [p.bold(n.name), n.address];
  const role = n.role === 'master' ? p.green('master') : n.role === 'down' ? p.red('DOWN') : n.role === 'replica' ? 'replica' : p.yellow(n.role);
  parts.push(role);
  parts.push(promotionText(n.promotion, p));
  if (n.maintenance.length > 0) parts.push(p.yellow('IN MAINTENANCE'));
  if (n.error) {
    parts.push(p.red(n.error));
    return parts.join('  ');
  }
  if (n.readOnly !== undefined) {
    const ro = n.readOnly ? `read_only${n.superReadOnly ? '+super' : ''}` : 'writable';
    parts.push(n.role === 'master' ? (n.readOnly ? p.red(ro) : ro) : n.readOnly ? ro : p.red(ro));
  }
  if (n.io !== undefined) {
    const io = n.io === 'Yes' ? 'IO:Yes' : p.red(`IO:${n.io}`);
    const sql = n.sql ? 'SQL:Yes' : p.red('SQL:No');
    parts.push(`${io} ${sql}`);
    parts.push(n.lagSeconds === null || n.lagSeconds === undefined ? p.yellow('lag:?') : `lag:${n.lagSeconds}s`);
    if (n.exec) parts.push(`exec ${n.exec}`);
  }
  if (n.binlog) parts.push(`binlog ${n.binlog}`);
  if (n.gtid) parts.push(`gtid ${n.gtid}`);
  if (n.lastError) parts.push(p.red(`error: ${n.lastError}`));
  if (n.version) parts.push(p.dim(n.version));
  return parts.join('  ');
}

export function renderStatus(models: ClusterStatus[], p: Painter): string {
  const out: string[] = [];
  for (const m of models) {
    const mode = m.mode === 'gtid' ? 'GTID' : m.mode === 'position' ? 'binlog positions' : m.mode;
    out.push(`${p.bold(m.cluster)}  (${mode})  ${m.healthy ? p.green('healthy') : p.red(`${m.errors.length} problem(s)`)}`);
    const walk = (n: ServerStatus, prefix: string, isLast: boolean, depth: number): void => {
      const branch = depth === 0 ? '' : isLast ? '└─ ' : '├─ ';
      out.push(`${prefix}${branch}${line(n, p)}`);
      const childPrefix = depth === 0 ? prefix : prefix + (isLast ? '   ' : '│  ');
      n.children.forEach((c, i) => walk(c, childPrefix, i === n.children.length - 1, depth + 1));
    };
    for (const root of m.tree) walk(root, '  ', true, 0);
    for (const e of m.errors) out.push(`  ${p.red('!')} ${e}`);
    if (m.owner !== undefined) out.push(`  owner: ${m.owner === null ? p.red('no manager owns it right now') : m.owner}`);
    for (const e of m.maintenance ?? []) out.push(`  ${p.yellow('IN MAINTENANCE:')} ${e}`);
    if (m.lastFailover) {
      const f = m.lastFailover;
      out.push(`  last failover: ${f.startedAt} ${f.oldMaster ?? '?'} → ${f.newMaster ?? '?'}  ${f.outcome}${f.durationMs === undefined ? '' : ` in ${f.durationMs} ms`}${f.lost ? `  lost: ${f.lost}` : ''}  (${f.id})`);
    }
    out.push('');
  }
  return out.join('\n');
}
