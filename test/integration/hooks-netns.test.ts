/**
 * The built-in hooks against real hosts: network namespaces on a bridge,
 * each with its own sshd, no default route.
 *
 *   app1 10.213.1.11  app server; runs a real HAProxy (10.213.1.11:3307)
 *   app2 10.213.1.12  app server
 *   db1..db3 10.213.1.21-23  the "db hosts": each exposes its MariaDB on
 *        <addr>:3306 with socat to that server's UNIX socket (the sandbox
 *        servers run in the root namespace on 127.0.23.x; a socket file is
 *        reachable from every namespace, a loopback address is not), and is
 *        the server's ssh_host (binlog salvage, VIP moves go there).
 *   VIP 10.213.1.100/32, on db1's eth0 at the start.
 * Connections that arrive through a db host come over the UNIX socket, so the
 * test creates 'mhats'@'localhost' and an 'app'@'localhost' that can write but
 * has no SUPER (read_only stops it on a replica).
 *
 * After a real failover (kill -9 of db1, runFailover in process):
 *   hosts:   every app namespace's /etc/hosts names the new master (pushed by
 *            rsync --inplace over ssh: a bind mount), and a client in an app
 *            namespace connecting by the service name writes to it;
 *   vip:     the VIP left db1's namespace for the new master's, and a client
 *            through the VIP writes to the new master;
 *   haproxy: the test's HAProxy routes to the new master.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { rootSql, stopServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { loadConfig } from '../../src/config/load.js';
import { runFailover, type FailoverReport } from '../../src/engine/failover.js';
import { FileJournal } from '../../src/adapters/journal/file-journal.js';
import { createLogger } from '../../src/adapters/logging.js';
import { sshReachableFor } from '../../src/app/manager.js';
import { cutSavedBinlog } from '../../src/domain/binlog-cut.js';
import type { ClusterConfig } from '../../src/config/types.js';
import { withSandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/cluster.js';
import { NetnsLab, netnsAvailable } from '../helpers/netns.js';
import { cliArgs } from '../helpers/cli.js';

const SUBNET = 1;
const SSH_PORT = 2277;
const VIP = `10.213.${SUBNET}.100`;
const SERVICE = 'db-master.mhats.test';

describe('hooks against network namespaces: hosts (rsync over ssh), VIP, HAProxy', { skip: !netnsAvailable() && 'needs root and iproute2' }, () => {
  let sb: SandboxInfo;
  let db1: SandboxServer;
  let db2: SandboxServer;
  let lab: NetnsLab;
  let cluster: ClusterConfig;
  let conf: string;
  let appCnf: string;
  let haSock: string;
  let report: FailoverReport;
  const logLines: string[] = [];

  /** The mariadb client inside an app namespace (credentials in a file, never argv). */
  const client = (app: string, host: string, port: number, sql: string): Promise<{ code: number; stdout: string; stderr: string }> =>
    lab.exec(app, 'mariadb', [`--defaults-extra-file=${appCnf}`, '-h', host, '-P', String(port), '--connect-timeout=3', '-N', '-B', '-e', sql]);

  before(async () => {
    sb = await withSandbox(undefined, { name: 'hooks-netns', baseAddress: '127.0.23.11', replicas: 2, sshPort: 2276, ssh: false });
    [db1, db2] = sb.servers as [SandboxServer, SandboxServer, SandboxServer];
    const password = readFileSync(sb.adminPasswordFile, 'utf8').trim();
    lab = new NetnsLab(join(sb.dir, 'lab'), 'h', SUBNET, SSH_PORT);
    const appHosts = `127.0.0.1\tlocalhost\n10.213.${SUBNET}.21\t${SERVICE}\n10.213.${SUBNET}.50\tother.mhats.test # kept as it is\n`;
    await lab.up({ app1: 11, app2: 12, db1: 21, db2: 22, db3: 23 }, { app1: appHosts, app2: appHosts });
    sb.servers.forEach((s, i) => lab.spawn(`db${i + 1}`, 'socat', ['TCP-LISTEN:3306,fork,reuseaddr', `UNIX-CONNECT:${s.socket}`], s.socket, join(lab.dir, `socat.db${i + 1}.log`)));
    spawnSync('ip', ['-n', lab.host('db1').ns, 'addr', 'add', `${VIP}/32`, 'dev', 'eth0'], { timeout: 5000 });
    // Accounts for connections that arrive through a db host (over the UNIX socket); replicated everywhere.
    await rootSql(
      db1,
      `CREATE USER 'mhats'@'localhost' IDENTIFIED BY '${password}'; GRANT ALL ON *.* TO 'mhats'@'localhost';` +
        "CREATE DATABASE app; CREATE TABLE app.t (id INT AUTO_INCREMENT PRIMARY KEY, who VARCHAR(32)) ENGINE=InnoDB;" +
        "CREATE USER 'app'@'localhost' IDENTIFIED BY 'app-secret'; GRANT SELECT, INSERT ON app.* TO 'app'@'localhost';",
    );
    appCnf = join(sb.dir, 'app-client.cnf');
    writeFileSync(appCnf, '[client]\nuser=app\npassword=app-secret\n', { mode: 0o600 });
    for (const s of sb.servers.slice(1)) await until(`${s.name} has the app account`, async () => (await rootSql(s, "SELECT COUNT(*) FROM mysql.user WHERE user='app'")).trim() === '1', 20_000);
    // A real HAProxy on app1, db1 enabled, the others disabled.
    haSock = join(lab.dir, 'haproxy.sock');
    const haCfg = join(lab.dir, 'haproxy.cfg');
    writeFileSync(
      haCfg,
      [
        'global',
        `  stats socket ${haSock} mode 600 level admin`,
        'defaults',
        '  mode tcp',
        '  timeout connect 2s',
        '  timeout client 30s',
        '  timeout server 30s',
        'frontend mysql_in',
        `  bind 10.213.${SUBNET}.11:3307`,
        '  default_backend mysql',
        'backend mysql',
        `  server db1 10.213.${SUBNET}.21:3306`,
        `  server db2 10.213.${SUBNET}.22:3306 disabled`,
        `  server db3 10.213.${SUBNET}.23:3306 disabled`,
        '',
      ].join('\n'),
    );
    lab.spawn('app1', 'haproxy', ['-db', '-f', haCfg], haCfg, join(lab.dir, 'haproxy.log'));
    await until('haproxy admin socket', () => Promise.resolve(existsSync(haSock)), 20_000);
    // Before the failover: apps reach db1 by name, VIP and HAProxy (this also fills app2's ARP cache with db1's MAC for the VIP).
    for (const [host, port] of [[SERVICE, 3306], [VIP, 3306], [`10.213.${SUBNET}.11`, 3307]] as const) {
      const r = await client('app2', host, port, 'SELECT @@server_id');
      assert.equal(r.stdout.trim(), String(db1.serverId), `${host}:${port} before: ${r.stderr}`);
    }
    // The cluster: db hosts are the namespaces (ssh), SQL still goes straight to the servers.
    const doc = parse(readFileSync(sb.configFile, 'utf8')) as { state_dir: string; clusters: Record<string, { servers: Array<Record<string, unknown>> } & Record<string, unknown>> };
    doc.state_dir = join(sb.dir, 'state');
    const c = doc.clusters[sb.clusterName]!;
    Object.assign(c, { ping_interval: 0.3, connect_timeout: 1, query_timeout: 3, ssh_user: 'root', ssh_port: SSH_PORT, ssh: { known_hosts: lab.ssh.knownHostsFile, identity_file: lab.ssh.identityFile, connect_timeout: 3 } });
    c.servers.forEach((s, i) => (s.ssh_host = lab.addr(21 + i)));
    c.hooks = {
      environment: 'lab',
      sets: {
        lab: [
          { name: 'vip', type: 'vip', address: `${VIP}/32`, interface: 'eth0', arping_count: 2, timeout: 20, on_failure: 'abort' },
          {
            name: 'app-hosts',
            type: 'hosts',
            names: [SERVICE],
            targets: [`root@10.213.${SUBNET}.11:${SSH_PORT}`, { host: `10.213.${SUBNET}.12`, port: SSH_PORT, user: 'root' }],
            inplace: true,
            addresses: { db1: lab.addr(21), db2: lab.addr(22), db3: lab.addr(23) },
            timeout: 30,
          },
          { name: 'lb', type: 'haproxy', socket: haSock, backend: 'mysql', verify: { host: `10.213.${SUBNET}.11`, port: 3307 }, timeout: 20 },
        ],
        staging: [{ name: 'note', type: 'command', phases: ['report'], command: ['/bin/true'] }],
      },
    };
    conf = join(sb.dir, 'manager.yaml');
    writeFileSync(conf, stringify(doc), { mode: 0o600 });
    const loaded = await loadConfig({ conf });
    cluster = loaded.clusters[0]!;
  });

  after(() => {
    lab?.down();
  });

  test('mhats hooks test --dry-run prints what each phase would run', () => {
    const r = spawnSync(process.execPath, [...cliArgs(), 'hooks', 'test', '--conf', conf, '--old-master', 'db1', '--new-master', 'db2', '--dry-run'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /environment lab/);
    assert.match(r.stdout, /phase stop:\n {2}vip \(vip; timeout 20 s; on_failure abort\)\n {6}ssh root@10\.213\.1\.21:2277 \(db1, if reachable\): ip addr del 10\.213\.1\.100\/32 dev eth0/);
    assert.match(r.stdout, /rsync -I -s --inplace --timeout=30 -e ssh .* -- <rendered> 10\.213\.1\.11:\/etc\/hosts/);
    assert.match(r.stdout, /every other server of mysql -> maint, then mysql\/db2 -> ready/);
    // Another environment, and one that does not exist.
    const s = spawnSync(process.execPath, [...cliArgs(), 'hooks', 'test', '--conf', conf, '--old-master', 'db1', '--new-master', 'db2', '--dry-run', '--environment', 'staging'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(s.status, 0, s.stderr);
    assert.match(s.stdout, /phase report:\n {2}note \(command/);
    assert.doesNotMatch(s.stdout, /vip/);
    const n = spawnSync(process.execPath, [...cliArgs(), 'hooks', 'test', '--conf', conf, '--old-master', 'db1', '--new-master', 'db2', '--dry-run', '--environment', 'prod'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(n.status, 2, n.stdout + n.stderr);
    assert.match(n.stderr, /no hook set "prod"/);
  });

  test('failover: kill -9 of db1, the hooks run, the failover succeeds', async () => {
    await stopServer(db1, 'SIGKILL');
    const log = createLogger({ format: 'json', write: (l) => void logLines.push(l) });
    report = await runFailover(
      { cluster, deadMaster: 'db1', newMaster: 'db2', trigger: 'manual', reason: 'hooks-netns test' },
      { journal: new FileJournal(join(sb.dir, 'state'), cluster.name), log, now: Date.now, sshReachable: sshReachableFor(cluster), cutBinlog: cutSavedBinlog },
    );
    assert.equal(report.outcome, 'success', `${report.reason}\n${logLines.join('')}`);
    assert.equal(report.newMaster, 'db2');
    const byKey = new Map((report.hooks ?? []).map((h) => [`${h.name}/${h.phase}`, h]));
    assert.deepEqual([...byKey.keys()], ['vip/stop', 'lb/stop', 'vip/start', 'app-hosts/start', 'lb/start']);
    for (const h of report.hooks ?? []) assert.equal(h.verdict, 'ok', JSON.stringify(h));
    assert.match(byKey.get('vip/stop')!.detail, /removed from db1/);
    assert.equal(byKey.get('app-hosts/start')!.hosts?.length, 2);
    // No password in the log.
    assert.ok(!logLines.join('').includes(readFileSync(sb.adminPasswordFile, 'utf8').trim()), 'no password in the log');
  });

  test('hosts: every app namespace names the new master; a client by service name writes to it', async () => {
    for (const app of ['app1', 'app2']) {
      const ns = lab.host(app).ns;
      const text = readFileSync(`/etc/netns/${ns}/hosts`, 'utf8');
      assert.match(text, new RegExp(`^10\\.213\\.${SUBNET}\\.22\\t${SERVICE.replace(/\./g, '\\.')}\\t# mhats: `, 'm'));
      assert.doesNotMatch(text, new RegExp(`10\\.213\\.${SUBNET}\\.21\\s+${SERVICE}`));
      assert.match(text, /other\.mhats\.test # kept as it is/);
      const g = await lab.exec(app, 'getent', ['hosts', SERVICE]);
      assert.match(g.stdout, new RegExp(`^10\\.213\\.${SUBNET}\\.22\\s`));
      // Real rsync over real ssh: the app host's sshd logged the key logins.
      assert.match(readFileSync(join(lab.dir, 'ssh', `sshd.${app}.log`), 'utf8'), /Accepted publickey for root/);
      const w = await client(app, SERVICE, 3306, `INSERT INTO app.t (who) VALUES ('name-${app}'); SELECT @@server_id`);
      assert.equal(w.code, 0, w.stderr);
      assert.equal(w.stdout.trim(), String(db2.serverId));
    }
    assert.equal((await rootSql(db2, "SELECT COUNT(*) FROM app.t WHERE who LIKE 'name-%'")).trim(), '2');
  });

  test('vip: moved from db1 to db2; a client through the VIP writes to the new master', async () => {
    const has = (h: string): boolean => spawnSync('ip', ['-n', lab.host(h).ns, '-o', '-4', 'addr', 'show', 'dev', 'eth0'], { encoding: 'utf8', timeout: 5000 }).stdout.includes(` ${VIP}/32`);
    assert.equal(has('db1'), false, 'the VIP must be gone from db1');
    assert.equal(has('db2'), true, 'the VIP must be on db2');
    // app2 talked to the VIP on db1 before: the gratuitous ARP updated its cache.
    const w = await client('app2', VIP, 3306, "INSERT INTO app.t (who) VALUES ('vip'); SELECT @@server_id");
    assert.equal(w.code, 0, w.stderr);
    assert.equal(w.stdout.trim(), String(db2.serverId));
    assert.equal((await rootSql(db2, "SELECT COUNT(*) FROM app.t WHERE who='vip'")).trim(), '1');
  });

  test('haproxy: the real HAProxy routes to the new master', async () => {
    const w = await client('app2', `10.213.${SUBNET}.11`, 3307, "INSERT INTO app.t (who) VALUES ('haproxy'); SELECT @@server_id");
    assert.equal(w.code, 0, w.stderr);
    assert.equal(w.stdout.trim(), String(db2.serverId));
    const st = spawnSync('socat', ['-t', '2', 'STDIO', `UNIX-CONNECT:${haSock}`], { input: 'show servers state mysql\n', encoding: 'utf8', timeout: 5000 }).stdout;
    const admin = Object.fromEntries(st.split('\n').filter((l) => / mysql /.test(l)).map((l) => { const f = l.split(/\s+/); return [f[3], Number(f[6])]; }));
    assert.equal((admin.db2 ?? 1) & 1, 0, st);
    assert.ok((admin.db1 ?? 0) & 1 && (admin.db3 ?? 0) & 1, st);
  });
});
