/**
 * `mhats sandbox up|down|status`: a local cluster of real servers (a master
 * and replicas as mariadbd processes on 127.x addresses, plus one sshd), for
 * demos and the integration tests.
 */
import { resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from '@commander-js/extra-typings';
import { UserError } from '../../errors/errors.js';
import { readSandbox, replicaStatus, detectFlavor, sandboxDown, sandboxUp, serverAlive, type SandboxInfo } from '../../sandbox/index.js';
import { isOurs } from '../../sandbox/proc.js';

const DEFAULT_DIR = process.env.MHATS_SANDBOX_DIR ?? '/var/tmp/mhats-sandbox';

function int(what: string): (v: string) => number {
  return (v: string) => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${what} must be a whole number, not "${v}"`);
    return Number(v);
  };
}

function dirOption(): Option<'--dir <path>', undefined, string> {
  return new Option('--dir <path>', 'sandbox directory (env MHATS_SANDBOX_DIR)').default(DEFAULT_DIR);
}

function connectHelp(info: SandboxInfo): string {
  const lines: string[] = [];
  lines.push(`sandbox "${info.clusterName}" is up in ${info.dir} (${info.gtid ? 'GTID' : 'binlog file/position'} replication${info.profile === 'production' ? ', production profile' : ''})`);
  lines.push('');
  for (const s of info.servers) {
    const st = s.settings ?? {};
    const notes = [
      st.logBin === false ? 'no binlog' : '',
      st.logSlaveUpdates === false ? 'log_slave_updates=OFF' : '',
      st.relayLogPurge ? 'relay_log_purge=ON' : '',
      st.delay ? `MASTER_DELAY=${st.delay}` : '',
      st.binlogFormat && st.binlogFormat !== 'ROW' ? `binlog_format=${st.binlogFormat}` : '',
    ].filter(Boolean);
    lines.push(`  ${s.name.padEnd(5)} ${`${s.address}:${s.port}`.padEnd(22)} ${s.role.padEnd(8)} pid ${s.pid}${notes.length ? `   ${notes.join(', ')}` : ''}`);
  }
  if (info.ssh && !info.netns) lines.push(`  sshd  port ${info.ssh.port} on every address, user ${info.ssh.user}   pid ${info.ssh.pid}`);
  if (info.ssh && info.netns) lines.push(`  sshd  port ${info.ssh.port} in every namespace, user ${info.ssh.user}   pids ${info.servers.map((s) => s.sshd?.pid ?? 0).join(', ')}`);
  if (info.netns) {
    lines.push(`  netns bridge ${info.netns.bridge} (${info.netns.gateway}: the manager), namespaces ${info.servers.map((s) => s.netns?.ns ?? '?').join(', ')}`);
  }
  lines.push('');
  lines.push('config files:');
  lines.push(`  mhats:  ${info.configFile}`);
  lines.push(`  MHA:    ${info.mhaConfigFile}   (holds the passwords inline; mode 0600)`);
  if (info.shutdownScript) lines.push(`  power fencing (shutdown_script): ${info.shutdownScript}`);
  lines.push('');
  lines.push('connect:');
  const m = info.servers[0];
  if (m) {
    const label = (t: string): string => `  ${t}:`.padEnd(28);
    lines.push(`${label('as root over the socket')}mariadb -uroot -S ${m.socket}`);
    lines.push(`${label(`as ${info.adminUser} over TCP`)}mariadb --defaults-extra-file=${info.clientConfigFile} -h ${m.address} -P ${m.port}`);
    lines.push(`${label('passwords in')}${info.adminPasswordFile}, ${info.replPasswordFile}`);
  }
  if (info.ssh && m) {
    lines.push(
      `${'  ssh:'.padEnd(28)}ssh -i ${info.ssh.identityFile} -o UserKnownHostsFile=${info.ssh.knownHostsFile} -o StrictHostKeyChecking=yes -p ${info.ssh.port} ${info.ssh.user}@${m.address}`,
    );
  }
  lines.push('');
  lines.push(`try:  mhats check-repl --conf ${info.configFile}`);
  lines.push(`stop: mhats sandbox down --dir ${info.dir}`);
  return `${lines.join('\n')}\n`;
}

interface StatusRow {
  name: string;
  address: string;
  port: number;
  pid: number;
  alive: boolean;
  role: string;
  recorded_role?: string;
}

async function liveRole(info: SandboxInfo, idx: number): Promise<string> {
  const s = info.servers[idx];
  if (!s) return 'unknown';
  if (!serverAlive(s)) return s.role;
  try {
    const flavor = await detectFlavor();
    const st = await replicaStatus(flavor, s, 2_000);
    return st.size > 0 ? 'replica' : 'master';
  } catch {
    return `${s.role} (not answering)`;
  }
}

export function registerSandbox(program: Command): void {
  const sandbox = program
    .command('sandbox')
    .description('a local cluster of real servers (mariadbd on 127.x addresses plus an sshd) for demos and tests');
  const exits = (ok: string): string => `\nExit codes: 0 ${ok}; 1 failed (the message says which server or step); 2 bad usage.`;

  sandbox
    .command('up')
    .description('start a master and replicas (real mariadbd processes) and an sshd; write mhats.yaml and app1.cnf')
    .addHelpText('after', exits('every server is up and replicating (a failed start stops what it started)'))
    .addOption(dirOption())
    .option('--replicas <n>', 'number of replicas (default 2; 4 with --profile production)', int('--replicas'))
    .addOption(new Option('--profile <name>', 'friendly: easy settings (log_slave_updates=ON, relay_log_purge=0, ROW, a binlog everywhere); production: MIXED, slave_net_timeout=60, log_slave_updates=OFF on the replicas, relay_log_purge=ON on db3, no binlog on db4, MASTER_DELAY=3600 on db5').choices(['friendly', 'production'] as const).default('friendly' as const))
    .option('--gtid', 'GTID replication (MASTER_USE_GTID=slave_pos) instead of binlog file/position', false)
    .option('--base-address <ip>', 'address of db1; db2, db3, ... take the next ones', '127.0.0.11')
    .option('--port <port>', 'MySQL port on every address', int('--port'), 3306)
    .option('--ssh-port <port>', 'sshd port on every address', int('--ssh-port'), 2222)
    .option('--cluster-name <name>', 'cluster name in mhats.yaml', 'sandbox')
    .option('--no-ssh', 'do not start an sshd')
    .option('--start-read-only', "every server's my.cnf says read_only=ON, the master's too (made writable at runtime): a restarted master comes back read-only", false)
    .option('--power-fencing', "write poweroff.sh, a shutdown_script that \"powers off\" a sandbox host (SIGKILL of its mariadbd; with --netns its run-time addresses dropped), and name it in mhats.yaml and app1.cnf: an old master cut off from the network is then fenced before promotion, as with IPMI in production", false)
    .option('--netns', 'run each server (mariadbd and its own sshd) in a network namespace of its own, on a bridge, so network faults are real (root, iproute2)', false)
    .option('--netns-subnet <a.b.c>', 'with --netns: the /24 for the hosts (db1 is .11, the manager .1 on the bridge)', '10.213.200')
    .option('--netns-tag <tag>', 'with --netns: prefix of the namespace and link names (≤ 11 chars; default derived from --dir)')
    .option('--json', 'print the sandbox description as JSON')
    .action(async (o) => {
      const t0 = Date.now();
      const info = await sandboxUp({
        dir: resolve(o.dir),
        ...(o.replicas !== undefined ? { replicas: o.replicas } : {}),
        profile: o.profile,
        gtid: o.gtid,
        baseAddress: o.baseAddress,
        port: o.port,
        sshPort: o.sshPort,
        clusterName: o.clusterName,
        ssh: o.ssh,
        startReadOnly: o.startReadOnly,
        powerFencing: o.powerFencing,
        ...(o.netns ? { netns: { subnet: o.netnsSubnet, ...(o.netnsTag !== undefined ? { tag: o.netnsTag } : {}) } } : {}),
      });
      if (o.json) process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
      else process.stdout.write(`${connectHelp(info)}(up in ${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
    });

  sandbox
    .command('down')
    .description('stop the processes the sandbox started (by recorded PID) and remove its files; succeeds when there is none')
    .addHelpText('after', exits('stopped and removed, or there was no sandbox'))
    .addOption(dirOption())
    .action(async (o) => {
      const dir = resolve(o.dir);
      const had = await readSandbox(dir);
      await sandboxDown(dir);
      process.stdout.write(had ? `sandbox in ${dir} is down\n` : `no sandbox in ${dir}; nothing to do\n`);
    });

  sandbox
    .command('status')
    .description('show each sandbox server: name, address:port, pid, alive, role')
    .addHelpText('after', exits('printed (a server that is not alive is shown, not an error); 1 also when there is no sandbox in --dir'))
    .addOption(dirOption())
    .option('--json', 'print JSON')
    .action(async (o) => {
      const dir = resolve(o.dir);
      const info = await readSandbox(dir);
      if (!info) {
        throw new UserError(`no sandbox in ${dir} (no sandbox.json)`, { hint: 'start one with `mhats sandbox up`, or pass --dir' });
      }
      const rows: StatusRow[] = await Promise.all(
        info.servers.map(async (s, i) => {
          const role = await liveRole(info, i);
          const row: StatusRow = { name: s.name, address: s.address, port: s.port, pid: s.pid, alive: serverAlive(s), role };
          if (role !== s.role) row.recorded_role = s.role;
          return row;
        }),
      );
      const ssh = info.ssh && !info.netns ? { pid: info.ssh.pid, port: info.ssh.port, alive: isOurs(info.ssh.pid, info.ssh.configFile) } : undefined;
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ dir, cluster: info.clusterName, gtid: info.gtid, config: info.configFile, mha_config: info.mhaConfigFile, servers: rows, ssh }, null, 2)}\n`);
        return;
      }
      const table = [['NAME', 'ADDRESS', 'PID', 'ALIVE', 'ROLE'], ...rows.map((r) => [r.name, `${r.address}:${r.port}`, String(r.pid), r.alive ? 'yes' : 'no', r.role])];
      if (ssh) table.push(['sshd', `*:${ssh.port}`, String(ssh.pid), ssh.alive ? 'yes' : 'no', '-']);
      const widths = table[0]?.map((_, c) => Math.max(...table.map((r) => (r[c] ?? '').length))) ?? [];
      for (const r of table) process.stdout.write(`${r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ').trimEnd()}\n`);
      process.stdout.write(`config: ${info.configFile}\n`);
    });
}
