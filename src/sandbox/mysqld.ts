/**
 * One sandbox database server: find the binaries, build (once) and copy the
 * template datadir, write its options file, start it detached, wait until it
 * answers, and run SQL as root over its unix socket.
 */
import { access, constants, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { UserError } from '../errors/errors.js';
import { isAlive, pollUntil, spawnDetached } from './proc.js';
import { spawnInNetns } from './netns.js';
import type { SandboxServer } from './types.js';

export interface Flavor {
  kind: 'mariadb' | 'mysql';
  server: string;
  client: string;
  /** e.g. "10.11.19" */
  version: string;
}

const SEARCH_PATH = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin', '/usr/local/mysql/bin'];

export async function findBinary(names: string[]): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? '').split(':').filter((d) => d.startsWith('/')), ...SEARCH_PATH];
  for (const name of names) {
    for (const d of dirs) {
      const p = join(d, name);
      try {
        await access(p, constants.X_OK);
        return p;
      } catch {
        // keep looking
      }
    }
  }
  return undefined;
}

let flavorCache: Promise<Flavor> | undefined;

/** The installed server: mariadbd (preferred) or MySQL's mysqld. */
export function detectFlavor(): Promise<Flavor> {
  flavorCache ??= detect();
  return flavorCache;
}

async function detect(): Promise<Flavor> {
  const server = await findBinary(['mariadbd', 'mysqld']);
  if (server === undefined) {
    throw new UserError('no MariaDB or MySQL server found (looked for mariadbd and mysqld)', {
      hint: 'install one, e.g. apt-get install -y mariadb-server mariadb-client',
    });
  }
  const r = await execa(server, ['--no-defaults', '--version'], { timeout: 10_000, reject: false });
  const out = `${r.stdout}`;
  const kind: Flavor['kind'] = /MariaDB/i.test(out) ? 'mariadb' : 'mysql';
  const version = /Ver\s+(\d+\.\d+\.\d+)/.exec(out)?.[1] ?? '0.0.0';
  const client = await findBinary(kind === 'mariadb' ? ['mariadb', 'mysql'] : ['mysql']);
  if (client === undefined) {
    throw new UserError(`found ${server} but no SQL client (mariadb/mysql)`, { hint: 'install the client package, e.g. apt-get install -y mariadb-client' });
  }
  return { kind, server, client, version };
}

