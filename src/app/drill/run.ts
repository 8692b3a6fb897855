/**
 * `mhats drill`: a failover drill with invariants, on a sandbox or a cluster
 * marked `drill: allowed`.
 *
 * One run:
 *  1. check the cluster is healthy and a manager watches it (nothing injected
 *     into a cluster that is not);
 *  2. create the drill schema and an application account without SUPER
 *     (read_only must stop it, as it stops the applications);
 *  3. start the watcher (every server's read_only and replication state every
 *     100 ms) and the writer (sequence-numbered autocommit INSERTs through
 *     the application endpoint);
 *  4. inject the fault on the master's host over SSH, wait for the failover
 *     (or, for faults that must not cause one, watch that none comes);
 *  5. heal the fault, and check the old master is fenced;
 *  6. fold what was seen into the invariants (src/domain/drill).
 * Between runs the old master rejoins as a replica of the new one and the
 * drill acknowledges its own failover, so the next run can fail over again.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { lookup } from 'node:dns/promises';
import type { ClusterConfig, LoadedConfig, ServerConfig } from '../../config/types.js';
import { hooksFor, type HookSpec } from '../../config/hooks.js';
import { FileJournal } from '../../adapters/journal/file-journal.js';
import { openEtcdJournal } from '../../adapters/journal/etcd-journal.js';
import { inspectAll } from '../../adapters/mysql/inspect.js';
import { openSession } from '../../adapters/mysql/connection.js';
import { sshOptionsFor } from '../../adapters/ssh/targets.js';
import { holdsAddress, probeHost, type SshAccess } from '../../adapters/drill/faults.js';
import { Sampler } from '../../adapters/drill/sampler.js';
import { DrillWriter, type Endpoint } from '../../adapters/drill/writer.js';
import { Secret } from '../../domain/secret.js';
import { analyzeTopology } from '../../domain/topology.js';
import { guard, summarize, type JournalRecord } from '../../domain/guard.js';
import { gtidContains } from '../../domain/gtid.js';
import {
  allHold,
  checkChecksums,
  checkHooks,
  checkManager,
  checkOldMasterFenced,
  checkOneWritable,
  checkOutcome,
  checkSurvivors,
  checkWrites,
  firstWritableOther,
  oldMasterWritableAgain,
  restartedWritableNote,
  hooksExpected,
  parseLostClaim,
  timings,
  type HookRun,
  type OldMasterState,
  type SurvivorState,
} from '../../domain/drill/invariants.js';
import type { DrillRunResult, Verdict } from '../../domain/drill/types.js';
import { Admin, replicaStatusOf, specOf, target } from '../../engine/ops/admin.js';
import { topologyOptions } from '../../config/resolve.js';
import { UserError } from '../../errors/errors.js';
import { ExitCode } from '../../errors/exit-codes.js';
import { readSandbox, type SandboxInfo } from '../../sandbox/index.js';
import { chooseEndpoint, type EndpointChoice } from './endpoint.js';
import type { FaultContext, FaultPlan } from './faults.js';
import type { ManagerHandle } from './managers.js';
import { toReplicaSample } from '../../adapters/drill/sampler.js';

export const DRILL_SCHEMA = 'mhats_drill';
export const DRILL_TABLE = `\`${DRILL_SCHEMA}\`.\`writes\``;
export const DRILL_USER = 'mhats_drill';

export interface DrillOptions {
  config: LoadedConfig;
  cluster: ClusterConfig;
  /** The config file (to find a sandbox next to it). */
  configPath: string;
  plan: () => FaultPlan;
  runs: number;
  /** Writes per second. */
  rate: number;
  yes: boolean;
  managers: ManagerHandle[];
  endpoint?: string | undefined;
  timeoutMs: number;
  faultSeconds: number;
  startCommand?: string | undefined;
  /** Progress lines (stderr). */
  log: (line: string) => void;
  /** A sandbox to heal network faults with; default: the one whose sandbox.json is next to the config file, if it is this cluster's. */
  sandbox?: SandboxInfo | undefined;
}

