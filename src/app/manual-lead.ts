/**
 * A manual failover or switchover and the managers exclude each other.
 *
 * Without etcd: the journal file, and MHA's failover lock on every reachable
 * server (taken by the engine, as a manager's automatic failover does).
 * With etcd: the command runs as the leader: it campaigns on the managers'
 * leader key for as long as it runs, writes the cluster's journal in etcd
 * under its own fencing token, and resigns at the end (a manager then takes
 * the lead back, reads the journal and follows the new master). While a
 * manager leads, the command is refused: the leader fails over by itself.
 */
import { hostname, userInfo } from 'node:os';
import type { LoadedConfig } from '../config/types.js';
import { EtcdClient } from '../adapters/leader/etcd-client.js';
import { Election, abortableSleep } from '../adapters/leader/election.js';
import { EtcdJournal } from '../adapters/journal/etcd-journal.js';
import { FileJournal } from '../adapters/journal/file-journal.js';
import type { Journal } from '../adapters/journal/journal.js';
import type { Logger } from '../ports/logger.js';

export interface ManualLead {
  journal: Journal;
  /** The leader's fencing token (etcd), for the hooks. */
  fencingToken: () => string | undefined;
  /** Between phases: false once the lease is lost. */
  stillLeader?: (() => Promise<boolean>) | undefined;
  /** Gives the leadership up. */
  release: () => Promise<void>;
}

export class LeaderElsewhere extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LeaderElsewhere';
  }
}

/** Takes the lead for a manual command, or throws LeaderElsewhere naming the manager that leads. */
export async function takeManualLead(config: LoadedConfig, cluster: string, what: string, log: Logger): Promise<ManualLead> {
  const e = config.etcd;
  if (e === undefined) return { journal: new FileJournal(config.state_dir, cluster), fencingToken: () => undefined, release: () => Promise.resolve() };
  const client = new EtcdClient({ endpoints: e.endpoints, timeoutMs: e.request_timeout * 1000 });
  const instance = `${hostname()}-${process.pid}-${userInfo().username}-${what.replace(/[^a-z]/gi, '')}`;
  const key = `${e.prefix}/leader`;
  const mono = (): number => performance.now();
  const election = new Election({ store: client, key, instance, ttlSeconds: e.lease_ttl, log, mono, now: Date.now });
  // A few rounds: a lease is granted, then the key taken if nobody holds it.
  const budgetMs = Math.max(3000, e.request_timeout * 2000);
  const end = mono() + budgetMs;
  while (!election.isLeader() && mono() < end) {
    const wait = await election.step();
    if (election.isLeader()) break;
    if (election.leader !== undefined && election.leader.instance !== instance) {
      await election.resign();
      const l = election.leader;
      throw new LeaderElsewhere(
        `manager ${l.instance}${l.pid !== undefined ? ` (pid ${l.pid})` : ''} leads (etcd key ${key}): it fails over this cluster by itself, and a ${what} by hand must not race it. Let the leader act, or stop every manager of this configuration first (they take the lead back when this command ends)`,
      );
    }
    await new Promise((r) => setTimeout(r, Math.min(wait, 200)));
  }
  if (!election.isLeader()) {
    await election.resign();
    throw new LeaderElsewhere(`could not take the lead on etcd (${e.endpoints.join(', ')}) within ${Math.round(budgetMs / 1000)} s: not running a ${what} without it`);
  }
  const ac = new AbortController();
  const loop = election.run(ac.signal, abortableSleep).catch(() => undefined);
  const journal = new EtcdJournal({
    client,
    prefix: e.prefix,
    cluster,
    writer: instance,
    fence: () => {
      const token = election.fencingToken();
      return token === undefined ? undefined : { key, token };
    },
  });
  await journal.refresh();
  log.info({ instance, key }, `leading on etcd for this ${what} (the managers follow until it ends)`);
  return {
    journal,
    fencingToken: () => election.fencingToken(),
    stillLeader: () => election.stillLeader(),
    release: async () => {
      await journal.flush().catch(() => undefined);
      ac.abort();
      await loop;
      await election.resign();
    },
  };
}