function versionAtLeast(v: string, want: string): boolean {
  const a = v.split('.').map(Number);
  const b = want.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

export function cacheDir(): string {
  return process.env.MHATS_SANDBOX_CACHE ?? '/var/tmp/mhats-sandbox-cache';
}

/**
 * The template datadir, made once per server version and reused: each
 * instance is a `cp -a` of it. Built in a temporary directory and renamed
 * into place, so concurrent `up`s never see half a template.
 */
export async function ensureTemplate(flavor: Flavor): Promise<string> {
  const base = cacheDir();
  const tpl = join(base, `template-${flavor.kind}-${flavor.version}`);
  if (existsSync(join(tpl, 'mysql'))) return tpl;
  await mkdir(base, { recursive: true, mode: 0o755 });
  const tmp = `${tpl}.tmp-${process.pid}-${Date.now()}`;
  await rm(tmp, { recursive: true, force: true });
  const log = `${tmp}.log`;
  let r;
  if (flavor.kind === 'mariadb') {
    const installer = await findBinary(['mariadb-install-db', 'mysql_install_db']);
    if (installer === undefined) throw new UserError('mariadb-install-db not found', { hint: 'install mariadb-server' });
    r = await execa(
      installer,
      [
        '--no-defaults',
        '--user=mysql',
        `--datadir=${tmp}`,
        '--auth-root-authentication-method=socket',
        '--skip-test-db',
        '--innodb-log-file-size=32M',
        '--innodb-buffer-pool-size=32M',
      ],
      { timeout: 120_000, reject: false, all: true },
    );
  } else {
    await mkdir(tmp, { mode: 0o750 });
    await execa('chown', ['mysql:mysql', tmp], { timeout: 10_000 });
    r = await execa(flavor.server, ['--no-defaults', '--initialize-insecure', '--user=mysql', `--datadir=${tmp}`], {
      timeout: 300_000,
      reject: false,
      all: true,
    });
  }
  if (r.failed) {
    await writeFile(log, `${r.all}`).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
    throw new UserError(`could not create the template datadir ${tpl}: ${r.shortMessage}`, { hint: `see ${log}` });
  }
  try {
    await rename(tmp, tpl);
  } catch {
    // Another `up` made it first: use theirs.
    await rm(tmp, { recursive: true, force: true });
  }
  return tpl;
}

export interface ServerCnfInput {
  server: SandboxServer;
  flavor: Flavor;
  gtid: boolean;
  extra: string[];
  /** Every server's options file says read_only=ON (the master is made writable at runtime). */
  startReadOnly?: boolean;
}

/** The friendly defaults, overridden by server.settings (the production profile, per-server options). */
export function serverCnf({ server, flavor, gtid, extra, startReadOnly }: ServerCnfInput): string {
  const st = server.settings ?? {};
  const logBin = st.logBin ?? true;
  const lines = [
    '# written by mhats sandbox; read with --defaults-file only (no /etc/mysql)',
    '[mysqld]',
    'user=mysql',
    `datadir=${server.datadir}`,
    `socket=${server.socket}`,
    `pid_file=${server.pidFile}`,
    `log_error=${server.errorLog}`,
    `bind_address=${server.address}`,
    `port=${server.port}`,
    `server_id=${server.serverId}`,
    `report_host=${server.address}`,
    `report_port=${server.port}`,
    ...(logBin ? ['log_bin=mysql-bin'] : flavor.kind === 'mysql' ? ['skip_log_bin', 'disable_log_bin'] : []),
    `log_slave_updates=${(st.logSlaveUpdates ?? true) ? 'ON' : 'OFF'}`,
    'relay_log=relay-bin',
    `relay_log_purge=${(st.relayLogPurge ?? false) ? 1 : 0}`,
    `binlog_format=${st.binlogFormat ?? 'ROW'}`,
    'sync_binlog=1',
    'innodb_flush_log_at_trx_commit=1',
    'innodb_buffer_pool_size=32M',
    'performance_schema=OFF',
    'skip_name_resolve=ON',
    `slave_net_timeout=${st.slaveNetTimeout ?? 4}`,
    'max_connections=200',
    `read_only=${server.role === 'replica' || startReadOnly === true ? 'ON' : 'OFF'}`,
  ];
  if (flavor.kind === 'mariadb') {
    lines.push('innodb_log_file_size=32M');
  } else {
    lines.push('mysqlx=OFF');
    if (gtid) lines.push('gtid_mode=ON', 'enforce_gtid_consistency=ON');
  }
  lines.push(...extra, ...(st.extra ?? []));
  return `${lines.join('\n')}\n`;
}

function clientEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('MYSQL')) env[k] = v;
  return env;
}

/**
 * Run SQL as root over the server's unix socket (`mariadb -S SOCKET -uroot -N -B`,
 * statements on stdin), with a deadline. Returns stdout.
 */
export async function rootSql(server: SandboxServer, sql: string, timeoutMs = 10_000): Promise<string> {
  return runSql(server, sql, timeoutMs, false);
}

async function runSql(server: SandboxServer, sql: string, timeoutMs: number, columnNames: boolean): Promise<string> {
  const flavor = await detectFlavor();
  const r = await execa(flavor.client, ['--no-defaults', '-S', server.socket, '-uroot', ...(columnNames ? [] : ['-N']), '-B'], {
    input: sql,
    timeout: timeoutMs,
    reject: false,
    env: clientEnv(),
    extendEnv: false,
  });
  if (r.failed) {
    const why = r.timedOut ? `no answer within ${timeoutMs} ms` : `${r.stderr}`.trim() || r.shortMessage;
    throw new Error(`${server.name} (${server.socket}): ${why}`);
  }
  return `${r.stdout}`;
}

