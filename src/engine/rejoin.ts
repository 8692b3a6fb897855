/**
 * Rejoin of an old master (mhats rejoin SERVER, and auto_rejoin in the
 * manager). The decision is pure (src/domain/rejoin.ts); this module reads
 * what it needs and acts:
 *
 *   1. find the current master (every other server inspected) and the
 *      failover record of SERVER (its coordinates mapping, binlog positions);
 *   2. fence SERVER: read_only (super_read_only), and client sessions killed
 *      if it was writable. It stays read_only whatever happens;
 *   3. read its GTID state and the end of its binlog (SHOW BINLOG EVENTS,
 *      from the failover's coordinate, or backwards from the newest file);
 *   4. contained: CHANGE MASTER to the current master (GTID auto-position, or
 *      the recorded coordinate), START SLAVE, both threads verified, the
 *      rejoin journaled;
 *      diverged: refuse, list the transactions, extract them with
 *      mariadb-binlog / mysqlbinlog into a file for review, say how to reseed.
 *      Nothing is ever discarded.
 * Every statement has a deadline.
 */
import { join } from 'node:path';
import type { ClusterConfig, ServerConfig } from '../config/types.js';
import { inspectAll } from '../adapters/mysql/inspect.js';
import { extractBinlogRange } from '../adapters/mysql/extract-binlog.js';
import type { Journal } from '../adapters/journal/journal.js';
import { formatCoord } from '../domain/binlog-coord.js';
import { summarize, type JournalRecord } from '../domain/guard.js';
import { decideRejoin, heldBy, transactionsOf, type BinlogEventRow, type BinlogTxn, type RejoinDecision, type RejoinMap } from '../domain/rejoin.js';
import { topologyOptions } from '../config/resolve.js';
import { analyzeTopology } from '../domain/topology.js';
import type { BinlogCoord, ServerObservation } from '../domain/types.js';
import type { Logger } from '../ports/logger.js';
import { Admin, replicaStatusOf, replUser, specOf, target, waitUntil } from './ops/admin.js';

export interface RejoinRequest {
  cluster: ClusterConfig;
  /** Config name (or hostname) of the server to rejoin. */
  server: string;
  journal: Journal;
  /** Who asks (the journal says it). */
  by: string;
  /** Where the extracted divergent transactions go (a directory). */
  extractDir: string;
  /** Decide and report; change nothing (not even read_only). */
  dryRun?: boolean | undefined;
  log: Logger;
  now: () => number;
  /** At most this many binlog events are read when no failover record says where to start (default 200 000). */
  maxEvents?: number | undefined;
}

export type RejoinOutcome = 'rejoined' | 'already' | 'would_rejoin' | 'diverged' | 'refused' | 'failed';

export interface RejoinReport {
  cluster: string;
  server: string;
  outcome: RejoinOutcome;
  /** 0 rejoined/already/would; 1 diverged/refused/failed; 5 unreachable. */
  exitCode: 0 | 1 | 5;
  reason: string;
  master?: string | undefined;
  failover?: string | undefined;
  how?: 'gtid' | 'position' | undefined;
  startAt?: BinlogCoord | undefined;
  decision?: RejoinDecision | undefined;
  divergent?: { count: number; gtids: string[]; range?: { from: string; to: string } | undefined; transactions: Array<{ file: string; start: number; end: number; gtid?: string | undefined }> } | undefined;
  incomplete?: Array<{ file: string; start: number; gtid?: string | undefined }> | undefined;
  extractFile?: string | undefined;
  extractError?: string | undefined;
  reseed?: string[] | undefined;
  /** What was done, in order. */
  steps: string[];
}

/** The failover that made `server` an old master, and its coordinate mapping (binlog positions). */
export function failoverRecordOf(records: JournalRecord[], server: string): { id: string; map?: RejoinMap | undefined; rejoined: boolean } | undefined {
  const s = summarize(records)
    .filter((x) => x.deadMaster === server && (x.outcome === 'success' || x.outcome === 'partial'))
    .at(-1);
  if (!s) return undefined;
  const end = records.find((r): r is Extract<JournalRecord, { type: 'end' }> => r.type === 'end' && r.id === s.id);
  const detail = end?.detail as { rejoinMap?: RejoinMap } | undefined;
  return { id: s.id, map: detail?.rejoinMap, rejoined: s.rejoined };
}