export interface DrillReport {
  cluster: string;
  fault: string;
  endpoint: string;
  results: DrillRunResult[];
  ok: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- refusal

/** The sandbox this config belongs to: sandbox.json next to the config file, whose servers are the cluster's. */
export async function sandboxOf(configPath: string, cluster: ClusterConfig): Promise<SandboxInfo | undefined> {
  const dir = dirname(resolve(configPath));
  if (!existsSync(join(dir, 'sandbox.json'))) return undefined;
  const info = await readSandbox(dir).catch(() => undefined);
  if (!info) return undefined;
  const ours = cluster.servers.every((s) => info.servers.some((x) => x.address === s.ip && x.port === s.port));
  return ours ? info : undefined;
}

/** Refuses (touching nothing) a cluster not marked `drill: allowed` that is not a sandbox, or a run without --yes. */
export function refusal(cluster: ClusterConfig, sandbox: SandboxInfo | undefined, yes: boolean): UserError | undefined {
  if (cluster.drill !== 'allowed' && sandbox === undefined) {
    return new UserError(`cluster ${cluster.name} is not marked for drills: mhats drill injects real faults (it kills, stops or cuts off the master) and refuses a cluster without \`drill: allowed\``, {
      hint: `only for a staging cluster: add \`drill: allowed\` to clusters.${cluster.name} in ${cluster.source_file ?? 'the configuration'} (a sandbox needs no mark)`,
      exitCode: ExitCode.USAGE,
    });
  }
  if (cluster.drill === 'forbidden') return new UserError(`cluster ${cluster.name} is marked \`drill: forbidden\``, { exitCode: ExitCode.USAGE });
  if (!yes) {
    return new UserError(`mhats drill injects a real fault into ${cluster.name}'s master and fails it over: pass --yes to go ahead`, { exitCode: ExitCode.USAGE });
  }
  return undefined;
}

// ---------------------------------------------------------------- journal

interface JournalSource {
  read(): Promise<JournalRecord[]>;
  append(r: JournalRecord): Promise<void>;
}

async function journalSource(config: LoadedConfig, cluster: string): Promise<JournalSource> {
  if (config.etcd) {
    const j = await openEtcdJournal(config.etcd, cluster, 'mhats-drill');
    return {
      read: async () => {
        await j.refresh();
        return j.read();
      },
      append: async (r) => {
        j.append(r);
        await j.flush();
      },
    };
  }
  const j = new FileJournal(config.state_dir, cluster);
  return { read: () => Promise.resolve(j.read()), append: (r) => Promise.resolve(j.append(r)) };
}

interface FailoverSeen {
  id: string;
  begin: Extract<JournalRecord, { type: 'begin' }>;
  end?: Extract<JournalRecord, { type: 'end' }> | undefined;
}

function failoversSince(records: JournalRecord[], since: number): FailoverSeen[] {
  const out = new Map<string, FailoverSeen>();
  for (const r of records) {
    if (r.type === 'begin' && r.at >= since - 1000) out.set(r.id, { id: r.id, begin: r });
    else if (r.type === 'end') {
      const f = out.get(r.id);
      if (f) f.end = r;
    }
  }
  return [...out.values()];
}

function hookRuns(records: JournalRecord[], id: string): HookRun[] {
  const out: HookRun[] = [];
  for (const r of records) {
    if (r.type !== 'event' || r.id !== id) continue;
    const d = r.detail as { hook?: unknown; phase?: unknown; verdict?: unknown } | undefined;
    if (typeof d?.hook === 'string' && typeof d.phase === 'string') out.push({ name: d.hook, phase: d.phase, verdict: typeof d.verdict === 'string' ? d.verdict : '?' });
  }
  return out;
}

/** Did the failover get as far as Phase 2 (fencing, stop hooks)? From its phase records, or a stop hook that ran. */
function reachedShutdown(records: JournalRecord[], id: string): boolean {
  return records.some((r) => r.id === id && ((r.type === 'phase' && /Phase [2-5]/.test(r.phase)) || (r.type === 'event' && (r.detail as { phase?: unknown } | undefined)?.phase === 'stop')));
}

// ---------------------------------------------------------------- topology

async function healthyMaster(cluster: ClusterConfig, exclude: ReadonlySet<string>): Promise<{ master: ServerConfig; others: ServerConfig[]; flavor: 'mariadb' | 'mysql' }> {
  const servers = cluster.servers.filter((s) => !exclude.has(s.name));
  const probes = await inspectAll(servers.map(target), { connectTimeoutMs: cluster.connect_timeout * 1000, queryTimeoutMs: cluster.query_timeout * 1000, now: Date.now });
  const a = analyzeTopology(servers.map(specOf), probes, topologyOptions(cluster));
  const errors = a.findings.filter((f) => f.severity === 'error').map((f) => `${f.server ?? cluster.name}: ${f.message}`);
  if (!a.healthy || a.master === undefined || a.masterObs === undefined) {
    throw new UserError(`cluster ${cluster.name} is not healthy, so no fault is injected: ${errors.join('; ') || 'no master found'}`, { hint: 'fix it first (mhats check-repl)' });
  }
  const master = servers.find((s) => s.name === a.master)!;
  return { master, others: servers.filter((s) => s !== master), flavor: a.masterObs.version.flavor };
}

// ---------------------------------------------------------------- SQL helpers

async function q1(server: ServerConfig, cluster: ClusterConfig, sql: string | { sql: string; values: unknown[] }, timeoutMs?: number): Promise<Record<string, unknown>[]> {
  const a = await Admin.open(server, cluster);
  try {
    const r = await a.q(sql, timeoutMs);
    a.close();
    return r;
  } catch (err) {
    a.destroy();
    throw err;
  }
}

async function setupSchema(master: ServerConfig, cluster: ClusterConfig, password: string): Promise<void> {
  const a = await Admin.open(master, cluster);
  try {
    await a.q(`CREATE DATABASE IF NOT EXISTS \`${DRILL_SCHEMA}\``);
    await a.q(`CREATE TABLE IF NOT EXISTS ${DRILL_TABLE} (run VARCHAR(64) NOT NULL, seq BIGINT NOT NULL, at DATETIME(6) NOT NULL, PRIMARY KEY (run, seq)) ENGINE=InnoDB`);
    // The application's account: no SUPER, so read_only stops it as it stops the applications.
    await a.q({ sql: `CREATE USER IF NOT EXISTS '${DRILL_USER}'@'%' IDENTIFIED BY ?`, values: [password] });
    await a.q({ sql: `ALTER USER '${DRILL_USER}'@'%' IDENTIFIED BY ?`, values: [password] });
    await a.q(`GRANT SELECT, INSERT ON \`${DRILL_SCHEMA}\`.* TO '${DRILL_USER}'@'%'`);
    a.close();
  } catch (err) {
    a.destroy();
    throw err;
  }
}

async function checksum(server: ServerConfig, cluster: ClusterConfig): Promise<string | undefined> {
  try {
    const [row] = await q1(server, cluster, `CHECKSUM TABLE ${DRILL_TABLE}`, 20_000);
    return row ? String(row.Checksum) : undefined;
  } catch {
    return undefined;
  }
}

/** Polls until every survivor's checksum equals the new master's (the writer has stopped), or the deadline. */
async function settledChecksums(nm: ServerConfig, survivors: ServerConfig[], cluster: ClusterConfig, ms: number): Promise<Map<string, string | undefined>> {
  const end = performance.now() + ms;
  for (;;) {
    const all = [nm, ...survivors];
    const sums = new Map(await Promise.all(all.map(async (s) => [s.name, await checksum(s, cluster)] as const)));
    const vals = new Set(sums.values());
    if ((vals.size === 1 && !vals.has(undefined)) || performance.now() > end) return sums;
    await sleep(250);
  }
}

// ---------------------------------------------------------------- endpoint

function endpointResolver(choice: EndpointChoice, servers: ServerConfig[], user: string, password: string, localAddress: string | undefined): () => Promise<Endpoint | undefined> {
  if (choice.kind !== 'read-only-routing') {
    const { host, port } = choice;
    if (choice.kind === 'hosts') {
      return async () => {
        const r = await lookup(host, { family: 4 });
        return { host: r.address, port };
      };
    }
    return () => Promise.resolve({ host, port });
  }
  return async () => {
    const answers = await Promise.all(
      servers.map(async (s) => {
        try {
          const sess = await openSession({ name: s.name, host: s.ip, port: s.port, user, password: new Secret(password), localAddress }, { connectTimeoutMs: 300, queryTimeoutMs: 300 });
          try {
            const [r] = await sess.query<{ ro: unknown }>('SELECT @@global.read_only AS ro');
            sess.close();
            return Number(r?.ro) === 0 ? { host: s.ip, port: s.port } : undefined;
          } catch {
            sess.destroy();
            return undefined;
          }
        } catch {
          return undefined;
        }
      }),
    );
    return answers.find((x) => x !== undefined);
  };
}

// ---------------------------------------------------------------- one run

interface RunState {
  runId: string;
  password: string;
}

export async function runDrill(o: DrillOptions): Promise<DrillReport> {
  const cluster = o.cluster;
  const sandbox = o.sandbox ?? (await sandboxOf(o.configPath, cluster));
  const refused = refusal(cluster, sandbox, o.yes);
  if (refused) throw refused;
  const hookPlan = hooksFor(cluster);
  if (!hookPlan.ok) throw new UserError(`cluster ${cluster.name}: ${hookPlan.reason}`);
  let choice: EndpointChoice;
  try {
    choice = chooseEndpoint(cluster, hookPlan.hooks, o.endpoint);
  } catch (err) {
    throw new UserError((err as Error).message, { exitCode: ExitCode.USAGE });
  }
  const journal = await journalSource(o.config, cluster.name);
  const results: DrillRunResult[] = [];
  const state: RunState = { runId: '', password: randomBytes(18).toString('base64url') };
  let fault = '';
  for (let run = 1; run <= o.runs; run++) {
    const plan = o.plan();
    fault = plan.name;
    if (run > 1) {
      const prev = results.at(-1)!;
      const ready = await prepareNextRun(o, journal, prev, sandbox);
      if (ready !== true) {
        o.log(`run ${run} not started: ${ready}`);
        results.push({ ...prev, run, notes: [`not started: ${ready}`], verdicts: [{ name: 'outcome', ok: false, detail: `run not started: ${ready}` }], ok: false, timings: {}, acked: 0, inDoubt: 0, missing: 0, reportedLost: '-', newMaster: undefined, failoverId: undefined, outcome: undefined });
        break;
      }
    }
    state.runId = `${cluster.name}-${new Date().toISOString().replace(/[-:.]/g, '')}-${run}`;
    const r = await runOnce(o, plan, run, state, choice, hookPlan.hooks, journal, sandbox);
    results.push(r);
    o.log(`run ${run}: ${r.ok ? 'every invariant holds' : `BROKEN: ${r.verdicts.filter((v) => !v.ok).map((v) => v.name).join(', ')}`}`);
  }
  return { cluster: cluster.name, fault, endpoint: choice.why, results, ok: results.length > 0 && results.every((r) => r.ok) };
}

async function runOnce(o: DrillOptions, plan: FaultPlan, run: number, st: RunState, choice: EndpointChoice, hooks: HookSpec[], journal: JournalSource, sandbox: SandboxInfo | undefined): Promise<DrillRunResult> {
  const cluster = o.cluster;
  const t0 = Date.now();
  const now = (): number => Date.now() - t0;
  const notes: string[] = [];
  const log = (line: string): void => o.log(`[run ${run} +${(now() / 1000).toFixed(1)}s] ${line}`);

  // 1. A healthy cluster, watched, with automatic failover allowed.
  const before = summarize(await journal.read());
  const failedBefore = new Set(before.filter((s) => (s.outcome === 'success' || s.outcome === 'partial') && !s.rejoined).map((s) => s.deadMaster));
  const { master: old, others, flavor } = await healthyMaster(cluster, failedBefore);
  const g = guard(before, Date.now(), cluster.last_failover_minute, 'auto', cluster.name);
  if (!g.allowed && plan.expect !== 'no-failover') throw new UserError(`automatic failover of ${cluster.name} is blocked, so a drill would prove nothing: ${g.reason}`);
  await waitWatched(o.managers, cluster.name, old.name, 30_000);
  log(`master ${old.name}; replicas ${others.map((s) => s.name).join(', ')}; endpoint: ${choice.why}`);

  // The fault must be possible before anything is touched.
  const ssh: SshAccess = sshOptionsFor(cluster, old);
  const [pf] = (await q1(old, cluster, 'SELECT @@global.pid_file AS pf, @@global.datadir AS dd, @@global.server_id AS sid')) as Array<{ pf: string | null; dd: string | null; sid: number | string }>;
  const oldServerId = String(pf?.sid ?? '');
  const pidFile = pf?.pf ?? '';
  const probe = await probeHost(ssh, pidFile.startsWith('/') ? pidFile : join(pf?.dd ?? '/', pidFile)).catch((err: unknown) => {
    throw new UserError(`cannot reach ${old.name}'s host over SSH to inject the fault: ${(err as Error).message}`);
  });
  const ctx: FaultContext = { cluster, old, ssh, probe, sandbox, managers: o.managers, log, now, notes, startCommand: o.startCommand, faultSeconds: o.faultSeconds, timeoutMs: o.timeoutMs, excluded: new Set(), records: () => journal.read() };
  const impossible = plan.impossible?.(ctx);
  if (impossible !== undefined) throw new UserError(`fault ${plan.name} is not possible on ${old.name}: ${impossible}`);

  // 2. Schema and the application's account; every replica has them before the fault. A delayed
  // replica (MASTER_DELAY) applies them only after its delay: it is not waited for, and its checksum
  // is not compared (it replicates from the new master all the same: survivors-replicate).
  await setupSchema(old, cluster, st.password);
  const delayed = await delayedReplicas(others, cluster);
  if (delayed.size > 0) notes.push(`${[...delayed].map(([n, d]) => `${n} is a delayed replica (SQL_Delay ${d} s)`).join('; ')}: not waited for before the fault, and left out of checksums-equal (it applies the drill's writes only after its delay); survivors-replicate still checks that it replicates from the new master`);
  await waitConverged(old, others.filter((s) => !delayed.has(s.name)), cluster, 30_000);

  // 3. Watch and write.
  const all = cluster.servers.filter((s) => !failedBefore.has(s.name));
  const sampler = new Sampler(all.map(target), { now, intervalMs: 100 });
  const localAddress = sandbox?.netns?.appAddress;
  const writer = new DrillWriter({ resolve: endpointResolver(choice, all, DRILL_USER, st.password, localAddress), user: DRILL_USER, password: st.password, localAddress, rate: o.rate, table: DRILL_TABLE, run: st.runId, gtids: flavor === 'mariadb', now });
  sampler.start();
  writer.start();
  let healed = false;
  try {
    await writer.waitFor(Math.max(20, Math.round(o.rate)), 20_000);

    // 4. The fault.
    const faultAt = now();
    const faultWall = Date.now();
    await plan.inject(ctx);
    let seen: FailoverSeen[] = [];
    let records: JournalRecord[] = [];
    let begun = false;
    const waitMs = plan.expect === 'no-failover' ? (plan.observeMs?.(ctx) ?? defaultObserveMs(cluster)) : o.timeoutMs;
    const deadline = performance.now() + waitMs;
    for (;;) {
      records = await journal.read().catch(() => records);
      seen = failoversSince(records, faultWall).filter((f) => f.begin.deadMaster === old.name || plan.expect !== 'failover');
      const first = seen[0];
      if (first && !begun) {
        begun = true;
        log(`failover ${first.id} began`);
        if (plan.onBegin) await plan.onBegin(ctx, first.id).catch((err: unknown) => notes.push(`at the failover's start: ${(err as Error).message}`));
        // An interrupted failover: onBegin did the interrupting (and the restart); what follows is checked by the plan.
        if (plan.expect === 'interrupted') break;
        continue;
      }
      if (plan.expect === 'failover' && first?.end) break;
      if (plan.expect === 'no-failover' && first) break;
      if (performance.now() > deadline) break;
      await sleep(100);
    }
    const fo = seen[0];
    if (fo?.end) log(`failover ${fo.id} ended: ${fo.end.outcome}${fo.end.newMaster ? ` → ${fo.end.newMaster}` : ''}`);
    else if (plan.expect === 'no-failover' && !fo) log(`no failover in ${Math.round(waitMs / 1000)} s`);
    // Let the application write to the new master for a moment.
    if (fo?.end?.newMaster) await sleep(1500);
    await writer.stop();

    // 5. Heal, then the old master's state.
    await plan.heal(ctx);
    healed = true;
    const newMasterName = plan.expect === 'failover' ? fo?.end?.newMaster : plan.expect === 'no-failover' ? old.name : undefined;
    const oldState = plan.oldMasterReturns && newMasterName !== old.name ? await oldMasterState(cluster, old, hooks, ssh, cluster.ping_interval) : undefined;
    await sleep(300);
    await sampler.stop();

    // 6. The invariants.
    records = await journal.read().catch(() => records);
    const verdicts: Verdict[] = [];
    const foView = fo ? { id: fo.id, outcome: fo.end?.outcome, newMaster: fo.end?.newMaster, reason: fo.end?.reason } : undefined;
    const outcomeV = plan.outcome ? plan.outcome(foView, ctx) : plan.expect === 'interrupted' ? undefined : checkOutcome(plan.expect, foView, waitMs);
    if (outcomeV) verdicts.push(outcomeV);
    const oneWritable = checkOneWritable(sampler.rounds);
    verdicts.push(oneWritable);
    if (!oneWritable.ok && plan.name === 'netdown' && !cluster.shutdown_script) {
      notes.push(
        `${old.name} was cut off from the network, not powered off: it stayed writable behind the partition and came back writable, until the manager fenced it. No shutdown_script (power fencing: IPMI, a cloud API) is configured, so nothing could stop it while it was unreachable; configure one (a sandbox: mhats sandbox up --power-fencing)`,
      );
    }
    // The old master back writable (no read_only=ON in its my.cnf) and fenced by the manager only: say why, and what to configure.
    const again = oldMasterWritableAgain(sampler.rounds, old.name, firstWritableOther(sampler.rounds, old.name, faultAt)?.at);
    if (oldState?.readOnly === true && (again !== undefined || (oldState.fencedAfterMs ?? 0) > 0) && !(plan.name === 'netdown' && !cluster.shutdown_script)) {
      notes.push(restartedWritableNote(old.name, newMasterName, again, oldState.fencedAfterMs));
    }
    let missing = 0;
    let reportedLost = '-';
    const nm = newMasterName ? cluster.servers.find((s) => s.name === newMasterName) : undefined;
    if (nm && (plan.expect === 'no-failover' || fo?.end?.outcome === 'success' || fo?.end?.outcome === 'partial')) {
      const rows = await q1(nm, cluster, { sql: `SELECT seq FROM ${DRILL_TABLE} WHERE run = ?`, values: [st.runId] }, 20_000).catch(() => undefined);
      const detail = fo?.end?.detail as { lostGtids?: string[] } | undefined;
      const claim = plan.expect === 'no-failover' ? ({ kind: 'none' } as const) : parseLostClaim(fo?.end?.lost, detail?.lostGtids);
      reportedLost = plan.expect === 'no-failover' ? '-' : (fo?.end?.lost ?? 'none');
      if (rows === undefined) {
        verdicts.push({ name: 'acked-writes-present', ok: false, detail: `could not read the drill table on ${nm.name}` });
      } else {
        const w = checkWrites({ acked: writer.acked, inDoubt: writer.inDoubt, present: rows.map((r) => Number(r.seq)), claim, checkedOn: nm.name });
        missing = w.missing.length;
        verdicts.push(...w.verdicts);
      }
      const survivors = cluster.servers.filter((s) => s.name !== nm.name && s.name !== old.name && !failedBefore.has(s.name) && !ctx.excluded.has(s.name));
      const sums = await settledChecksums(nm, survivors.filter((s) => !delayed.has(s.name)), cluster, 30_000);
      verdicts.push(checkSurvivors({ name: nm.name, addresses: [nm.hostname, nm.ip], port: nm.port }, await survivorStates(survivors, cluster)));
      verdicts.push(checkChecksums(sums));
    }
    if (oldState) verdicts.push(checkOldMasterFenced(oldState));
    if (plan.expect === 'failover' && fo) verdicts.push(checkHooks(hooksExpected(hooks, fo.end?.outcome, reachedShutdown(records, fo.id)), hookRuns(records, fo.id)));
    if (plan.verdicts) verdicts.push(...(await plan.verdicts(ctx, records, seen.map((s) => s.id))));
    const mstates = await Promise.all(o.managers.map((m) => m.running()));
    verdicts.push(checkManager(mstates.length > 0 && mstates.some((m) => m.ok), mstates.map((m) => m.detail).join('; ') || 'no manager known'));

    const writable = firstWritableOther(sampler.rounds, old.name, faultAt);
    const firstAck = writer.acked.find((a) => a.at > faultAt && a.by !== undefined && a.by !== oldServerId);
    const t = timings(faultAt, {
      beginAt: fo ? fo.begin.at - t0 : undefined,
      writableAt: writable?.at,
      endAt: fo?.end ? fo.end.at - t0 : undefined,
      firstAckAfterFault: plan.expect === 'failover' ? firstAck?.at : undefined,
    });
    return {
      run,
      fault: plan.name,
      oldMaster: old.name,
      newMaster: fo?.end?.newMaster,
      failoverId: fo?.id,
      outcome: fo ? (fo.end?.outcome ?? 'unfinished') : 'none',
      timings: t,
      acked: writer.acked.length,
      inDoubt: writer.inDoubt.length,
      missing,
      reportedLost,
      verdicts,
      ok: allHold(verdicts),
      notes,
    };
  } finally {
    await writer.stop();
    if (!healed) await plan.heal(ctx).catch((err: unknown) => o.log(`healing after an error failed too: ${(err as Error).message}`));
    await sampler.stop();
  }
}

function defaultObserveMs(cluster: ClusterConfig): number {
  // Long enough for the manager to have failed over if it were going to: several detection cycles.
  const detect = cluster.ping_interval * 1000 + cluster.ping_failures * (cluster.ping_retry_interval * 1000 + cluster.ping_timeout * 1000);
  return Math.max(10_000, 3 * detect);
}

async function waitWatched(managers: ManagerHandle[], cluster: string, master: string, ms: number): Promise<void> {
  if (managers.length === 0) throw new UserError('no manager: start one (mhats manager) or pass --with-manager');
  const end = performance.now() + ms;
  let last = '';
  for (;;) {
    const views = await Promise.all(managers.map((m) => m.cluster(cluster)));
    if (views.some((v) => v?.state === 'watching' && v.master === master)) return;
    last = views.map((v, i) => `${managers[i]!.label}: ${v ? `${v.state}, master ${v.master ?? '?'}` : 'no answer'}`).join('; ');
    if (performance.now() > end) throw new UserError(`no manager watches ${cluster} with master ${master} (${last}), so no fault is injected`);
    await sleep(200);
  }
}

/** The delayed replicas (SQL_Delay > 0) among these, with their delay in seconds; a server that does not answer is not counted. */
async function delayedReplicas(replicas: ServerConfig[], cluster: ClusterConfig): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  await Promise.all(
    replicas.map(async (r) => {
      const a = await Admin.open(r, cluster).catch(() => undefined);
      if (!a) return;
      try {
        const rs = await replicaStatusOf(a, cluster.query_timeout * 1000);
        a.close();
        if (rs && rs.sqlDelay > 0) out.set(r.name, rs.sqlDelay);
      } catch {
        a.destroy();
      }
    }),
  );
  return out;
}

