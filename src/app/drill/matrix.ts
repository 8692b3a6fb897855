/**
 * The fault matrix: each case a drill against a fresh netns sandbox (real
 * servers, each host in its own network namespace), with the manager(s) the
 * drill starts. Used by the integration tests (crash and route cut in the
 * default suite, the whole matrix with `npm run drill:matrix`) and by
 * bench/drill.ts.
 *
 *   crash             failover, 0 lost
 *   hang              failover, old master fenced on resume
 *   netdown           failover, loss reported exactly
 *   stop              clean shutdown (kill -TERM): failover, 0 lost
 *   route-cut         manager-only route cut: no failover
 *   candidate-kill    candidate killed in the middle: the next candidate, or a clean refusal
 *   restart-writable  old master restarted writable during the failover: fenced before the new master takes writes
 *   hook-hang         a hook that hangs: killed at its timeout with its children; the failover follows its policy
 *   manager-kill      manager kill -9 in the middle, then restart: reported, never repeated or doubled
 *   leader-stop       two managers on etcd, leader SIGSTOPped in the middle: no second failover; the follower reports it
 *   max-connections   max_connections exhausted: no failover
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../../config/load.js';
import { builtinFault, type FaultContext, type FaultPlan } from './faults.js';
import { ChildManager, type ManagerHandle } from './managers.js';
import { runDrill, type DrillReport } from './run.js';
import type { Verdict } from '../../domain/drill/types.js';
import type { JournalRecord } from '../../domain/guard.js';
import { poweroffScript, sandboxCutManagerRoute, sandboxDown, sandboxHealHost, sandboxUp, startServer, stopServer, type SandboxInfo } from '../../sandbox/index.js';

export const MATRIX_CASES = ['crash', 'hang', 'netdown', 'stop', 'route-cut', 'candidate-kill', 'restart-writable', 'hook-hang', 'manager-kill', 'leader-stop', 'max-connections'] as const;
export type MatrixCase = (typeof MATRIX_CASES)[number];

export const MATRIX_EXPECTED: Record<MatrixCase, string> = {
  crash: 'failover, 0 lost',
  hang: 'failover, old master fenced on resume',
  netdown: 'failover, loss reported exactly',
  stop: 'clean shutdown (kill -TERM): failover, 0 lost',
  'route-cut': 'manager-only route cut: no failover',
  'candidate-kill': 'candidate killed mid-failover: the next candidate, or a clean refusal',
  'restart-writable': 'old master restarted writable during the failover: fenced before the new master takes writes',
  'hook-hang': 'a hook that hangs: killed at its timeout with its children; the failover follows its policy',
  'manager-kill': 'manager kill -9 mid-failover, then restart: reported, never repeated or doubled',
  'leader-stop': 'two managers on etcd, leader SIGSTOPped mid-failover: no second failover; the follower reports it',
  'max-connections': 'max_connections exhausted: no failover',
};

export interface MatrixEnv {
  /** Directory for the sandboxes (one per case, removed afterwards). */
  root: string;
  /** netns tag (≤ 11 chars, e.g. mhats-t-xd) and subnet (three octets). */
  tag: string;
  subnet: string;
  sshPort: number;
  /** etcd for leader-stop: client and peer URLs on loopback. */
  etcdClient: string;
  etcdPeer: string;
  /** argv that runs the mhats CLI (for the managers). */
  cli: string[];
  log: (line: string) => void;
  /** Extra environment of the managers (e.g. a test build's NODE_OPTIONS). */
  managerEnv?: NodeJS.ProcessEnv;
  /** Writes per second. */
  rate?: number;
}

export interface MatrixSetup {
  dir: string;
  sb: SandboxInfo;
  conf: string;
  managers: ChildManager[];
  close(): Promise<void>;
}

const SLOW_HOOK_S = 4;
const HOOK_MARKER_SLEEP = 3171;

/** Cluster settings of every matrix case: quick detection, no flapping guard between the drill's own failovers. */
function tune(c: Record<string, unknown>, ssh: Record<string, unknown>): void {
  Object.assign(c, { ping_interval: 0.5, ping_failures: 3, ping_timeout: 0.5, ping_retry_interval: 0.2, connect_timeout: 1, query_timeout: 3, last_failover_minute: 0 });
  Object.assign(ssh, { connect_timeout: 3 });
}

/** Where the sandbox of a case lives (for a safety net that must know it before it exists). */
export function matrixDir(env: MatrixEnv, name: string): string {
  return join(env.root, `drill-${name}-${process.pid}`);
}

