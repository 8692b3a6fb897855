/**
 * One suspicion of a master, from its first failed health check until it
 * answers again or is failed over: gathers the evidence the pure detector
 * (domain/detector.ts) decides on.
 *
 * - At once, in parallel: a first sample of every replica (what its IO thread
 *   receives, with the heartbeat counters) and the second route (the master's
 *   MySQL port probed over SSH from each replica's host and secondary_hosts).
 * - At each evaluation: a new sample of every replica, classified against the
 *   previous one (fresh evidence only), the latest second-route round (a new
 *   round starts when it is older than the probe deadline), and
 *   secondary_check_script (started at the first failure, as MHA does), whose
 *   word counts only when everything else says dead.
 * - At once too: the master's own SSH (one round trip on its kept session),
 *   whose answer a failover reuses (SshPool.reachable).
 */
import type { ClusterConfig, ServerConfig } from '../config/types.js';
import { detectionSettings } from '../config/resolve.js';
import { target } from './ops/admin.js';
import { probeSsh } from './ops/ssh-reach.js';
import type { WitnessSampler } from '../adapters/mysql/witness.js';
import { probeRoutes, type ProbeFrom } from '../adapters/ssh/route-probe.js';
import type { SshPool } from '../adapters/ssh/session.js';
import { sshOptionsFor } from '../adapters/ssh/targets.js';
import { runScript } from '../adapters/hooks/run-script.js';
import { classifyWitness, decide, deathPending, type DetectorState, type ReplicaSample, type RouteReport, type SecondaryCheckOutcome, type Verdict, type WitnessReport } from '../domain/detector.js';
import { resolveSource, type ServerSpec } from '../domain/topology.js';
import type { Logger } from '../ports/logger.js';

export interface SuspicionDeps {
  cluster: ClusterConfig;
  master: ServerConfig;
  /** The replicas that may witness (every server but the master and failed old masters). */
  replicas: ServerConfig[];
  /** Every server of the cluster, for matching a replica's Master_Host to a server. */
  specs: ServerSpec[];
  sampler: WitnessSampler;
  /** SSH sessions for the second route; undefined: no second route. */
  pool: SshPool | undefined;
  /** Monotonic ms (the detector's clock). */
  mono: () => number;
  log: Logger;
}

/** Where the second route probes from: every replica's host, then secondary_hosts. */
export function routeSources(cluster: ClusterConfig, master: ServerConfig, replicas: readonly ServerConfig[]): ProbeFrom[] {
  const det = detectionSettings(cluster);
  if (!det.second_route) return [];
  const out: ProbeFrom[] = replicas.map((r) => ({ via: r.name, ...sshOptionsFor(cluster, r) }));
  for (const h of det.secondary_hosts) {
    const o = sshOptionsFor(cluster, { ...master, name: h.host, ssh_host: h.host, ssh_port: h.port ?? 22, ssh_user: h.user ?? master.ssh_user });
    out.push({ via: h.host, ...o });
  }
  return out;
}

export class Suspicion {
  readonly startedAt: number;
  readonly deps: SuspicionDeps;
  #samples: Promise<Map<string, ReplicaSample>>;
  #routes: Promise<RouteReport[] | undefined>;
  #routesStartedAt: number;
  #froms: ProbeFrom[];
  #closed = false;
  #secondary: Promise<SecondaryCheckOutcome> | undefined;
  lastWitnesses: WitnessReport[] = [];
  lastRoutes: RouteReport[] | undefined;

  constructor(deps: SuspicionDeps) {
    this.deps = deps;
    this.startedAt = deps.mono();
    this.#froms = deps.pool ? routeSources(deps.cluster, deps.master, deps.replicas) : [];
    this.#samples = this.#sample();
    this.#routesStartedAt = this.startedAt;
    this.#routes = this.#probe();
    // The master's own SSH, asked now: a failover that follows takes this answer (or joins the probe) instead
    // of waiting out a new connection's timeout (src/engine/ops/ssh-reach.ts).
    if (deps.pool !== undefined) void probeSsh(deps.pool, deps.cluster, deps.master);
    if (deps.cluster.secondary_check_script) this.#secondary = secondaryCheck(deps.cluster, deps.master).catch((err: unknown) => ({ kind: 'error' as const, detail: (err as Error).message }));
  }

  #isMaster = (host: string, port: number): boolean => resolveSource(this.deps.specs, new Map(), host, port)?.name === this.deps.master.name;

  #sample(): Promise<Map<string, ReplicaSample>> {
    return this.deps.sampler.sample(this.deps.replicas.map(target), this.#isMaster);
  }