/** Waits until every replica has applied what the master has (its GTID position), or throws. */
async function waitConverged(master: ServerConfig, replicas: ServerConfig[], cluster: ClusterConfig, ms: number): Promise<void> {
  const a = await Admin.open(master, cluster);
  let pos: string;
  try {
    const [row] = await a.q(a.d.variablesQuery());
    const gt = a.d.parseVariables(row!).gtid;
    pos = a.d.flavor === 'mariadb' ? gt.binlogPos || gt.executed : gt.executed;
    a.close();
  } catch (err) {
    a.destroy();
    throw err;
  }
  const end = performance.now() + ms;
  for (const r of replicas) {
    for (;;) {
      const b = await Admin.open(r, cluster);
      let done = false;
      try {
        const [row] = await b.q(b.d.variablesQuery());
        const gt = b.d.parseVariables(row!).gtid;
        const have = b.d.flavor === 'mariadb' ? [gt.slavePos ?? '', gt.executed].join(',') : gt.executed;
        done = pos === '' || gtidContains(b.d.flavor, have, pos);
        b.close();
      } catch {
        b.destroy();
      }
      if (done) break;
      if (performance.now() > end) throw new UserError(`${r.name} did not catch up with ${master.name} within ${ms / 1000} s, so no fault is injected`);
      await sleep(100);
    }
  }
}