/** A netns sandbox, a drill config for it (variant: hooks, etcd), and its manager(s), started. */
export interface MatrixVariant {
  hooks?: Record<string, unknown>;
  etcd?: boolean;
  managers?: number;
  extraServerOptions?: string[];
  /** A shutdown_script that powers the old master's host off (the sandbox's stand-in for IPMI or a cloud API). */
  stonith?: boolean;
  /** Cluster settings over the matrix's quick ones (e.g. ping_interval for a benchmark). */
  cluster?: Record<string, unknown>;
}

export async function matrixSetup(env: MatrixEnv, name: string, variant: MatrixVariant = {}): Promise<MatrixSetup> {
  const dir = matrixDir(env, name);
  // Every server's my.cnf says read_only=ON, as production should: a master that restarts comes back read-only.
  const sb = await sandboxUp({ dir, replicas: 2, sshPort: env.sshPort, netns: { tag: env.tag, subnet: env.subnet }, extraServerOptions: variant.extraServerOptions, startReadOnly: true });
  const managers: ChildManager[] = [];
  let etcd: ChildProcess | undefined;
  const close = async (): Promise<void> => {
    await Promise.allSettled(managers.map((m) => m.stop(20_000)));
    if (etcd?.pid !== undefined && etcd.exitCode === null) {
      etcd.kill('SIGKILL');
      await new Promise((r) => etcd!.once('exit', r));
    }
    await sandboxDown(dir);
  };
  try {
    const doc = parse(readFileSync(sb.configFile, 'utf8')) as { state_dir: string; etcd?: unknown; clusters: Record<string, Record<string, unknown>> };
    const c = doc.clusters[sb.clusterName]!;
    tune(c, c.ssh as Record<string, unknown>);
    if (variant.cluster) Object.assign(c, variant.cluster);
    if (variant.hooks) c.hooks = variant.hooks;
    if (variant.stonith) {
      const script = join(dir, 'poweroff.sh');
      writeFileSync(script, poweroffScript(sb), { mode: 0o755 });
      c.shutdown_script = script;
    }
    if (variant.etcd) {
      const data = join(dir, 'etcd');
      mkdirSync(data, { recursive: true });
      const fd = openSync(join(dir, 'etcd.log'), 'a');
      try {
        etcd = spawn('etcd', ['--name', 'mhats-drill', '--data-dir', join(data, 'data'), '--listen-client-urls', env.etcdClient, '--advertise-client-urls', env.etcdClient, '--listen-peer-urls', env.etcdPeer, '--initial-advertise-peer-urls', env.etcdPeer, '--initial-cluster', `mhats-drill=${env.etcdPeer}`, '--initial-cluster-state', 'new'], { stdio: ['ignore', fd, fd] });
      } finally {
        closeSync(fd);
      }
      writeFileSync(join(dir, 'test-pids.json'), JSON.stringify([{ pid: etcd.pid, match: env.etcdPeer }]));
      doc.etcd = { endpoints: [env.etcdClient], prefix: `/mhats-drill-${process.pid}`, lease_ttl: 3, request_timeout: 1 };
      await waitEtcd(env.etcdClient);
    }
    const conf = join(dir, 'drill.yaml');
    writeFileSync(conf, stringify(doc), { mode: 0o600 });
    await loadConfig({ conf }); // a bad variant fails here, with the file and line
    for (let i = 0; i < (variant.managers ?? 1); i++) {
      const m = new ChildManager({ cli: env.cli, conf, logFile: join(dir, `manager-${i + 1}.log`), label: `manager ${i + 1}`, ...(env.managerEnv ? { env: env.managerEnv } : {}) });
      managers.push(m);
      await m.start();
    }
    return { dir, sb, conf, managers, close };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}

async function waitEtcd(url: string): Promise<void> {
  const end = performance.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      if (r.ok) return;
    } catch {
      // not yet
    }
    if (performance.now() > end) throw new Error(`etcd at ${url} did not answer within 30 s`);
    await sleep(200);
  }
}

// ---------------------------------------------------------------- the matrix's own faults

function sandboxOnly(ctx: FaultContext): string | undefined {
  return ctx.sandbox?.netns ? undefined : 'needs a netns sandbox (mhats sandbox up --netns)';
}

export function routeCutFault(): FaultPlan {
  return {
    name: 'route-cut',
    expect: 'no-failover',
    oldMasterReturns: false,
    impossible: sandboxOnly,
    async inject(ctx) {
      await sandboxCutManagerRoute(ctx.sandbox!, ctx.old.name);
      ctx.log(`route-cut: only the manager's route to ${ctx.old.name} is cut; replicas and the application still reach it`);
    },
    async heal(ctx) {
      await sandboxHealHost(ctx.sandbox!, ctx.old.name);
      ctx.log(`healed: the manager reaches ${ctx.old.name} again`);
    },
  };
}

