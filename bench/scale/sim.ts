/**
 * A MySQL-protocol simulator of MariaDB 10.11 servers for the scale
 * benchmark (mysql2's server API). It answers exactly the statements the
 * manager sends while monitoring — handshake, the SELECT and INSERT pings,
 * version and variables, SHOW SLAVE STATUS, SHOW MASTER STATUS, the GTID
 * variables, the semi-sync variables and status, the replication users and
 * MHA's monitor lock — with plausible values that change: every master
 * writes `rate` transactions a second, and its replicas follow a few
 * milliseconds behind. Any other statement is answered with an error and
 * counted, so the benchmark shows whether the manager sent something else.
 *
 * This is a load generator for the monitoring path only. It proves nothing
 * about failover.
 *
 * Run as a child process (`fork`): the parent sends {type:'start', servers},
 * then {type:'kill', name} to make one server stop answering (its listener
 * closes and its connections are reset, as after a crash; its replicas then
 * report the IO thread reconnecting with error 2003), and {type:'stats'}.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type mysql from 'mysql2';

// mysql2's server API (lib/server.js) builds each connection with the default config, whose
// prepared-statement cache (16,000 entries, allocated up front) would make the simulator heavier
// than the manager it serves. The same classes, with a cache of one.
const require = createRequire(import.meta.url);
type ConnectionCtor = new (o: { config: unknown }) => mysql.Connection;
type ConfigCtor = new (o: { stream: Socket; isServer: true; maxPreparedStatements: number }) => unknown;
const lib = join(dirname(require.resolve('mysql2')), 'lib');
const Connection = require(join(lib, 'connection.js')) as ConnectionCtor;
const ConnectionConfig = require(join(lib, 'connection_config.js')) as ConfigCtor;

export interface SimServer {
  name: string;
  host: string;
  port: number;
  serverId: number;
  /** The master's name for a replica; undefined for a master. */
  master?: string | undefined;
}

export type SimRequest = { type: 'start'; servers: SimServer[]; rate: number; maxLagMs: number } | { type: 'kill'; name: string } | { type: 'drop'; name: string } | { type: 'stats' } | { type: 'stop' };
export type SimReply = { type: 'started'; listening: number } | { type: 'killed'; name: string; at: number } | { type: 'dropped'; name: string; connections: number } | { type: 'stats'; connections: number; queries: number; unknown: Record<string, number> } | { type: 'error'; message: string };

const VERSION = '10.11.6-MariaDB-log';

// mysql2's server warns once per connection about the sequence id of the first command: noise here.
const consoleError = console.error.bind(console);
console.error = (...args: unknown[]): void => {
  if (typeof args[0] === 'string' && args[0].startsWith('Warning: got packets out of order')) return;
  consoleError(...args);
};
const T0 = Date.now();

// Column types (mysql2 constants): LONGLONG for numbers, VAR_STRING for text.
const LONGLONG = 8;
const VAR_STRING = 253;

type Cell = string | number | null;
type Row = Record<string, Cell>;

interface Live {
  spec: SimServer;
  server: NetServer;
  conns: Set<{ stream: { destroy(): void } }>;
  dead: boolean;
  /** For replicas: this one's lag behind its master (ms), varies a little. */
  lagMs: number;
  /** SHOW ALL SLAVES STATUS: heartbeats counted when its master stopped (they stop arriving). */
  frozenBeats?: number | undefined;
}

const servers = new Map<string, Live>();
let rate = 50;
let maxLagMs = 20;
let nextConnId = 1;
let connections = 0;
let queries = 0;
const unknown: Record<string, number> = {};

/** The master's GTID sequence number at wall time t (it writes `rate` transactions a second). */
function seqAt(t: number, serverId: number): number {
  return 1000 + serverId + Math.floor(((t - T0) * rate) / 1000);
}

interface Position {
  seq: number;
  masterId: number;
}

function position(l: Live, t = Date.now()): Position {
  const m = l.spec.master !== undefined ? servers.get(l.spec.master) : undefined;
  if (m === undefined) return { seq: seqAt(t, l.spec.serverId), masterId: l.spec.serverId };
  // A replica: where its master was lagMs ago (frozen at the moment the master died).
  const upTo = m.dead ? (deadAt.get(m.spec.name) ?? t) : t;
  return { seq: seqAt(Math.min(t, upTo) - l.lagMs, m.spec.serverId), masterId: m.spec.serverId };
}