async function survivorStates(survivors: ServerConfig[], cluster: ClusterConfig): Promise<SurvivorState[]> {
  return Promise.all(
    survivors.map(async (s) => {
      try {
        const a = await Admin.open(s, cluster);
        try {
          const rows = await a.q(a.d.showReplicaStatus());
          a.close();
          return { name: s.name, replica: toReplicaSample(a.d, rows) ?? null };
        } catch (err) {
          a.destroy();
          throw err;
        }
      } catch {
        return { name: s.name, replica: undefined };
      }
    }),
  );
}

/** After healing: wait for the old master to answer, then for it to be read_only (the manager fences it), with deadlines. */
async function oldMasterState(cluster: ClusterConfig, old: ServerConfig, hooks: HookSpec[], ssh: SshAccess, pingInterval: number): Promise<OldMasterState> {
  const answerBy = performance.now() + 60_000;
  let firstAnswer: number | undefined;
  let readOnly: boolean | undefined;
  let fencedAt: number | undefined;
  const fenceWindow = Math.max(10_000, pingInterval * 5000);
  for (;;) {
    try {
      const [r] = await q1(old, cluster, 'SELECT @@global.read_only AS ro', 2000);
      readOnly = Number(r?.ro) !== 0;
      firstAnswer ??= performance.now();
      if (readOnly) {
        fencedAt = performance.now();
        break;
      }
      if (performance.now() - firstAnswer > fenceWindow) break;
    } catch {
      if (firstAnswer === undefined && performance.now() > answerBy) break;
    }
    await sleep(100);
  }
  const state: OldMasterState = { name: old.name, readOnly, fencedAfterMs: firstAnswer !== undefined && fencedAt !== undefined ? Math.round(fencedAt - firstAnswer) : undefined };
  const vip = hooks.find((h) => h.type === 'vip');
  if (vip && vip.type === 'vip') {
    try {
      state.holdsVip = await holdsAddress(ssh, vip.address.split('/')[0] ?? vip.address);
    } catch (err) {
      state.vipError = (err as Error).message;
    }
  }
  return state;
}