function txnJson(t: BinlogTxn): { file: string; start: number; end: number; gtid?: string | undefined } {
  return { file: t.file, start: t.start, end: t.end, ...(t.gtid ? { gtid: t.gtid } : {}) };
}

/** Reads SHOW BINLOG EVENTS from `from` to the end of the binlog, page by page. */
async function readEventsFrom(a: Admin, files: string[], from: BinlogCoord, maxEvents: number): Promise<{ events: BinlogEventRow[]; truncated: boolean }> {
  const events: BinlogEventRow[] = [];
  const start = files.indexOf(from.file);
  if (start < 0) throw new Error(`its binlog ${from.file} (where the failover left it) is gone: purged? Without it the transactions after ${formatCoord(from)} cannot be read`);
  for (let i = start; i < files.length; i++) {
    let pos = i === start ? from.pos : 4;
    for (;;) {
      const page = (await a.q(a.d.showBinlogEvents(files[i]!, pos, 2000), 30_000)).map((r) => a.d.parseBinlogEvent(r));
      // The first row of a page from a position other than 4 is that event; from 4 it is the format description.
      events.push(...page);
      if (events.length > maxEvents) return { events, truncated: true };
      if (page.length < 2000) break;
      pos = page[page.length - 1]!.endPos;
    }
  }
  return { events, truncated: false };
}

/** Without a failover record: newest files first, until a file holds a transaction the new master has (or the cap). */
async function readTail(a: Admin, files: string[], contained: (t: BinlogTxn) => boolean, flavor: 'mysql' | 'mariadb', maxEvents: number): Promise<{ events: BinlogEventRow[]; from: BinlogCoord | undefined; truncated: boolean }> {
  let events: BinlogEventRow[] = [];
  let from: BinlogCoord | undefined;
  for (let i = files.length - 1; i >= 0; i--) {
    const r = await readEventsFrom(a, [files[i]!], { file: files[i]!, pos: 4 }, maxEvents - events.length);
    events = [...r.events, ...events];
    from = { file: files[i]!, pos: 4 };
    if (r.truncated) return { events, from, truncated: true };
    if (transactionsOf(flavor, r.events).some((t) => t.complete && contained(t))) return { events, from, truncated: false };
  }
  return { events, from, truncated: false };
}