const deadAt = new Map<string, number>();

function gtid(p: Position): string {
  return `0-${p.masterId}-${p.seq}`;
}

function binlogPos(p: Position): number {
  return 4 + p.seq * 331;
}

function variable(l: Live, name: string): Cell {
  const p = position(l);
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
      return gtid(p);
    case 'gtid_binlog_pos':
      return isMaster ? gtid(p) : '';
    case 'gtid_slave_pos':
      return isMaster ? '' : gtid(p);
    case 'gtid_binlog_state':
      return isMaster ? gtid(p) : '';
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
      return undefined as unknown as Cell;
  }
}

/** s split at `sep` outside quotes and parentheses (pieces trimmed; a trailing empty piece dropped). */
function splitTopLevel(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = '';
  let cur = '';
  for (const ch of s) {
    if (quote) {
      if (ch === quote) quote = '';
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === sep && depth === 0) {
      out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

/** SELECT a, b, c with parentheses allowed: the top-level comma list. */
function splitTop(s: string): string[] {
  return splitTopLevel(s, ',');
}

/** Answers `SELECT expr AS alias, ...` for @@global variables, VERSION(), constants and MHA's lock functions. */
function select(l: Live, connId: number, list: string): Row | undefined {
  const row: Row = {};
  for (const item of splitTop(list)) {
    const m = /^(.*?)\s+AS\s+([A-Za-z_][A-Za-z0-9_]*)$/i.exec(item);
    if (!m) return undefined;
    const expr = m[1]!.trim();
    const alias = m[2]!;
    let v: Cell | undefined;
    let g: RegExpExecArray | null;
    if (expr === 'NULL') v = null;
    else if (/^\d+$/.test(expr)) v = Number(expr);
    else if (expr === 'VERSION()') v = VERSION;
    else if ((g = /^@@(?:global\.)?([a-z_]+)$/.exec(expr))) {
      v = variable(l, g[1]!);
      if (v === undefined) return undefined;
    } else if (/^GET_LOCK\(/i.test(expr) || /^RELEASE_LOCK\(/i.test(expr)) v = 1;
    else if (/^IS_USED_LOCK\(/i.test(expr)) v = connId;
    else return undefined;
    row[alias] = v;
  }
  return row;
}

function replicaStatus(l: Live): Row[] {
  const m = l.spec.master !== undefined ? servers.get(l.spec.master) : undefined;
  if (m === undefined) return [];
  const p = position(l);
  const pos = binlogPos(p);
  const down = m.dead;
  return [
    {
      Slave_IO_State: down ? 'Reconnecting after a failed master event read' : 'Waiting for master to send event',
      Master_Host: m.spec.host,
      Master_User: 'repl',
      Master_Port: m.spec.port,
      Connect_Retry: 60,
      Master_Log_File: 'mysql-bin.000001',
      Read_Master_Log_Pos: pos,
      Relay_Log_File: 'relay-bin.000002',
      Relay_Log_Pos: pos - 200,
      Relay_Master_Log_File: 'mysql-bin.000001',
      Slave_IO_Running: down ? 'Connecting' : 'Yes',
      Slave_SQL_Running: 'Yes',
      Replicate_Do_DB: '',
      Replicate_Ignore_DB: '',
      Replicate_Do_Table: '',
      Replicate_Ignore_Table: '',
      Replicate_Wild_Do_Table: '',
      Replicate_Wild_Ignore_Table: '',
      Last_Errno: 0,
      Last_Error: '',
      Skip_Counter: 0,
      Exec_Master_Log_Pos: pos,
      Relay_Log_Space: pos + 500,
      Until_Condition: 'None',
      Seconds_Behind_Master: down ? null : 0,
      Last_IO_Errno: down ? 2003 : 0,
      Last_IO_Error: down ? `error reconnecting to master 'repl@${m.spec.host}:${m.spec.port}' - retry-time: 60  maximum-retries: 86400  message: Can't connect to MySQL server on '${m.spec.host}' (111 "Connection refused")` : '',
      Last_SQL_Errno: 0,
      Last_SQL_Error: '',
      Master_Server_Id: m.spec.serverId,
      Using_Gtid: 'Slave_Pos',
      Gtid_IO_Pos: gtid(p),
      Parallel_Mode: 'optimistic',
      SQL_Delay: 0,
      SQL_Remaining_Delay: null,
      Slave_SQL_Running_State: 'Slave has read all relay log; waiting for more updates',
      Slave_DDL_Groups: 0,
      Slave_Non_Transactional_Groups: 0,
      Slave_Transactional_Groups: p.seq,
    },
  ];
}

function masterStatus(l: Live): Row[] {
  // A replica's own binlog holds nothing of its master's (log_slave_updates=OFF, the MariaDB default).
  return [{ File: 'mysql-bin.000001', Position: l.spec.master !== undefined ? 4 : binlogPos(position(l)), Binlog_Do_DB: '', Binlog_Ignore_DB: '' }];
}

function kv(pairs: Array<[string, Cell]>): Row[] {
  return pairs.map(([k, v]) => ({ Variable_name: k, Value: v }));
}

type Answer = { rows: Row[]; columns?: string[] } | { ok: true } | { error: string; errno: number };

function answer(l: Live, connId: number, sql: string): Answer {
  const q = sql.trim();
  if (/^SELECT /i.test(q) && !/ FROM /i.test(q)) {
    const row = select(l, connId, q.slice(7));
    if (row) return { rows: [row] };
  }
  if (q === 'SHOW SLAVE STATUS') return { rows: replicaStatus(l), columns: ['Slave_IO_State', 'Master_Host', 'Master_User', 'Master_Port'] };
  if (q === 'SHOW ALL SLAVES STATUS') {
    // MariaDB's per-connection view (the witnesses' samples): heartbeats arrive while the master lives.
    const master = l.spec.master !== undefined ? servers.get(l.spec.master) : undefined;
    const beats = master === undefined || master.dead ? (l.frozenBeats ??= Math.floor(performance.now() / 1000)) : ((l.frozenBeats = undefined), Math.floor(performance.now() / 1000));
    return { rows: replicaStatus(l).map((r) => ({ Connection_name: '', ...r, Slave_received_heartbeats: beats, Slave_heartbeat_period: 1 })) };
  }
  if (q === 'SHOW MASTER STATUS') return { rows: masterStatus(l), columns: ['File', 'Position', 'Binlog_Do_DB', 'Binlog_Ignore_DB'] };
  if (q === "SHOW GLOBAL VARIABLES LIKE 'rpl_semi_sync%'")
    return { rows: kv([['rpl_semi_sync_master_enabled', 'OFF'], ['rpl_semi_sync_master_timeout', 10000], ['rpl_semi_sync_master_wait_point', 'AFTER_COMMIT'], ['rpl_semi_sync_slave_enabled', 'OFF']]) };
  if (q === "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync%'") return { rows: kv([['Rpl_semi_sync_master_status', 'OFF'], ['Rpl_semi_sync_master_clients', 0], ['Rpl_semi_sync_slave_status', 'OFF']]) };
  if (/^SELECT User AS user, Host AS host FROM mysql\.user WHERE Repl_slave_priv = 'Y'/.test(q)) return { rows: [{ user: 'repl', host: '127.%' }] };
  if (/^CREATE (DATABASE|TABLE) IF NOT EXISTS infra/.test(q) || /^INSERT INTO infra\.chk_masterha/.test(q)) return { ok: true };
  const key = q.replace(/\s+/g, ' ').slice(0, 60);
  unknown[key] = (unknown[key] ?? 0) + 1;
  return { error: `simulator: statement not simulated: ${key}`, errno: 1064 };
}

/** A multi-statement query's statements (split at top-level semicolons, outside quotes; empty ones dropped). */
function splitStatements(sql: string): string[] {
  return splitTopLevel(sql, ';').filter((x) => x !== '');
}

/** SERVER_MORE_RESULTS_EXISTS: another result of the same multi-statement query follows. */
const MORE_RESULTS = 0x0008;

/** Writes one result; more: another result of the same query follows (an error ends the query, as on a real server). */
function write(conn: mysql.Connection, a: Answer, more = false): void {
  const c = conn as unknown as {
    writeColumns(cols: unknown[]): void;
    writeTextRow(row: Cell[]): void;
    writeEof(warnings?: number, statusFlags?: number): void;
    writeOk(args?: unknown): void;
    writeError(args: { message: string; code: number }): void;
  };
  const status = 2 | (more ? MORE_RESULTS : 0);
  if ('error' in a) return c.writeError({ message: a.error, code: a.errno });
  if ('ok' in a) return c.writeOk({ affectedRows: 1, serverStatus: status });
  const names = a.rows[0] !== undefined ? Object.keys(a.rows[0]) : (a.columns ?? ['Value']);
  const first = a.rows[0];
  c.writeColumns(
    names.map((name) => {
      const numeric = first !== undefined && typeof first[name] === 'number';
      return { catalog: 'def', schema: '', table: '', orgTable: '', name, orgName: name, characterSet: numeric ? 63 : 33, columnLength: numeric ? 21 : 1024, columnType: numeric ? LONGLONG : VAR_STRING, flags: 0, decimals: 0 };
    }),
  );
  // mysql2's writeTextResult pads each row with holes: write the rows ourselves.
  for (const r of a.rows) c.writeTextRow(names.map((n) => (r[n] === undefined ? null : r[n]!)));
  c.writeEof(0, status);
}

function listen(spec: SimServer): Promise<Live> {
  const live: Live = { spec, server: undefined as unknown as Live['server'], conns: new Set(), dead: false, lagMs: Math.random() * maxLagMs };
  const server = createNetServer((socket) => {
    const conn = new Connection({ config: new ConnectionConfig({ stream: socket, isServer: true, maxPreparedStatements: 1 }) });
    connections++;
    const connId = nextConnId++;
    const raw = conn as unknown as { sequenceId: number; stream: { destroy(): void; on(ev: string, f: () => void): void }; serverHandshake(a: unknown): void; on(ev: string, f: (...a: unknown[]) => void): void };
    live.conns.add(raw);
    raw.stream.on('close', () => live.conns.delete(raw));
    raw.on('error', () => undefined);
    raw.serverHandshake({ protocolVersion: 10, serverVersion: VERSION, connectionId: connId, statusFlags: 2, characterSet: 33, capabilityFlags: 0xffffff & ~0x800 & ~0x20 & ~0x800000 });
    raw.on('query', (sql: unknown) => {
      queries++;
      if (live.dead) return;
      // mysql2's server never ends its handshake command, so it never resets the sequence id:
      // a reply starts at 1 (the command was 0), and the next command comes with 0 again.
      raw.sequenceId = 1;
      const stmts = splitStatements(String(sql));
      if (stmts.length === 0) stmts.push('');
      for (let i = 0; i < stmts.length; i++) {
        const a = answer(live, connId, stmts[i]!);
        write(conn, a, i < stmts.length - 1 && !('error' in a));
        if ('error' in a) break;
      }
      raw.sequenceId = 0;
    });
  });
  live.server = server;
  return new Promise((resolve, reject) => {
    const s = server;
    s.once('error', reject);
    s.listen(spec.port, spec.host, () => {
      s.removeListener('error', reject);
      resolve(live);
    });
  });
}

function kill(name: string): number {
  const l = servers.get(name);
  if (!l) throw new Error(`no simulated server ${name}`);
  const at = Date.now();
  l.dead = true;
  deadAt.set(name, at);
  l.server.close();
  for (const c of l.conns) c.stream.destroy();
  return at;
}

// Replica lag drifts a little over time, so values change between reads.
setInterval(() => {
  for (const l of servers.values()) if (l.spec.master !== undefined) l.lagMs = Math.max(0, Math.min(maxLagMs, l.lagMs + (Math.random() - 0.5) * 4));
}, 1000).unref();

process.on('message', (m: SimRequest) => {
  const reply = (r: SimReply): void => void process.send?.(r);
  void (async () => {
    try {
      switch (m.type) {
        case 'start': {
          rate = m.rate;
          maxLagMs = m.maxLagMs;
          for (let i = 0; i < m.servers.length; i += 200) {
            const batch = await Promise.all(m.servers.slice(i, i + 200).map(listen));
            for (const l of batch) servers.set(l.spec.name, l);
          }
          reply({ type: 'started', listening: servers.size });
          break;
        }
        case 'kill':
          reply({ type: 'killed', name: m.name, at: kill(m.name) });
          break;
        case 'drop': {
          // The server closes its connections (wait_timeout, a restart) but keeps listening.
          const l = servers.get(m.name);
          const n = l?.conns.size ?? 0;
          for (const c of l?.conns ?? []) c.stream.destroy();
          reply({ type: 'dropped', name: m.name, connections: n });
          break;
        }
        case 'stats':
          reply({ type: 'stats', connections, queries, unknown });
          break;
        case 'stop':
          process.exit(0);
      }
    } catch (err) {
      reply({ type: 'error', message: (err as Error).message });
    }
  })();
});
process.on('disconnect', () => process.exit(0));