// ---------------------------------------------------------------- between runs

/**
 * Before the next run: acknowledge the drill's own failover, and bring the
 * old master back as a replica of the new one when it has nothing the new
 * master lacks (on a sandbox, where only the drill writes, the diverged drill
 * rows are removed first). Returns true, or why the next run cannot start.
 */
async function prepareNextRun(o: DrillOptions, journal: JournalSource, prev: DrillRunResult, sandbox: SandboxInfo | undefined): Promise<true | string> {
  const cluster = o.cluster;
  if (!prev.failoverId || !prev.newMaster) {
    return prev.outcome === 'none' ? true : `the previous run left no finished failover (${prev.outcome ?? '?'})`;
  }
  await journal.append({ type: 'ack', id: prev.failoverId, at: Date.now(), by: 'mhats-drill' });
  const old = cluster.servers.find((s) => s.name === prev.oldMaster)!;
  const nm = cluster.servers.find((s) => s.name === prev.newMaster)!;
  const replPassword = cluster.servers.find((s) => s.repl_password)?.repl_password;
  const replUserName = cluster.servers.find((s) => s.repl_user)?.repl_user;
  if (!replPassword || !replUserName) return `the old master ${old.name} cannot rejoin: no repl_user/repl_password in the configuration`;
  const a = await Admin.open(old, cluster);
  const n = await Admin.open(nm, cluster);
  try {
    const [ov] = await a.q(a.d.variablesQuery());
    const [nv] = await n.q(n.d.variablesQuery());
    const og = a.d.parseVariables(ov!).gtid;
    const ng = n.d.parseVariables(nv!).gtid;
    const oldPos = a.d.flavor === 'mariadb' ? og.binlogPos || og.executed : og.executed;
    const newPos = n.d.flavor === 'mariadb' ? [ng.binlogPos, ng.slavePos, ng.executed].filter(Boolean).join(',') : ng.executed;
    let mode: 'current_pos' | 'slave_pos' | 'auto' = a.d.flavor === 'mariadb' ? 'current_pos' : 'auto';
    if (oldPos !== '' && !gtidContains(a.d.flavor, newPos, oldPos)) {
      if (!sandbox || a.d.flavor !== 'mariadb') return `the old master ${old.name} has transactions the new master ${nm.name} lacks (${oldPos} vs ${newPos}): rebuild it before another run`;
      // Sandbox: only the drill writes. Drop the drill rows the new master does not have, forget the old binlog,
      // and start from where the new master was promoted.
      const end = (await journal.read()).find((r) => r.type === 'end' && r.id === prev.failoverId);
      const promotedAt = (end?.type === 'end' ? (end.detail as { newMasterGtid?: string } | undefined)?.newMasterGtid : undefined) ?? '';
      if (promotedAt === '') return `the old master ${old.name} diverged and the failover report has no promotion position`;
      const have = new Set((await n.q(`SELECT CONCAT(run, '/', seq) AS k FROM ${DRILL_TABLE}`)).map((r) => String(r.k)));
      const mine = (await a.q(`SELECT run, seq, CONCAT(run, '/', seq) AS k FROM ${DRILL_TABLE}`)).filter((r) => !have.has(String(r.k)));
      await a.q(a.d.setSessionSqlLogBin(false));
      for (const r of mine) await a.q({ sql: `DELETE FROM ${DRILL_TABLE} WHERE run = ? AND seq = ?`, values: [r.run, r.seq] });
      await a.q(a.d.stopReplica());
      await a.q(a.d.resetBinaryLogsAndGtids());
      await a.q(a.d.setGtidSlavePos(promotedAt));
      mode = 'slave_pos';
      o.log(`sandbox: removed ${mine.length} diverged drill row(s) from ${old.name} and reset its binlog to rejoin at ${promotedAt}`);
    }
    for (const stmt of a.d.setReadOnly(true)) await a.q(stmt);
    await a.q(a.d.stopReplica());
    await a.q(a.d.changeSource({ host: nm.hostname, port: nm.port, user: replUserName, password: replPassword, gtid: mode, connectRetry: 1, heartbeatPeriod: 1 }));
    await a.q(a.d.startReplica());
    a.close();
    n.close();
  } catch (err) {
    a.destroy();
    n.destroy();
    return `the old master ${old.name} could not rejoin: ${(err as Error).message}`;
  }
  // The manager records the rejoin when it sees the old master replicate, healthy, from the new one.
  const end = performance.now() + 60_000;
  for (;;) {
    const s = summarize(await journal.read()).find((x) => x.id === prev.failoverId);
    if (s?.rejoined) break;
    if (performance.now() > end) return `the manager did not see ${old.name} rejoin within 60 s`;
    await sleep(250);
  }
  o.log(`${old.name} replicates from ${nm.name} again; next run`);
  return true;
}