/** Start the server detached with its own options file only (in its namespace, in a netns sandbox); returns the PID. */
export function spawnServer(flavor: Flavor, server: SandboxServer): number {
  if (server.netns) return spawnInNetns(server.netns.ns, flavor.server, [`--defaults-file=${server.cnf}`]);
  return spawnDetached(flavor.server, [`--defaults-file=${server.cnf}`]);
}

export async function errorLogTail(server: SandboxServer, lines = 12): Promise<string> {
  try {
    const text = await readFile(server.errorLog, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).map((l) => `    ${l}`).join('\n');
  } catch {
    return `    (no error log at ${server.errorLog})`;
  }
}

/** Wait until the server answers over its socket; a clear error with the error log's tail otherwise. */
export async function waitReady(server: SandboxServer, timeoutMs = 60_000): Promise<void> {
  let died = false;
  await pollUntil(
    timeoutMs,
    150,
    async () => {
      if (!isAlive(server.pid)) {
        died = true;
        return true;
      }
      try {
        await rootSql(server, 'SELECT 1', 3_000);
        return true;
      } catch {
        return undefined;
      }
    },
    async () =>
      new UserError(
        `${server.name} (${server.address}:${server.port}) did not answer within ${timeoutMs / 1000}s; last lines of ${server.errorLog}:\n${await errorLogTail(server)}`,
        { hint: 'fix the cause shown above, then run `mhats sandbox down` and `up` again' },
      ),
  );
  if (died) {
    throw new UserError(
      `${server.name} (${server.address}:${server.port}) exited while starting; last lines of ${server.errorLog}:\n${await errorLogTail(server)}`,
      { hint: 'fix the cause shown above (address or port in use?), then run `mhats sandbox up` again' },
    );
  }
}

export function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Create the manager and replication accounts, not binlogged (every server gets them itself), for clients from `hostPattern` (default 127.%). */
export function accountsSql(flavor: Flavor, admin: { user: string; password: string }, repl: { user: string; password: string }, hostPattern = '127.%'): string {
  const host = sqlString(hostPattern);
  return [
    'SET SESSION sql_log_bin=0;',
    `CREATE USER ${sqlString(admin.user)}@${host} IDENTIFIED BY ${sqlString(admin.password)};`,
    `GRANT ALL PRIVILEGES ON *.* TO ${sqlString(admin.user)}@${host} WITH GRANT OPTION;`,
    `CREATE USER ${sqlString(repl.user)}@${host} IDENTIFIED ${flavor.kind === 'mysql' ? 'WITH mysql_native_password ' : ''}BY ${sqlString(repl.password)};`,
    `GRANT REPLICATION SLAVE ON *.* TO ${sqlString(repl.user)}@${host};`,
    'FLUSH PRIVILEGES;',
  ].join('\n');
}

/** The master's binlog coordinates. */
export async function masterCoordinates(flavor: Flavor, master: SandboxServer): Promise<{ file: string; pos: number }> {
  const stmt = flavor.kind === 'mysql' && versionAtLeast(flavor.version, '8.2.0') ? 'SHOW BINARY LOG STATUS' : 'SHOW MASTER STATUS';
  const out = (await rootSql(master, stmt)).trim();
  const [file, pos] = out.split('\t');
  if (file === undefined || pos === undefined || !/^\d+$/.test(pos)) {
    throw new UserError(`${master.name}: binary logging is not on (${stmt} returned nothing)`);
  }
  return { file, pos: Number(pos) };
}

export interface ReplicationTarget {
  master: SandboxServer;
  replUser: string;
  replPassword: string;
  gtid: boolean;
  coords?: { file: string; pos: number } | undefined;
  /** MASTER_DELAY, seconds. */
  delay?: number | undefined;
  /** Master heartbeat period (default 1 s; undefined keeps the server's default: slave_net_timeout / 2). */
  heartbeat?: number | null | undefined;
}