export async function rejoinServer(req: RejoinRequest): Promise<RejoinReport> {
  const { cluster, log } = req;
  const steps: string[] = [];
  const srv = cluster.servers.find((s) => s.name === req.server || s.hostname === req.server || s.ip === req.server);
  const report = (r: Omit<RejoinReport, 'cluster' | 'server' | 'steps'>): RejoinReport => ({ cluster: cluster.name, server: srv?.name ?? req.server, steps, ...r });
  if (!srv) return report({ outcome: 'refused', exitCode: 1, reason: `${req.server} is not a server of ${cluster.name} (servers: ${cluster.servers.map((s) => s.name).join(', ')})` });
  const rlog = log.child({ cluster: cluster.name, rejoin: srv.name });
  const timeouts = { connectTimeoutMs: cluster.connect_timeout * 1000, queryTimeoutMs: cluster.query_timeout * 1000, now: req.now };

  // 1. The current master, from every other server.
  const others = cluster.servers.filter((s) => s.name !== srv.name);
  const probes = await inspectAll(others.map(target), timeouts);
  const analysis = analyzeTopology(others.map(specOf), probes, { ...topologyOptions(cluster), checkReplFilter: false });
  const nmObs = analysis.masterObs;
  const nm = cluster.servers.find((s) => s.name === analysis.master);
  if (!nm || !nmObs || nmObs.readOnly) return report({ outcome: 'refused', exitCode: 1, reason: `no writable master among the other servers of ${cluster.name}${analysis.master ? ` (${analysis.master} ${nmObs ? 'is read_only' : 'is unreachable'})` : ''}: nothing to rejoin yet` });
  const mode = analysis.mode === 'gtid' ? 'gtid' : analysis.mode === 'position' ? 'position' : undefined;
  if (analysis.mode === 'mixed') return report({ outcome: 'refused', exitCode: 1, master: nm.name, reason: `the replicas of ${nm.name} mix GTID and binlog-position replication: fix that first (mhats check-repl)` });
  const rec = failoverRecordOf(req.journal.read(), srv.name);
  const map = rec?.map && rec.map.newMaster === nm.name ? rec.map : undefined;
  if (rec?.map && !map) steps.push(`the failover record maps ${srv.name} to ${rec.map.newMaster}, but the master is ${nm.name} now: its coordinates no longer apply`);

  let a: Admin;
  try {
    a = await Admin.open(srv, cluster);
  } catch (err) {
    return report({ outcome: 'refused', exitCode: 5, master: nm.name, failover: rec?.id, reason: `${srv.name} cannot be reached: ${(err as Error).message}` });
  }
  try {
    // 2. Fenced, whatever comes next.
    const [ro] = await a.q(a.d.readOnlyQuery());
    const wasWritable = ro !== undefined && !a.d.parseReadOnly(ro).readOnly;
    if (!req.dryRun) {
      for (const stmt of a.d.setReadOnly(true)) await a.q(stmt);
      if (wasWritable) {
        const rows = await a.q<{ id: unknown; user: unknown; command: unknown }>(a.d.processlistQuery());
        let killed = 0;
        for (const r of rows) {
          const cid = Number(r.id);
          if (cid === a.s.threadId || String(r.user) === 'system user' || String(r.user) === 'event_scheduler' || String(r.command) === 'Daemon' || String(r.command).startsWith('Binlog Dump')) continue;
          await a.q(a.d.killConnection(cid)).then(() => killed++, () => undefined);
        }
        steps.push(`${srv.name} was WRITABLE: read_only set, ${killed} client connection(s) killed`);
        rlog.warn({ killed }, `${srv.name} was writable: fenced (read_only, ${killed} connection(s) killed) before anything else`);
      } else steps.push(`${srv.name} is read_only (kept)`);
    }
    const rs0 = await replicaStatusOf(a, cluster.query_timeout * 1000);
    if (rs0 && rs0.ioRunning === 'Yes' && rs0.sqlRunning && (rs0.sourceHost === nm.hostname || rs0.sourceHost === nm.ip) && rs0.sourcePort === nm.port) {
      if (rec && !rec.rejoined && !req.dryRun) req.journal.append({ type: 'rejoin', id: rec.id, at: req.now(), server: srv.name });
      await req.journal.flush?.();
      a.close();
      return report({ outcome: 'already', exitCode: 0, master: nm.name, failover: rec?.id, reason: `${srv.name} already replicates from ${nm.name} with both threads running` });
    }
    if (rs0 && (rs0.ioRunning !== 'No' || rs0.sqlRunning) && !req.dryRun) {
      await a.q(a.d.stopReplica());
      steps.push(`stopped its replication from ${rs0.sourceHost}:${rs0.sourcePort}`);
    }

    // 3. What it holds.
    const [v] = await a.q(a.d.variablesQuery());
    const vars = a.d.parseVariables(v!);
    const flavor = a.d.flavor;
    if (!vars.logBin) {
      a.close();
      return report({ outcome: 'refused', exitCode: 1, master: nm.name, failover: rec?.id, reason: `${srv.name} has no binary log: what it executed cannot be compared with ${nm.name}; reseed it` });
    }
    const files = (await a.q(a.d.showBinaryLogs())).map((r) => a.d.parseBinaryLog(r).file);
    const maxEvents = req.maxEvents ?? 200_000;
    let events: BinlogEventRow[];
    let scanFrom: BinlogCoord | undefined;
    let truncated = false;
    if (map && files.includes(map.oldMasterApplied.file)) {
      const r = await readEventsFrom(a, files, map.oldMasterApplied, maxEvents);
      events = r.events;
      truncated = r.truncated;
      scanFrom = map.oldMasterApplied;
    } else {
      // Newest files first, back to a transaction the new master holds (without GTIDs: the newest file only).
      const held = heldBy(flavor, nmObs.gtid);
      const r = await readTail(a, files, (t) => t.gtid === undefined || held(t), flavor, maxEvents);
      events = r.events;
      truncated = r.truncated;
      scanFrom = r.from;
    }
    const tail = transactionsOf(flavor, events);
    const decision = decideRejoin({ flavor, mode: mode ?? (flavor === 'mariadb' || vars.gtid.enabled ? 'gtid' : 'position'), oldGtid: vars.gtid, newGtid: nmObs.gtid, tail, scanFrom, truncated, map, oldServerId: vars.serverId });
    steps.push(`read ${events.length} binlog event(s) of ${srv.name}${scanFrom ? ` from ${formatCoord(scanFrom)}` : ''}${truncated ? ' (stopped at the cap)' : ''}: ${tail.filter((t) => t.complete).length} complete transaction(s)`);
    const incomplete = decision.kind === 'refused' ? [] : decision.incomplete.map((t) => ({ file: t.file, start: t.start, ...(t.gtid ? { gtid: t.gtid } : {}) }));
    if (incomplete.length > 0) steps.push(`${incomplete.length} transaction(s) at the end of a binlog file never committed (the crash cut them short): not counted`);

    if (decision.kind === 'refused') {
      a.close();
      return report({ outcome: 'refused', exitCode: 1, master: nm.name, failover: rec?.id, decision, reason: decision.reason, reseed: reseedText(cluster, srv, nm, undefined) });
    }
    if (decision.kind === 'diverged') {
      const divergent = { count: decision.divergent.length, gtids: decision.gtids, range: decision.range ? { from: formatCoord(decision.range.from), to: formatCoord(decision.range.to) } : undefined, transactions: decision.divergent.map(txnJson) };
      let extractFile: string | undefined;
      let extractError: string | undefined;
      if (decision.range && !req.dryRun) {
        const stamp = new Date(req.now()).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
        const out = join(req.extractDir, `${srv.name}-divergent-${stamp}.sql`);
        const fromIdx = files.indexOf(decision.range.from.file);
        const toIdx = files.indexOf(decision.range.to.file);
        try {
          const x = await extractBinlogRange(target(srv), files.slice(fromIdx, toIdx + 1), decision.range.from, decision.range.to, out, { clientBindir: srv.client_bindir, timeoutMs: 120_000 });
          extractFile = out;
          steps.push(`extracted the divergent transactions with ${x.tool} into ${out} (${x.bytes} bytes)`);
        } catch (err) {
          extractError = (err as Error).message;
          steps.push(`could NOT extract the divergent transactions: ${extractError}`);
        }
      }
      const reason = `${srv.name} DIVERGED from ${nm.name}: ${decision.reason}. It stays fenced (read_only) and out of the cluster; nothing was discarded`;
      rlog.error({ master: nm.name, gtids: decision.gtids, range: divergent.range, extractFile }, reason);
      if (!req.dryRun) {
        req.journal.append({ type: 'event', id: rec?.id ?? `rejoin-${srv.name}`, at: req.now(), message: `rejoin of ${srv.name} refused by mhats: diverged (${decision.divergent.length} transaction(s)); requested by ${req.by}`, detail: { rejoin: 'diverged', server: srv.name, master: nm.name, by: req.by, gtids: decision.gtids, range: divergent.range, extractFile } });
        await req.journal.flush?.().catch(() => undefined);
      }
      a.close();
      return report({ outcome: 'diverged', exitCode: 1, master: nm.name, failover: rec?.id, decision, reason, divergent, incomplete, extractFile, extractError, reseed: reseedText(cluster, srv, nm, extractFile) });
    }

    // 4. Contained: repoint, keep read_only, verify.
    if (req.dryRun) {
      a.close();
      return report({ outcome: 'would_rejoin', exitCode: 0, master: nm.name, failover: rec?.id, decision, how: decision.how, startAt: decision.startAt, incomplete, reason: `${decision.reason}: it would replicate from ${nm.name} ${decision.how === 'gtid' ? 'by GTID' : `from ${formatCoord(decision.startAt!)}`}` });
    }
    const user = replUser(cluster, nmReplicaObs(analysis.replicas.map((r) => r.obs)) ?? nmObs);
    if (decision.how === 'gtid' && flavor === 'mariadb') {
      const pos = vars.gtid.binlogPos ?? vars.gtid.executed;
      await a.q(a.d.setGtidSlavePos(pos));
      steps.push(`gtid_slave_pos set to its own binlog position ${pos}`);
    }
    await a.q(a.d.changeSource({ host: nm.hostname, port: nm.port, user, password: srv.repl_password ?? cluster.servers.find((s) => s.repl_password)?.repl_password, ...(decision.how === 'gtid' ? { gtid: 'auto' as const } : { gtid: false as const, coord: decision.startAt }) }));
    await a.q(a.d.startReplica());
    steps.push(`CHANGE MASTER to ${nm.name} (${nm.hostname}:${nm.port}) ${decision.how === 'gtid' ? 'by GTID' : `at ${formatCoord(decision.startAt!)}`}, START SLAVE`);
    await waitUntil(`${srv.name}: both replication threads running`, 20_000, async () => {
      const rs = await replicaStatusOf(a, cluster.query_timeout * 1000);
      if (!rs) return false;
      if (rs.lastSqlErrno) throw new Error(`its SQL thread stopped: error ${rs.lastSqlErrno}: ${rs.lastSqlError}`);
      if (rs.lastIoErrno && rs.ioRunning === 'No') throw new Error(`its IO thread stopped: error ${rs.lastIoErrno}: ${rs.lastIoError}`);
      return rs.ioRunning === 'Yes' && rs.sqlRunning;
    });
    steps.push('both replication threads run; read_only stays ON');
    if (rec) req.journal.append({ type: 'rejoin', id: rec.id, at: req.now(), server: srv.name });
    req.journal.append({ type: 'event', id: rec?.id ?? `rejoin-${srv.name}`, at: req.now(), message: `${srv.name} rejoined as a replica of ${nm.name} (${decision.how === 'gtid' ? 'GTID' : `at ${formatCoord(decision.startAt!)}`}); requested by ${req.by}`, detail: { rejoin: 'rejoined', server: srv.name, master: nm.name, by: req.by, how: decision.how, startAt: decision.startAt } });
    await req.journal.flush?.();
    rlog.info({ master: nm.name, how: decision.how }, `${srv.name} rejoined ${cluster.name} as a replica of ${nm.name}`);
    a.close();
    return report({ outcome: 'rejoined', exitCode: 0, master: nm.name, failover: rec?.id, decision, how: decision.how, startAt: decision.startAt, incomplete, reason: `${srv.name} replicates from ${nm.name} (${decision.reason}); read_only stays ON` });
  } catch (err) {
    a.destroy();
    const reason = `rejoin of ${srv.name} failed: ${(err as Error).message}; it stays read_only`;
    rlog.error({}, reason);
    return report({ outcome: 'failed', exitCode: 1, master: nm.name, failover: rec?.id, reason });
  }
}

function nmReplicaObs(replicas: ServerObservation[]): ServerObservation | undefined {
  return replicas.find((o) => o.replica !== undefined);
}

/** How to rebuild a server that cannot rejoin. */
export function reseedText(cluster: ClusterConfig, srv: ServerConfig, nm: ServerConfig, extractFile: string | undefined): string[] {
  return [
    ...(extractFile ? [`Review ${extractFile}: the transactions only ${srv.name} has. Re-apply on ${nm.name}, by hand, whatever must be kept (the file is readable SQL; the row events are decoded as ### comments).`] : []),
    `${srv.name} stays read_only and out of ${cluster.name}: the manager fences it whenever it is writable, and never promotes it.`,
    `To rebuild it from ${nm.name}: take a fresh copy of ${nm.name} (mariabackup --backup, or MySQL's CLONE / xtrabackup, or mysqldump --single-transaction --master-data=2), restore it on ${srv.name} in place of its data directory, start it with read_only=ON, then point it at ${nm.name} (CHANGE MASTER to the coordinates or GTID position the copy records) and run: mhats rejoin ${srv.name} --cluster ${cluster.name}`,
  ];
}
