/**
 * The composition root of `mhats manager`: one process for all clusters.
 * Builds the adapters (pino, the journal, SSH, MySQL) and runs one monitor
 * per cluster, each on its own loop. SIGTERM/SIGINT stop it cleanly, but
 * never in the middle of a failover: the running one is finished first.
 */
import type { ClusterConfig, LoadedConfig, ServerConfig } from '../config/types.js';
import { FileJournal } from '../adapters/journal/file-journal.js';
import { createLogger } from '../adapters/logging.js';
import { sshExec } from '../adapters/ssh/client.js';
import { ClusterMonitor } from '../engine/monitor.js';
import type { Logger } from '../engine/logger.js';
import { sshOptionsFor } from './check-ssh.js';

export function sshReachableFor(cluster: ClusterConfig): (server: ServerConfig) => Promise<boolean> {
  return async (server) => {
    const { target, options } = sshOptionsFor(cluster, server);
    try {
      const r = await sshExec(target, ['true'], { ...options, timeoutMs: cluster.ssh.connect_timeout * 1000 + 2000 });
      return r.code === 0;
    } catch {
      return false;
    }
  };
}

export function monitorFor(cluster: ClusterConfig, stateDir: string, log: Logger): ClusterMonitor {
  return new ClusterMonitor(cluster, {
    journal: new FileJournal(stateDir, cluster.name),
    log,
    now: Date.now,
    mono: () => performance.now(),
    sshReachable: sshReachableFor(cluster),
  });
}

export interface ManagerHandle {
  monitors: ClusterMonitor[];
  done: Promise<void>;
  stop(): void;
}

export function startManager(config: LoadedConfig, clusters: ClusterConfig[], log: Logger = createLogger()): ManagerHandle {
  const ac = new AbortController();
  const monitors = clusters.map((c) => monitorFor(c, config.state_dir, log));
  log.info({ clusters: clusters.map((c) => c.name), stateDir: config.state_dir, files: config.files }, `mhats manager starting: ${clusters.length} cluster(s)`);
  for (const w of config.warnings) log.warn({}, w);
  const done = Promise.all(
    monitors.map((m) =>
      m.run(ac.signal).catch((err: unknown) => {
        log.error({ cluster: m.cluster.name, err: (err as Error).message }, `monitor of ${m.cluster.name} stopped: ${(err as Error).message}`);
      }),
    ),
  ).then(() => undefined);
  return {
    monitors,
    done,
    stop: () => {
      const busy = monitors.filter((m) => m.inFailover).map((m) => m.cluster.name);
      if (busy.length > 0) log.warn({ clusters: busy }, `stopping after the failover in progress finishes (${busy.join(', ')})`);
      ac.abort();
    },
  };
}