  #probe(): Promise<RouteReport[] | undefined> {
    const pool = this.deps.pool;
    if (pool === undefined || this.#froms.length === 0) return Promise.resolve(undefined);
    const det = detectionSettings(this.deps.cluster);
    const timeoutMs = Math.round(det.second_route_timeout * 1000);
    return probeRoutes(pool, this.#froms, { host: this.deps.master.hostname, port: this.deps.master.port }, { timeoutMs, sshBudgetMs: Math.min(this.deps.cluster.ssh.connect_timeout * 1000, 2000) }).catch((err: unknown) => {
      this.deps.log.debug({ err: (err as Error).message }, `second route failed: ${(err as Error).message}`);
      return undefined;
    });
  }

  /** A verdict from the evidence now (a new replica sample; the latest second-route round). */
  async evaluate(detector: DetectorState): Promise<Verdict> {
    const { cluster, master } = this.deps;
    const prev = await this.#samples;
    const next = this.#sample();
    this.#samples = next;
    const cur = await next;
    const det = detectionSettings(cluster);
    const since = detector.firstFailureAt;
    const witnesses = this.deps.replicas.map((r) => classifyWitness(r.name, prev.get(r.name), cur.get(r.name) ?? { at: this.deps.mono(), reachable: false, replicatesFromMaster: false, error: 'not sampled' }, since));
    const settings = { failuresToSuspect: cluster.ping_failures, stallsToFail: det.ping_stall_failures };
    // Certain evidence (refused, and every witness lost its IO connection; or a storage hang) does not wait for the second route.
    const certain = decide({ master: master.name, detector, settings, witnesses, now: this.deps.mono(), secondary: { kind: 'dead' } });
    const routesRound = this.#routes;
    const routes = certain.dead && (certain.basis === 'refused' || certain.basis === 'stalled') ? await settledOrUndefined(routesRound) : await routesRound;
    // The next evaluation gets a new round of probes when this one is older than a probe's deadline.
    if (!this.#closed && this.#routes === routesRound && this.deps.mono() - this.#routesStartedAt > det.second_route_timeout * 1000) {
      this.#routesStartedAt = this.deps.mono();
      this.#routes = this.#probe();
    }
    this.lastWitnesses = witnesses;
    this.lastRoutes = routes;
    const base = { master: master.name, detector, settings, witnesses, routes, now: this.deps.mono() };
    let secondary: SecondaryCheckOutcome = { kind: 'unset' };
    if (cluster.secondary_check_script && deathPending(base)) {
      // As MHA: the script started at the first failure; a veto is re-asked at the next evaluation.
      this.#secondary ??= secondaryCheck(cluster, master).catch((err: unknown) => ({ kind: 'error' as const, detail: (err as Error).message }));
      secondary = await this.#secondary;
      if (secondary.kind !== 'dead') this.#secondary = undefined;
    }
    return decide({ ...base, secondary });
  }

  close(): void {
    this.#closed = true;
  }
}

/** The value of a promise that has already settled, else undefined (never waits). */
async function settledOrUndefined<T>(p: Promise<T | undefined>): Promise<T | undefined> {
  const pending = Symbol('pending');
  const r = await Promise.race([p, Promise.resolve(pending)]);
  return r === pending ? undefined : r;
}

/** MHA's secondary_check_script with MHA's arguments (the password in MHATS_MASTER_PASSWORD, never in argv): exit 0 = dead. */
export async function secondaryCheck(cluster: ClusterConfig, master: ServerConfig): Promise<SecondaryCheckOutcome> {
  const r = await runScript({
    command: cluster.secondary_check_script!,
    args: [`--user=${master.ssh_user}`, `--master_host=${master.hostname}`, `--master_ip=${master.ip}`, `--master_port=${master.port}`, `--master_user=${master.user}`, `--ping_type=${cluster.ping_type}`, ...(master.ssh_port !== 22 ? [`--port=${master.ssh_port}`] : [])],
    timeoutMs: Math.max(10_000, cluster.ssh.connect_timeout * 2000),
    env: { MHATS_CLUSTER: cluster.name, MHATS_MASTER_PASSWORD: master.password.reveal() },
  });
  if (r.timedOut) return { kind: 'error', detail: `timed out after ${r.durationMs} ms` };
  if (r.exitCode === 0) return { kind: 'dead' };
  if (r.exitCode === null) return { kind: 'error', detail: `killed by ${r.signal ?? 'signal'}` };
  return { kind: 'alive', exitCode: r.exitCode, detail: (r.stderr || r.stdout).split('\n').slice(-2).join(' | ') };
}