export function changeMasterSql(flavor: Flavor, t: ReplicationTarget): string {
  const q = sqlString;
  if (flavor.kind === 'mariadb') {
    const mode = t.gtid
      ? "MASTER_USE_GTID=slave_pos"
      : `MASTER_USE_GTID=no, MASTER_LOG_FILE=${q(t.coords?.file ?? '')}, MASTER_LOG_POS=${t.coords?.pos ?? 4}`;
    return [
      'STOP SLAVE;',
      'RESET SLAVE ALL;',
      ...(t.gtid ? ["SET GLOBAL gtid_slave_pos='';"] : []),
      `CHANGE MASTER TO MASTER_HOST=${q(t.master.address)}, MASTER_PORT=${t.master.port}, MASTER_USER=${q(t.replUser)}, ` +
        `MASTER_PASSWORD=${q(t.replPassword)}, MASTER_CONNECT_RETRY=1${t.heartbeat === null ? '' : `, MASTER_HEARTBEAT_PERIOD=${t.heartbeat ?? 1}`}${t.delay ? `, MASTER_DELAY=${t.delay}` : ''}, ${mode};`,
      'START SLAVE;',
    ].join('\n');
  }
  const mode = t.gtid ? 'SOURCE_AUTO_POSITION=1' : `SOURCE_LOG_FILE=${q(t.coords?.file ?? '')}, SOURCE_LOG_POS=${t.coords?.pos ?? 4}`;
  return [
    'STOP REPLICA;',
    'RESET REPLICA ALL;',
    `CHANGE REPLICATION SOURCE TO SOURCE_HOST=${q(t.master.address)}, SOURCE_PORT=${t.master.port}, SOURCE_USER=${q(t.replUser)}, ` +
      `SOURCE_PASSWORD=${q(t.replPassword)}, SOURCE_CONNECT_RETRY=1${t.heartbeat === null ? '' : `, SOURCE_HEARTBEAT_PERIOD=${t.heartbeat ?? 1}`}${t.delay ? `, SOURCE_DELAY=${t.delay}` : ''}, GET_SOURCE_PUBLIC_KEY=1, ${mode};`,
    'START REPLICA;',
  ].join('\n');
}

/** `SHOW SLAVE STATUS` as a name → value map (empty when not a replica). */
export async function replicaStatus(flavor: Flavor, server: SandboxServer, timeoutMs = 5_000): Promise<Map<string, string>> {
  const stmt = flavor.kind === 'mysql' ? 'SHOW REPLICA STATUS\\G' : 'SHOW SLAVE STATUS\\G';
  const out = await runSql(server, stmt, timeoutMs, true);
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const i = line.indexOf(':');
    if (i <= 0 || line.startsWith('*')) continue;
    m.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return m;
}

/** Wait until both replication threads run; the last IO/SQL error otherwise. */
export async function waitReplicating(flavor: Flavor, replica: SandboxServer, timeoutMs = 30_000): Promise<void> {
  let last = new Map<string, string>();
  const io = flavor.kind === 'mysql' ? 'Replica_IO_Running' : 'Slave_IO_Running';
  const sql = flavor.kind === 'mysql' ? 'Replica_SQL_Running' : 'Slave_SQL_Running';
  await pollUntil(
    timeoutMs,
    150,
    async () => {
      try {
        last = await replicaStatus(flavor, replica);
      } catch {
        return undefined;
      }
      return last.get(io) === 'Yes' && last.get(sql) === 'Yes' ? true : undefined;
    },
    () =>
      new UserError(
        `${replica.name} (${replica.address}:${replica.port}): replication did not start within ${timeoutMs / 1000}s ` +
          `(IO ${last.get(io) ?? '?'}: ${last.get('Last_IO_Error') || 'no error'}; SQL ${last.get(sql) ?? '?'}: ${last.get('Last_SQL_Error') || 'no error'})`,
        { hint: `see ${replica.errorLog}` },
      ),
  );
}
