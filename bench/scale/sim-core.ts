/**
 * Simulated MariaDB 10.11 servers for the scale benchmark: a hand-written MySQL protocol loop
 * (bench/scale/wire.ts) on one listener per server. It answers exactly the statements the manager
 * sends while monitoring — handshake, the SELECT and INSERT pings, version and variables, SHOW SLAVE
 * STATUS, SHOW ALL SLAVES STATUS, SHOW MASTER STATUS, the GTID variables, the semi-sync variables and
 * status, the replication users and MHA's monitor lock — with plausible values that change: every
 * master writes `rate` transactions a second, and its replicas follow a few milliseconds behind. Any
 * other statement is answered with an error and counted, so the benchmark shows whether the manager
 * sent something else.
 *
 * What makes it cheap: a statement text is parsed once (the manager sends the same constant texts
 * over and over) into a list of answer functions; the greeting is a template with the connection id
 * patched in; the OK after authentication is a constant; a reply is written with one socket write.
 * No protocol library objects per connection: a socket, a packet reader and a closure.
 *
 * This is a load generator for the monitoring path only. It proves nothing about failover.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { greeting, greetingTemplate, PacketReader, PacketWriter, STATUS_AUTOCOMMIT, STATUS_MORE_RESULTS, type Cell } from './wire.js';
import { MARIADB_1011_ROW } from '../../test/fixtures/replica-status.js';

export interface SimServer {
  name: string;
  host: string;
  port: number;
  serverId: number;
  /** The master's name for a replica; undefined for a master. */
  master?: string | undefined;
}

export const VERSION = '10.11.6-MariaDB-log';

type Row = Record<string, Cell>;
type Answer = { rows: Row[]; columns?: readonly string[] | undefined } | { ok: true } | { error: string; errno: number };

interface Live {
  spec: SimServer;
  server: Server;
  conns: Set<Socket>;
  dead: boolean;
  deadAt: number | undefined;
  /** For replicas: this one's lag behind its master (ms), varies a little. */
  lagMs: number;
  /** SHOW ALL SLAVES STATUS: heartbeats counted when its master stopped (they stop arriving). */
  frozenBeats?: number | undefined;
}

type Answerer = (l: Live, connId: number) => Answer;

/**
 * A replica's SHOW SLAVE STATUS: the columns (in their order) and constant values of a real MariaDB 10.11
 * row, less the ones below, which the manager does not read and this simulator has never sent (left out so
 * that its replies, and so the measured costs, stay what they were).
 */
const NOT_SENT = new Set(['Until_Log_File', 'Until_Log_Pos', 'Master_SSL_Allowed', 'Master_SSL_CA_File', 'Master_SSL_CA_Path', 'Master_SSL_Cert', 'Master_SSL_Cipher', 'Master_SSL_Key', 'Master_SSL_Verify_Server_Cert', 'Replicate_Ignore_Server_Ids', 'Master_SSL_Crl', 'Master_SSL_Crlpath', 'Replicate_Do_Domain_Ids', 'Replicate_Ignore_Domain_Ids', 'Replicate_Rewrite_DB']);
const SLAVE_STATUS: Readonly<Row> = Object.fromEntries(Object.entries(MARIADB_1011_ROW).filter(([k]) => !NOT_SENT.has(k)));

const KNOWN_VARIABLES = new Set([
  'server_id',
  'read_only',
  'log_bin',
  'log_slave_updates',
  'binlog_format',
  'gtid_current_pos',
  'gtid_binlog_pos',
  'gtid_slave_pos',
  'gtid_binlog_state',
  'gtid_strict_mode',
  'gtid_domain_id',
  'relay_log_purge',
  'report_host',
  'slave_net_timeout',
  'hostname',
  'datadir',
  'log_bin_basename',
  'version',
  'version_comment',
]);

/** s split at `sep` outside quotes and parentheses (pieces trimmed; empty pieces dropped). */
export function splitTopLevel(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = '';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (quote) {
      if (ch === quote) quote = '';
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === sep && depth === 0) {
      const piece = s.slice(from, i).trim();
      if (piece !== '') out.push(piece);
      from = i + 1;
    }
  }
  const last = s.slice(from).trim();
  if (last !== '') out.push(last);
  return out;
}

