/**
 * Is this master dead, as the manager would decide? For `mhats failover
 * --dead-master X`: the same health checks, detector and confirmation
 * (replica witnesses with fresh evidence only, the second route over SSH,
 * secondary_check_script) as the monitor, run on the spot within a bounded
 * time. A master that answers a check is alive; so is one that a witness or
 * the second route proves alive.
 */
import type { ClusterConfig } from '../config/types.js';
import { detectionSettings } from '../config/resolve.js';
import { createHealthChecker } from '../adapters/mysql/health.js';
import { WitnessSampler } from '../adapters/mysql/witness.js';
import type { SshPool } from '../adapters/ssh/session.js';
import { detect, initialDetectorState, type Verdict } from '../domain/detector.js';
import type { Logger } from '../ports/logger.js';
import { target } from './ops/admin.js';
import { Suspicion } from './suspicion.js';

export interface DeadCheck {
  dead: boolean;
  /** One line: why. */
  reason: string;
  /** The detector's last verdict, when it got that far. */
  verdict?: Verdict | undefined;
  checks: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export async function confirmDead(cluster: ClusterConfig, masterName: string, o: { log: Logger; pool?: SshPool | undefined; failedServers?: readonly string[] | undefined; maxMs?: number | undefined }): Promise<DeadCheck> {
  const master = cluster.servers.find((s) => s.name === masterName);
  if (master === undefined) return { dead: false, reason: `${masterName} is not a server of ${cluster.name}`, checks: 0 };
  const mono = (): number => performance.now();
  const det = detectionSettings(cluster);
  const settings = { failuresToSuspect: cluster.ping_failures, stallsToFail: det.ping_stall_failures };
  const maxMs = o.maxMs ?? Math.max(10_000, cluster.ping_failures * (cluster.ping_timeout + cluster.ping_retry_interval) * 1000 + 5000);
  const checker = createHealthChecker(cluster.ping_type, target(master), { timeoutMs: cluster.ping_timeout * 1000, now: mono });
  const sampler = new WitnessSampler({ connectTimeoutMs: Math.min(1000, cluster.connect_timeout * 1000), queryTimeoutMs: Math.min(2000, cluster.query_timeout * 1000) }, mono);
  const failed = new Set(o.failedServers ?? []);
  let suspicion: Suspicion | undefined;
  let state = initialDetectorState;
  let last: Verdict | undefined;
  let checks = 0;
  const t0 = mono();
  try {
    for (;;) {
      const started = mono();
      const r = await checker.check();
      checks++;
      if (r.ok) return { dead: false, reason: `${masterName} answers its health check (${cluster.ping_type}, ${Math.round(r.latencyMs)} ms): it is alive`, checks };
      const next = detect(state, r, settings);
      state = next.state;
      if (next.transition === 'alive_but_refusing') return { dead: false, reason: `${masterName} refuses the health check but is alive (${r.message ?? r.kind ?? ''})`, checks };
      suspicion ??= new Suspicion({
        cluster,
        master,
        replicas: cluster.servers.filter((s) => s.name !== master.name && !failed.has(s.name)),
        specs: cluster.servers.map((s) => ({ name: s.name, hostname: s.hostname, ip: s.ip, port: s.port, candidate_master: s.candidate_master, no_master: s.no_master, ignore_fail: s.ignore_fail })),
        sampler,
        pool: det.second_route ? o.pool : undefined,
        mono,
        log: o.log,
      });
      if (state.consecutiveFailures >= Math.min(2, cluster.ping_failures) || state.consecutiveStalls >= det.ping_stall_failures) {
        last = await suspicion.evaluate(state);
        if (last.dead) return { dead: true, reason: last.reason, verdict: last, checks };
        if (last.code === 'UnreachableMaster' || last.code === 'AliveError' || last.code === 'SecondaryCheckVeto') return { dead: false, reason: last.reason, verdict: last, checks };
      }
      if (mono() - t0 > maxMs) return { dead: false, reason: `${masterName} is not confirmed dead after ${Math.round((mono() - t0) / 1000)} s: ${last?.reason ?? `${state.consecutiveFailures} failed check(s): ${state.lastFailure?.message ?? ''}`}`, verdict: last, checks };
      const wait = state.lastFailure?.class === 'refused' ? Math.min(150, cluster.ping_retry_interval * 1000) : Math.max(200, cluster.ping_retry_interval * 1000);
      await sleep(wait - (mono() - started));
    }
  } finally {
    checker.close();
    sampler.close();
    suspicion?.close();
  }
}