export function maxConnectionsFault(): FaultPlan {
  const held: mysql.Connection[] = [];
  const user = 'mhats_drill_fill';
  const password = `fill-${process.pid}-${Date.now()}`;
  return {
    name: 'max-connections',
    expect: 'no-failover',
    oldMasterReturns: false,
    impossible: sandboxOnly,
    async inject(ctx) {
      const m = ctx.old;
      const admin = { host: m.ip, port: m.port, user: m.user, password: m.password.reveal(), connectTimeout: 2000 };
      const a = await mysql.createConnection(admin);
      await a.query(`CREATE USER IF NOT EXISTS '${user}'@'%' IDENTIFIED BY '${password}'`);
      a.destroy();
      const open = async (o: mysql.ConnectionOptions): Promise<boolean> => {
        try {
          held.push(await mysql.createConnection(o));
          return true;
        } catch (err) {
          if ((err as { errno?: number }).errno === 1040) return false;
          throw err;
        }
      };
      // Every ordinary slot, then the one extra slot a SUPER account gets.
      while (held.length < 2000 && (await open({ ...admin, user, password }))) {
        // next
      }
      while (held.length < 2010 && (await open(admin))) {
        // next
      }
      ctx.log(`max-connections: ${held.length} connections held on ${m.name}; new ones get error 1040`);
    },
    async heal(ctx) {
      for (const c of held.splice(0)) c.destroy();
      await sleep(300);
      const m = ctx.old;
      const a = await mysql.createConnection({ host: m.ip, port: m.port, user: m.user, password: m.password.reveal(), connectTimeout: 2000 });
      await a.query(`DROP USER IF EXISTS '${user}'@'%'`);
      a.destroy();
      ctx.log(`healed: connections released on ${m.name}`);
    },
  };
}

/** Restart a sandbox server's mysqld if it is down (by its options file, wherever it runs). */
async function ensureStarted(ctx: FaultContext, name: string): Promise<void> {
  const s = ctx.sandbox?.servers.find((x) => x.name === name);
  if (!s) return;
  await startServer(s).catch((err: unknown) => ctx.notes.push(`could not start ${name} again: ${(err as Error).message}`));
}

export function candidateKillFault(): FaultPlan {
  const crash = builtinFault('crash');
  let candidate: string | undefined;
  return {
    name: 'candidate-kill',
    expect: 'failover',
    oldMasterReturns: true,
    impossible: (ctx) => sandboxOnly(ctx) ?? crash.impossible?.(ctx),
    async inject(ctx) {
      const views = await Promise.all(ctx.managers.map((m) => m.cluster(ctx.cluster.name)));
      candidate = views.find((v) => v?.wouldPromote)?.wouldPromote;
      if (!candidate) throw new Error('the manager names no candidate it would promote');
      await crash.inject(ctx);
    },
    async onBegin(ctx, id) {
      const s = ctx.sandbox!.servers.find((x) => x.name === candidate);
      if (!s) return;
      // In the middle: once the failover has checked the cluster and chosen its plan (Phase 1 done), while Phase 2 runs.
      const end = performance.now() + 10_000;
      while (performance.now() < end) {
        const rs = await ctx.records();
        if (rs.some((r) => r.id === id && ((r.type === 'phase' && /^Phase 1/.test(r.phase)) || (r.type as string) === 'plan' || r.type === 'end'))) break;
        await sleep(50);
      }
      ctx.excluded.add(s.name);
      // Its recorded PID may be stale (restarted); kill by the options file.
      const pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(`--defaults-file=${s.cnf}`);
        } catch {
          return false;
        }
      });
      for (const p of pids) process.kill(Number(p), 'SIGKILL');
      if (pids.length === 0) await stopServer(s, 'SIGKILL');
      ctx.log(`failover ${id} began: killed the candidate ${s.name} (kill -9)`);
    },
    async heal(ctx) {
      await crash.heal(ctx);
      if (candidate) await ensureStarted(ctx, candidate);
    },
    outcome(fo, ctx) {
      if (!fo) return { name: 'outcome', ok: false, detail: 'no failover' };
      if (fo.outcome === undefined) return { name: 'outcome', ok: false, detail: `failover ${fo.id} did not finish within ${Math.round(ctx.timeoutMs / 1000)} s` };
      if ((fo.outcome === 'success' || fo.outcome === 'partial') && fo.newMaster !== candidate) return { name: 'outcome', ok: true, detail: `the killed candidate ${candidate ?? '?'} was passed over: ${fo.newMaster ?? '?'} promoted (${fo.outcome})` };
      // A refusal, or a failure before anything was promoted (the replicas reconnected, the old master stays fenced).
      if (fo.outcome === 'refused' || fo.outcome === 'failed') return { name: 'outcome', ok: !fo.newMaster, detail: `${fo.newMaster ? 'NOT clean' : 'clean'}: ${fo.outcome} with the candidate ${candidate ?? '?'} killed: ${fo.reason ?? ''}` };
      return { name: 'outcome', ok: false, detail: `${fo.outcome}: the killed candidate ${candidate ?? '?'} was promoted` };
    },
  };
}