/** The simulated servers of one process, with their sockets. */
export class SimFleet {
  readonly servers = new Map<string, Live>();
  rate = 50;
  maxLagMs = 20;
  connections = 0;
  queries = 0;
  readonly unknown: Record<string, number> = {};
  #nextConnId = 1;
  readonly #t0 = Date.now();
  readonly #greeting = greetingTemplate(VERSION);
  /** The OK after authentication: sequence id 2 (greeting 0, the client's answer 1). */
  readonly #authOk = (() => {
    const w = new PacketWriter(64);
    w.seq = 2;
    return w.ok(STATUS_AUTOCOMMIT).take();
  })();
  /** Statement texts already parsed: the manager sends the same few over and over. */
  readonly #compiled = new Map<string, Answerer[]>();
  readonly #out = new PacketWriter();
  #drift: NodeJS.Timeout;

  constructor(opts: { rate?: number; maxLagMs?: number } = {}) {
    this.rate = opts.rate ?? this.rate;
    this.maxLagMs = opts.maxLagMs ?? this.maxLagMs;
    // Replica lag drifts a little over time, so values change between reads.
    this.#drift = setInterval(() => {
      for (const l of this.servers.values()) if (l.spec.master !== undefined) l.lagMs = Math.max(0, Math.min(this.maxLagMs, l.lagMs + (Math.random() - 0.5) * 4));
    }, 1000);
    this.#drift.unref();
  }

  /** The master's GTID sequence number at wall time t (it writes `rate` transactions a second). */
  #seqAt(t: number, serverId: number): number {
    return 1000 + serverId + Math.floor(((t - this.#t0) * this.rate) / 1000);
  }

  #masterOf(l: Live): Live | undefined {
    return l.spec.master !== undefined ? this.servers.get(l.spec.master) : undefined;
  }

  #position(l: Live, t = Date.now()): { seq: number; masterId: number } {
    const m = this.#masterOf(l);
    if (m === undefined) return { seq: this.#seqAt(t, l.spec.serverId), masterId: l.spec.serverId };
    // A replica: where its master was lagMs ago (frozen at the moment the master died).
    const upTo = m.dead ? (m.deadAt ?? t) : t;
    return { seq: this.#seqAt(Math.min(t, upTo) - l.lagMs, m.spec.serverId), masterId: m.spec.serverId };
  }

  #gtid(l: Live): string {
    const p = this.#position(l);
    return `0-${p.masterId}-${p.seq}`;
  }

  static #binlogPos(seq: number): number {
    return 4 + seq * 331;
  }

  #variable(l: Live, name: string): Cell {
    const isMaster = l.spec.master === undefined;
    switch (name) {
      case 'server_id':
        return l.spec.serverId;
      case 'read_only':
        return isMaster ? 0 : 1;
      case 'log_bin':
        return 1; // replicas binlog too (candidates), without log_slave_updates
      case 'log_slave_updates':
        return 0;
      case 'binlog_format':
        return 'MIXED';
      case 'gtid_current_pos':
        return this.#gtid(l);
      case 'gtid_binlog_pos':
      case 'gtid_binlog_state':
        return isMaster ? this.#gtid(l) : '';
      case 'gtid_slave_pos':
        return isMaster ? '' : this.#gtid(l);
      case 'gtid_strict_mode':
        return 1;
      case 'gtid_domain_id':
        return 0;
      case 'relay_log_purge':
        return 1;
      case 'report_host':
        return null;
      case 'slave_net_timeout':
        return 60;
      case 'hostname':
        return l.spec.name;
      case 'datadir':
        return `/var/lib/mysql/${l.spec.name}/`;
      case 'log_bin_basename':
        return `/var/lib/mysql/${l.spec.name}/mysql-bin`;
      case 'version':
        return VERSION;
      case 'version_comment':
        return 'mariadb.org binary distribution';
      default:
        return null;
    }
  }

  /** `SELECT expr AS alias, ...` of @@global variables, VERSION(), constants and MHA's lock functions, parsed once; undefined when not simulated. */
  #compileSelect(list: string): Answerer | undefined {
    const items: Array<{ alias: string; get: (l: Live, connId: number) => Cell }> = [];
    for (const item of splitTopLevel(list, ',')) {
      const m = /^(.*?)\s+AS\s+([A-Za-z_][A-Za-z0-9_]*)$/i.exec(item);
      if (!m) return undefined;
      const expr = m[1]!.trim();
      const alias = m[2]!;
      let g: RegExpExecArray | null;
      if (expr === 'NULL') items.push({ alias, get: () => null });
      else if (/^\d+$/.test(expr)) {
        const n = Number(expr);
        items.push({ alias, get: () => n });
      } else if (expr === 'VERSION()') items.push({ alias, get: () => VERSION });
      else if ((g = /^@@(?:global\.)?([a-z_]+)$/.exec(expr))) {
        const name = g[1]!;
        if (!KNOWN_VARIABLES.has(name)) return undefined;
        items.push({ alias, get: (l) => this.#variable(l, name) });
      } else if (/^GET_LOCK\(/i.test(expr) || /^RELEASE_LOCK\(/i.test(expr)) items.push({ alias, get: () => 1 });
      else if (/^IS_USED_LOCK\(/i.test(expr)) items.push({ alias, get: (_l, connId) => connId });
      else return undefined;
    }
    return (l, connId) => {
      const row: Row = {};
      for (const it of items) row[it.alias] = it.get(l, connId);
      return { rows: [row] };
    };
  }

  #replicaStatus(l: Live): Row[] {
    const m = this.#masterOf(l);
    if (m === undefined) return [];
    const p = this.#position(l);
    const pos = SimFleet.#binlogPos(p.seq);
    const down = m.dead;
    return [
      {
        ...SLAVE_STATUS,
        Slave_IO_State: down ? 'Reconnecting after a failed master event read' : 'Waiting for master to send event',
        Master_Host: m.spec.host,
        Master_Port: m.spec.port,
        Connect_Retry: 60,
        Read_Master_Log_Pos: pos,
        Relay_Log_Pos: pos - 200,
        Slave_IO_Running: down ? 'Connecting' : 'Yes',
        Exec_Master_Log_Pos: pos,
        Relay_Log_Space: pos + 500,
        Seconds_Behind_Master: down ? null : 0,
        Last_IO_Errno: down ? 2003 : 0,
        Last_IO_Error: down ? `error reconnecting to master 'repl@${m.spec.host}:${m.spec.port}' - retry-time: 60  maximum-retries: 86400  message: Can't connect to MySQL server on '${m.spec.host}' (111 "Connection refused")` : '',
        Master_Server_Id: m.spec.serverId,
        Gtid_IO_Pos: `0-${p.masterId}-${p.seq}`,
        Slave_DDL_Groups: 0,
        Slave_Transactional_Groups: p.seq,
      },
    ];
  }

  static readonly #kv = (pairs: Array<[string, Cell]>): Row[] => pairs.map(([k, v]) => ({ Variable_name: k, Value: v }));
  static readonly #SEMI_VARS = SimFleet.#kv([['rpl_semi_sync_master_enabled', 'OFF'], ['rpl_semi_sync_master_timeout', 10000], ['rpl_semi_sync_master_wait_point', 'AFTER_COMMIT'], ['rpl_semi_sync_slave_enabled', 'OFF']]);
  static readonly #SEMI_STATUS = SimFleet.#kv([['Rpl_semi_sync_master_status', 'OFF'], ['Rpl_semi_sync_master_clients', 0], ['Rpl_semi_sync_slave_status', 'OFF']]);

  /** One statement, parsed once into its answer. */
  #compile(q: string): Answerer {
    if (/^SELECT /i.test(q) && !/ FROM /i.test(q)) {
      const a = this.#compileSelect(q.slice(7));
      if (a) return a;
    }
    if (q === 'SHOW SLAVE STATUS') return (l) => ({ rows: this.#replicaStatus(l), columns: ['Slave_IO_State', 'Master_Host', 'Master_User', 'Master_Port'] });
    if (q === 'SHOW ALL SLAVES STATUS')
      return (l) => {
        // MariaDB's per-connection view (the witnesses' samples): heartbeats arrive while the master lives.
        const master = this.#masterOf(l);
        const beats = master === undefined || master.dead ? (l.frozenBeats ??= Math.floor(performance.now() / 1000)) : ((l.frozenBeats = undefined), Math.floor(performance.now() / 1000));
        return { rows: this.#replicaStatus(l).map((r) => ({ Connection_name: '', ...r, Slave_received_heartbeats: beats, Slave_heartbeat_period: 1 })), columns: ['Connection_name', 'Slave_IO_State'] };
      };
    if (q === 'SHOW MASTER STATUS')
      // A replica's own binlog holds nothing of its master's (log_slave_updates=OFF, the MariaDB default).
      return (l) => ({ rows: [{ File: 'mysql-bin.000001', Position: l.spec.master !== undefined ? 4 : SimFleet.#binlogPos(this.#position(l).seq), Binlog_Do_DB: '', Binlog_Ignore_DB: '' }] });
    if (q === "SHOW GLOBAL VARIABLES LIKE 'rpl_semi_sync%'") return () => ({ rows: SimFleet.#SEMI_VARS });
    if (q === "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync%'") return () => ({ rows: SimFleet.#SEMI_STATUS });
    // MHA's monitor lock: the client address of the session holding it (this manager's own, kept after a route cut).
    const proc = /^SELECT HOST AS host FROM information_schema\.PROCESSLIST WHERE ID = (\d+)$/.exec(q);
    if (proc) {
      const id = Number(proc[1]);
      return (_l, connId) => ({ rows: id === connId ? [{ host: `127.0.0.1:${40_000 + (connId % 20_000)}` }] : [] });
    }
    if (/^SELECT User AS user, Host AS host FROM mysql\.user WHERE Repl_slave_priv = 'Y'/.test(q)) return () => ({ rows: [{ user: 'repl', host: '127.%' }] });
    if (/^CREATE (DATABASE|TABLE) IF NOT EXISTS infra/.test(q) || /^INSERT INTO infra\.chk_masterha/.test(q)) return () => ({ ok: true });
    const key = q.replace(/\s+/g, ' ').slice(0, 60);
    return () => {
      this.unknown[key] = (this.unknown[key] ?? 0) + 1;
      return { error: `simulator: statement not simulated: ${key}`, errno: 1064 };
    };
  }

  /** A query's statements (split at top-level semicolons), each parsed once; cached by the query's text. */
  #statements(sql: string): Answerer[] {
    let a = this.#compiled.get(sql);
    if (a === undefined) {
      const stmts = splitTopLevel(sql, ';');
      if (stmts.length === 0) stmts.push('');
      a = stmts.map((s) => this.#compile(s));
      if (this.#compiled.size < 10_000) this.#compiled.set(sql, a);
    }
    return a;
  }

  /** The reply to one COM_QUERY (sequence ids from 1): each result, until the first error (as on a real server). */
  #reply(l: Live, connId: number, sql: string): Buffer {
    const w = this.#out;
    w.seq = 1;
    const stmts = this.#statements(sql);
    for (let i = 0; i < stmts.length; i++) {
      const a = stmts[i]!(l, connId);
      if ('error' in a) {
        w.err(a.errno, a.error);
        break;
      }
      const status = STATUS_AUTOCOMMIT | (i < stmts.length - 1 ? STATUS_MORE_RESULTS : 0);
      if ('ok' in a) {
        w.ok(status, 1);
        continue;
      }
      const first = a.rows[0];
      const names = first !== undefined ? Object.keys(first) : (a.columns ?? ['Value']);
      const columns = names.map((name) => ({ name, numeric: first !== undefined && typeof first[name] === 'number' }));
      w.resultSet(
        columns,
        a.rows.map((r) => names.map((n) => r[n] ?? null)),
        status,
      );
    }
    return w.take();
  }

  /** One accepted connection: greeting, accept any authentication, then commands until COM_QUIT or close. */
  #serve(l: Live, socket: Socket): void {
    this.connections++;
    const connId = this.#nextConnId++;
    l.conns.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('close', () => l.conns.delete(socket));
    let authenticated = false;
    const reader = new PacketReader((_seq, payload) => {
      if (socket.destroyed) return;
      if (!authenticated) {
        authenticated = true;
        socket.write(this.#authOk);
        return;
      }
      const cmd = payload[0];
      if (cmd === 0x03) {
        this.queries++;
        if (l.dead) return;
        socket.write(this.#reply(l, connId, payload.toString('utf8', 1)));
      } else if (cmd === 0x01) socket.end(); // COM_QUIT: what was answered before it is still sent
      else if (cmd === 0x0e || cmd === 0x02) {
        const w = this.#out;
        w.seq = 1;
        socket.write(w.ok(STATUS_AUTOCOMMIT).take()); // COM_PING, COM_INIT_DB
      } else {
        const key = `command 0x${(cmd ?? 0).toString(16)}`;
        this.unknown[key] = (this.unknown[key] ?? 0) + 1;
        const w = this.#out;
        w.seq = 1;
        socket.write(w.err(1047, `simulator: ${key} not simulated`, '08S01').take());
      }
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.write(greeting(this.#greeting, connId));
  }

  /** Starts one simulated server listening on its address. */
  listen(spec: SimServer): Promise<void> {
    const live: Live = { spec, server: undefined as unknown as Server, conns: new Set(), dead: false, deadAt: undefined, lagMs: Math.random() * this.maxLagMs };
    const server = createServer((socket) => this.#serve(live, socket));
    live.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: spec.port, host: spec.host, backlog: 511 }, () => {
        server.removeListener('error', reject);
        this.servers.set(spec.name, live);
        resolve();
      });
    });
  }

  /** The address a server listens on (port 0 in its spec: the one the system chose). */
  address(name: string): { host: string; port: number } | undefined {
    const a = this.servers.get(name)?.server.address();
    return a !== null && typeof a === 'object' ? { host: a.address, port: a.port } : undefined;
  }

  /** The server stops answering, as after a crash: its listener closes and its connections are reset; its replicas then report the IO thread reconnecting. */
  kill(name: string): number {
    const l = this.servers.get(name);
    if (!l) throw new Error(`no simulated server ${name}`);
    const at = Date.now();
    l.dead = true;
    l.deadAt = at;
    l.server.close();
    for (const c of l.conns) c.destroy();
    return at;
  }

  /** The server closes its connections (wait_timeout, a restart) but keeps listening. */
  drop(name: string): number {
    const l = this.servers.get(name);
    const n = l?.conns.size ?? 0;
    for (const c of l?.conns ?? []) c.destroy();
    return n;
  }

  close(): void {
    clearInterval(this.#drift);
    for (const l of this.servers.values()) {
      l.server.close();
      for (const c of l.conns) c.destroy();
    }
  }
}
