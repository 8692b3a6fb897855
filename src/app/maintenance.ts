/**
 * Maintenance (downtime) for the CLI and the HTTP API: start, stop, list.
 * Entries are journal records in a journal of their own, which every
 * manager reads: state_dir/maintenance.jsonl, or PREFIX/maintenance/ in etcd
 * when manager HA is configured. An operator's records are written unfenced
 * (like `mhats ack`): a follower's API, or a CLI, may write them.
 *
 * The decisions (what is active, may the cluster fail over) are pure:
 * src/domain/maintenance.ts.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { hostname, userInfo } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { LoadedConfig } from '../config/types.js';
import { FileJournal } from '../adapters/journal/file-journal.js';
import { EtcdJournal, maintenancePrefix, openEtcdJournalAt } from '../adapters/journal/etcd-journal.js';
import type { Journal } from '../adapters/journal/journal.js';
import type { EtcdClient } from '../adapters/leader/etcd-client.js';
import {
  activeEntries, buildStart, entriesToStop, foldMaintenance, maintenanceOf, type ClusterMaintenance, type MaintenanceEntry, type MaintenanceRecord, type StartInput, type StopTarget,
} from '../domain/maintenance.js';
import { UserError } from '../errors/errors.js';
import { ExitCode } from '../errors/exit-codes.js';

export const MAINTENANCE_FILE = 'maintenance.jsonl';

/** Who is asking, for the record: the OS user (the one behind sudo too) on this host. */
export function osOwner(env: NodeJS.ProcessEnv = process.env): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = env.USER ?? 'unknown';
  }
  const sudo = env.SUDO_USER;
  const who = sudo !== undefined && sudo !== '' && sudo !== user ? `${sudo} (sudo as ${user})` : user;
  return `${who}@${hostname()}`;
}

export function newMaintenanceId(now: number): string {
  const d = new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `mnt-${d}-${randomBytes(2).toString('hex')}`;
}

/** The maintenance journal for one command (read once when in etcd). */
export async function openMaintenanceJournal(config: LoadedConfig, writer: string): Promise<Journal<MaintenanceRecord>> {
  if (config.etcd) {
    try {
      return await openEtcdJournalAt<MaintenanceRecord>(config.etcd, maintenancePrefix(config.etcd.prefix), writer);
    } catch (err) {
      throw new UserError(`cannot read the maintenance entries from etcd (${config.etcd.endpoints.join(', ')}): ${(err as Error).message}`, { exitCode: ExitCode.UNREACHABLE });
    }
  }
  try {
    return new FileJournal<MaintenanceRecord>(config.state_dir, null, MAINTENANCE_FILE);
  } catch (err) {
    throw new UserError(`cannot use the state directory ${config.state_dir}: ${(err as Error).message}`, { hint: 'run as the user the manager runs as, or fix the directory\'s permissions' });
  }
}

export interface MaintenanceCommandContext {
  config: LoadedConfig;
  /** Given by the HTTP API (the manager's own view) or tests; else opened from the configuration. */
  journal?: Journal<MaintenanceRecord> | undefined;
  now?: (() => number) | undefined;
}

async function journalOf(ctx: MaintenanceCommandContext, writer: string): Promise<Journal<MaintenanceRecord>> {
  return ctx.journal ?? openMaintenanceJournal(ctx.config, writer);
}

function writerName(owner: string): string {
  return owner.replace(/[^A-Za-z0-9_.-]/g, '_');
}

async function flush(j: Journal<MaintenanceRecord>): Promise<void> {
  try {
    await j.flush?.();
  } catch (err) {
    throw new UserError(`the maintenance record was not written to ${j.path}: ${(err as Error).message}`, { exitCode: ExitCode.UNREACHABLE });
  }
}

/** Puts a cluster, a server, or everything (global) in maintenance. Throws UserError (usage) for a bad request. */
export async function startMaintenance(ctx: MaintenanceCommandContext, input: StartInput): Promise<MaintenanceEntry> {
  const now = (ctx.now ?? Date.now)();
  const known = { clusters: ctx.config.clusters.map((c) => ({ name: c.name, servers: c.servers.map((s) => s.name) })) };
  const b = buildStart(input, known, newMaintenanceId(now), now);
  if (!b.ok) throw new UserError(b.message, { exitCode: ExitCode.USAGE });
  const j = await journalOf(ctx, writerName(input.owner));
  j.append(b.record);
  await flush(j);
  return foldMaintenance([b.record])[0]!;
}

