/**
 * The second route: from other hosts (the replicas' hosts, secondary_hosts),
 * over the manager's persistent SSH sessions, open a TCP connection to the
 * master's MySQL port and read the first bytes the server sends. Only the
 * greeting (or an error packet in its place) proves a live mysqld: a hung
 * one still completes TCP handshakes. All probes run in parallel; each has
 * its own short deadline, remote (timeout -s KILL) and local.
 * This is MHA's masterha_secondary_check, natively, and stricter (MHA's only
 * checks that TCP connects).
 */
import { parseProbeOutput, probeArgv, type RouteReport } from '../../domain/detector.js';
import { SshError, type SshClientOptions, type SshTarget } from './client.js';
import type { SshPool } from './session.js';

export interface ProbeFrom {
  /** For messages and the evidence: a replica's name, or a secondary host. */
  via: string;
  target: SshTarget;
  options: SshClientOptions;
}

/** Probes host:port from every `froms` host, in parallel; every probe ends within timeoutMs (plus SSH setup when no session is open, capped by sshBudgetMs). */
export async function probeRoutes(pool: SshPool, froms: readonly ProbeFrom[], master: { host: string; port: number }, o: { timeoutMs: number; sshBudgetMs?: number | undefined; signal?: AbortSignal | undefined }): Promise<RouteReport[]> {
  return Promise.all(
    froms.map(async (f): Promise<RouteReport> => {
      const t0 = performance.now();
      // The remote side is killed at timeoutMs; the local deadline adds a round trip and a margin, or the SSH setup when no shell is ready.
      const budget = o.timeoutMs + (pool.hasShell(f.target) ? 1000 : (o.sshBudgetMs ?? f.options.connectTimeoutMs) + 1000);
      try {
        const r = await pool.run(f.target, f.options, probeArgv(master.host, master.port, o.timeoutMs), { timeoutMs: budget, signal: o.signal });
        return parseProbeOutput(f.via, { exitCode: r.code, stdout: r.stdout, stderr: r.stderr, elapsedMs: performance.now() - t0 });
      } catch (err) {
        const why = err instanceof SshError ? `${err.kind}: ${err.detail}` : err instanceof Error ? err.message : String(err);
        return { via: f.via, kind: 'error', says: 'nothing', detail: `the probe could not run over SSH (${why})`, elapsedMs: Math.round(performance.now() - t0) };
      }
    }),
  );
}