/** A hook that never ends and leaves children: the manager must kill it, and them, at its timeout. */
export const HANGING_HOOKS = {
  environment: 'drill',
  sets: {
    drill: [{ name: 'hangs', type: 'command', phases: ['start'], command: ['sh', '-c', `sleep ${HOOK_MARKER_SLEEP} & sleep ${HOOK_MARKER_SLEEP}`], timeout: 2, on_failure: 'continue' }],
  },
};

/** A hook that makes Phase 2 last a few seconds: "the middle of a failover", deterministically. */
export const SLOW_HOOKS = {
  environment: 'drill',
  sets: { drill: [{ name: 'slow', type: 'command', phases: ['stop'], command: ['sleep', String(SLOW_HOOK_S)], timeout: 30, on_failure: 'continue' }] },
};

function hookChildren(): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ').trim() === `sleep ${HOOK_MARKER_SLEEP}`;
      } catch {
        return false;
      }
    })
    .map(Number);
}

export function hookHangFault(): FaultPlan {
  const crash = builtinFault('crash');
  return {
    ...crash,
    name: 'hook-hang',
    verdicts(): Promise<Verdict[]> {
      const left = hookChildren();
      for (const p of left) process.kill(p, 'SIGKILL');
      return Promise.resolve([left.length === 0 ? { name: 'hook-killed', ok: true, detail: 'the hanging hook and its children were killed at its timeout' } : { name: 'hook-killed', ok: false, detail: `${left.length} child process(es) of the hanging hook still ran (pids ${left.join(', ')})` }]);
    },
  };
}

function beginsAfter(records: JournalRecord[], ids: string[]): string[] {
  const first = records.find((r) => r.type === 'begin' && ids.includes(r.id));
  return records.filter((r) => r.type === 'begin' && first !== undefined && r.at >= first.at).map((r) => r.id);
}

export function managerKillFault(): FaultPlan {
  const crash = builtinFault('crash');
  return {
    ...crash,
    name: 'manager-kill',
    expect: 'interrupted',
    oldMasterReturns: false,
    impossible: (ctx) => (ctx.managers.some((m) => m.owned) ? crash.impossible?.(ctx) : 'needs a manager started by the drill'),
    async onBegin(ctx, id) {
      const m = ctx.managers.find((x) => x.owned) as ChildManager;
      m.signal('SIGKILL');
      await m.waitExit();
      ctx.log(`failover ${id} began: manager killed (kill -9); starting it again`);
      await m.start();
      // Several detection cycles for it to (wrongly) fail over again.
      await sleep(8000);
    },
    async heal(ctx) {
      await crash.heal(ctx);
    },
    async verdicts(ctx, records, ids) {
      const begins = beginsAfter(records, ids);
      const views = await Promise.all(ctx.managers.map((m) => m.cluster(ctx.cluster.name)));
      const reported = views.find((v) => v?.unfinishedFailover?.id === ids[0]);
      return [
        begins.length === 1 ? { name: 'no-second-failover', ok: true, detail: `one failover began (${begins[0] ?? '?'}); the restarted manager did not start another` } : { name: 'no-second-failover', ok: false, detail: `${begins.length} failovers began: ${begins.join(', ')}` },
        reported ? { name: 'unfinished-reported', ok: true, detail: `the restarted manager reports ${ids[0] ?? '?'} as unfinished (state ${reported.state})` } : { name: 'unfinished-reported', ok: false, detail: `no manager reports the unfinished failover ${ids[0] ?? '?'} (${views.map((v) => v?.state ?? 'no answer').join(', ')})` },
      ];
    },
  };
}