/** Ends the active entries the target names; returns them (none: nothing was in maintenance). */
export async function stopMaintenance(ctx: MaintenanceCommandContext, target: StopTarget, by: string): Promise<MaintenanceEntry[]> {
  const now = (ctx.now ?? Date.now)();
  if (!('id' in target) && target.scope !== 'global') {
    const c = ctx.config.clusters.find((x) => x.name === target.cluster);
    if (c === undefined) throw new UserError(`unknown cluster ${target.cluster} (known: ${ctx.config.clusters.map((x) => x.name).join(', ')})`, { exitCode: ExitCode.USAGE });
    if (target.scope === 'server' && !c.servers.some((s) => s.name === target.server)) throw new UserError(`unknown server ${target.server} in cluster ${c.name}`, { exitCode: ExitCode.USAGE });
  }
  const j = await journalOf(ctx, writerName(by));
  const ending = entriesToStop(foldMaintenance(j.read()), target, now);
  for (const e of ending) j.append({ type: 'maintenance_stop', id: e.id, at: now, by });
  if (ending.length > 0) await flush(j);
  return ending.map((e) => ({ ...e, stoppedAt: now, stoppedBy: by }));
}

export interface MaintenanceList {
  now: number;
  active: MaintenanceEntry[];
  /** Ended (stopped or expired) within the last `endedWithinMs`, newest first. */
  ended: MaintenanceEntry[];
}

export async function listMaintenance(ctx: MaintenanceCommandContext, opts: { cluster?: string | undefined; endedWithinMs?: number | undefined } = {}): Promise<MaintenanceList> {
  const now = (ctx.now ?? Date.now)();
  const j = await journalOf(ctx, 'list');
  const all = foldMaintenance(j.read()).filter((e) => opts.cluster === undefined || e.scope === 'global' || e.cluster === opts.cluster);
  const active = activeEntries(all, now);
  const within = opts.endedWithinMs ?? 0;
  const ended = all
    .filter((e) => !active.includes(e) && now - (e.stoppedAt ?? e.expiresAt) <= within)
    .sort((a, b) => (b.stoppedAt ?? b.expiresAt) - (a.stoppedAt ?? a.expiresAt));
  return { now, active, ended };
}

// ---------------------------------------------------------------- the manager's view

/** What a running manager reads every tick: the maintenance entries, from the file or from etcd. */
export interface MaintenanceView {
  entries(): MaintenanceEntry[];
  /** etcd: re-read (the manager does it with its journals). */
  refresh?(): Promise<void>;
  readonly journal: Journal<MaintenanceRecord>;
}

/**
 * The file journal, re-read only when the file changed. Every monitor tick asks (a thousand times a second with a
 * thousand clusters): the file is looked at (stat) at most every `statEveryMs`, so an entry written by
 * `mhats maintenance start` is seen within that time.
 */
export function fileMaintenanceView(stateDir: string, statEveryMs = 100, mono: () => number = () => performance.now()): MaintenanceView {
  const journal = new FileJournal<MaintenanceRecord>(stateDir, null, MAINTENANCE_FILE);
  let sig = '';
  let cache: MaintenanceEntry[] = [];
  let statAt = -Infinity;
  return {
    journal,
    entries() {
      const t = mono();
      if (t - statAt < statEveryMs) return cache;
      statAt = t;
      let now = '';
      try {
        const st = statSync(join(stateDir, MAINTENANCE_FILE));
        now = `${st.size}:${st.mtimeMs}:${st.ino}`;
      } catch {
        now = 'absent';
      }
      if (now !== sig) {
        sig = now;
        cache = foldMaintenance(journal.read());
      }
      return cache;
    },
  };
}

/** The etcd journal under PREFIX/maintenance/ (refreshed by the manager). Writes from the manager (API) are unfenced: they are an operator's. */
export function etcdMaintenanceView(client: EtcdClient, prefix: string, writer: string): MaintenanceView {
  const journal = new EtcdJournal<MaintenanceRecord>({ client, prefix, cluster: '', keyPrefix: maintenancePrefix(prefix), writer, fence: () => null });
  return {
    journal,
    entries: () => foldMaintenance(journal.read()),
    refresh: () => journal.refresh(),
  };
}

/** Maintenance of one cluster now, for a command (status, failover, switchover). */
export async function clusterMaintenance(config: LoadedConfig, cluster: string, now = Date.now()): Promise<ClusterMaintenance> {
  const j = await openMaintenanceJournal(config, 'read');
  return maintenanceOf(foldMaintenance(j.read()), cluster, now);
}
