/**
 * mhats rejoin SERVER, for the CLI and the HTTP API: finds the cluster, opens
 * its journal (the file, or etcd with manager HA: an operator's records are
 * written unfenced, as `mhats ack`), and runs the rejoin (src/engine/rejoin.ts).
 */
import { join } from 'node:path';
import type { ClusterConfig, LoadedConfig } from '../config/types.js';
import { FileJournal } from '../adapters/journal/file-journal.js';
import { openEtcdJournal } from '../adapters/journal/etcd-journal.js';
import type { Journal } from '../adapters/journal/journal.js';
import { createLogger } from '../adapters/logging.js';
import { rejoinServer, type RejoinReport } from '../engine/rejoin.js';
import { UserError } from '../errors/errors.js';
import { ExitCode } from '../errors/exit-codes.js';
import type { Logger } from '../ports/logger.js';

export interface RejoinCommand {
  server: string;
  /** Needed when the server name is in several clusters. */
  cluster?: string | undefined;
  dryRun?: boolean | undefined;
  /** Who asks: the OS user, or the API caller. */
  by: string;
  log?: Logger | undefined;
  /** Given by the manager (its own journal view); else opened from the configuration. */
  journal?: Journal | undefined;
}

/** The cluster a server belongs to (by name, hostname or ip). UserError (usage) when unknown or ambiguous. */
export function clusterOfServer(config: LoadedConfig, server: string, cluster?: string): ClusterConfig {
  const has = (c: ClusterConfig): boolean => c.servers.some((s) => s.name === server || s.hostname === server || s.ip === server);
  if (cluster !== undefined) {
    const c = config.clusters.find((x) => x.name === cluster);
    if (!c) throw new UserError(`unknown cluster ${cluster} (known: ${config.clusters.map((x) => x.name).join(', ')})`, { exitCode: ExitCode.USAGE });
    if (!has(c)) throw new UserError(`${server} is not a server of ${cluster} (servers: ${c.servers.map((s) => s.name).join(', ')})`, { exitCode: ExitCode.USAGE });
    return c;
  }
  const found = config.clusters.filter(has);
  if (found.length === 0) throw new UserError(`${server} is not a server of any configured cluster`, { exitCode: ExitCode.USAGE });
  if (found.length > 1) throw new UserError(`${server} is in several clusters (${found.map((c) => c.name).join(', ')}): choose one with --cluster`, { exitCode: ExitCode.USAGE });
  return found[0]!;
}

export async function rejoin(config: LoadedConfig, cmd: RejoinCommand): Promise<RejoinReport> {
  const cluster = clusterOfServer(config, cmd.server, cmd.cluster);
  let journal = cmd.journal;
  if (!journal) {
    try {
      journal = config.etcd ? await openEtcdJournal(config.etcd, cluster.name, cmd.by.replace(/[^A-Za-z0-9_.-]/g, '_')) : new FileJournal(config.state_dir, cluster.name);
    } catch (err) {
      throw new UserError(`cannot open the journal of ${cluster.name}: ${(err as Error).message}`, { exitCode: config.etcd ? ExitCode.UNREACHABLE : ExitCode.ERROR });
    }
  }
  return rejoinServer({
    cluster,
    server: cmd.server,
    journal,
    by: cmd.by,
    extractDir: join(config.state_dir, cluster.name, 'rejoin'),
    dryRun: cmd.dryRun,
    log: cmd.log ?? createLogger({ level: process.env.MHATS_LOG_LEVEL ?? 'silent', write: (l) => process.stderr.write(l) }),
    now: Date.now,
  });
}