export function leaderStopFault(): FaultPlan {
  const crash = builtinFault('crash');
  let stopped: ManagerHandle | undefined;
  return {
    ...crash,
    name: 'leader-stop',
    expect: 'interrupted',
    oldMasterReturns: false,
    impossible: (ctx) => (ctx.managers.filter((m) => m.owned).length >= 2 ? crash.impossible?.(ctx) : 'needs two managers on etcd started by the drill'),
    async onBegin(ctx, id) {
      const views = await Promise.all(ctx.managers.map((m) => m.cluster(ctx.cluster.name)));
      const i = views.findIndex((v) => v?.ha === 'leader');
      stopped = ctx.managers[i];
      if (!(stopped instanceof ChildManager)) throw new Error('no leader found among the managers the drill started');
      stopped.signal('SIGSTOP');
      ctx.log(`failover ${id} began: the leader (${stopped.label}) is SIGSTOPped`);
      const follower = ctx.managers.find((m) => m !== stopped)!;
      const end = performance.now() + 20_000;
      while (performance.now() < end && (await follower.cluster(ctx.cluster.name))?.ha !== 'leader') await sleep(200);
      ctx.log(`${follower.label} leads now; watching it for a second failover`);
      await sleep(8000);
      stopped.signal('SIGCONT');
      ctx.log(`${stopped.label} resumed (SIGCONT)`);
      await sleep(5000);
    },
    async heal(ctx) {
      if (stopped instanceof ChildManager) stopped.signal('SIGCONT');
      await crash.heal(ctx);
    },
    async verdicts(ctx, records, ids) {
      const begins = beginsAfter(records, ids);
      const follower = ctx.managers.find((m) => m !== stopped);
      const view = await follower?.cluster(ctx.cluster.name);
      const logged = follower instanceof ChildManager ? follower.logLines(/never finished/).length : 0;
      return [
        begins.length === 1 ? { name: 'no-second-failover', ok: true, detail: `one failover began (${begins[0] ?? '?'}); the new leader did not start another` } : { name: 'no-second-failover', ok: false, detail: `${begins.length} failovers began: ${begins.join(', ')}` },
        view?.unfinishedFailover?.id === ids[0] || logged > 0
          ? { name: 'unfinished-reported', ok: true, detail: `the new leader reports ${ids[0] ?? '?'} as unfinished` }
          : { name: 'unfinished-reported', ok: false, detail: `the new leader does not report the unfinished failover ${ids[0] ?? '?'} (state ${view?.state ?? 'no answer'})` },
      ];
    },
  };
}

// ---------------------------------------------------------------- one case

export function planFor(c: MatrixCase): { plan: () => FaultPlan; variant: MatrixVariant } {
  switch (c) {
    case 'crash':
    case 'hang':
    case 'stop':
      return { plan: () => builtinFault(c), variant: {} };
    case 'netdown':
      // A host that drops off the network cannot be fenced over it: fenced by power (shutdown_script), as MHA advises.
      return { plan: () => builtinFault(c), variant: { stonith: true } };
    case 'restart-writable':
      // The slow stop hook keeps the failover running while mysqld starts again (a few seconds): the restart
      // lands in the middle of the failover, as the case says, not after it (then it is the monitor's to fence).
      return { plan: () => builtinFault('restart-during-failover'), variant: { hooks: SLOW_HOOKS } };
    case 'route-cut':
      return { plan: routeCutFault, variant: {} };
    case 'max-connections':
      return { plan: maxConnectionsFault, variant: {} };
    case 'candidate-kill':
      return { plan: candidateKillFault, variant: { hooks: SLOW_HOOKS } };
    case 'hook-hang':
      return { plan: hookHangFault, variant: { hooks: HANGING_HOOKS } };
    case 'manager-kill':
      return { plan: managerKillFault, variant: { hooks: SLOW_HOOKS } };
    case 'leader-stop':
      return { plan: leaderStopFault, variant: { hooks: SLOW_HOOKS, etcd: true, managers: 2 } };
  }
}

/** Runs one drill of a case on a setup made for it (or shared, for cases that leave the cluster as it was). */
export async function drillOn(setup: MatrixSetup, env: MatrixEnv, plan: () => FaultPlan, runs = 1): Promise<DrillReport> {
  const config = await loadConfig({ conf: setup.conf });
  const cluster = config.clusters[0]!;
  return runDrill({ config, cluster, configPath: setup.conf, sandbox: setup.sb, plan, runs, rate: env.rate ?? 100, yes: true, managers: setup.managers, timeoutMs: 90_000, faultSeconds: 60, log: env.log });
}

/** One matrix case on a fresh sandbox, always torn down. */
export async function runMatrixCase(c: MatrixCase, env: MatrixEnv): Promise<DrillReport> {
  const { plan, variant } = planFor(c);
  const setup = await matrixSetup(env, c, variant);
  try {
    return await drillOn(setup, env, plan);
  } finally {
    await setup.close();
    rmSync(matrixDir(env, c), { recursive: true, force: true });
  }
}
