/**
 * The configuration files a sandbox writes: mhats.yaml (native), app1.cnf
 * (MHA format, for migration demos) and a `[client]` options file.
 */
import { Document, isMap } from 'yaml';
import type { SandboxInfo, SandboxServer } from './types.js';

/** Every server may be promoted, except one without a binlog or a delayed one (production profile). */
function candidate(s: SandboxServer): boolean {
  return s.settings?.logBin !== false && !s.settings?.delay;
}

export function mhatsYaml(info: SandboxInfo): string {
  const cluster: Record<string, unknown> = {
    user: info.adminUser,
    password: { file: info.adminPasswordFile },
    repl_user: info.replUser,
    repl_password: { file: info.replPasswordFile },
  };
  if (info.ssh) {
    cluster.ssh_user = info.ssh.user;
    cluster.ssh_port = info.ssh.port;
  }
  cluster.ping_interval = 1;
  cluster.ping_type = 'CONNECT';
  cluster.manager_workdir = `${info.dir}/work`;
  if (info.shutdownScript) cluster.shutdown_script = info.shutdownScript;
  if (info.ssh) cluster.ssh = { known_hosts: info.ssh.knownHostsFile, identity_file: info.ssh.identityFile };
  cluster.servers = info.servers.map((s) => ({
    name: s.name,
    hostname: s.address,
    port: s.port,
    master_binlog_dir: s.datadir,
    ...(candidate(s) ? { candidate_master: true } : {}),
  }));
  const doc = new Document({ state_dir: `${info.dir}/state`, clusters: { [info.clusterName]: cluster } });
  doc.commentBefore = ' written by mhats sandbox';
  for (const key of ['password', 'repl_password']) {
    const node = doc.getIn(['clusters', info.clusterName, key], true);
    if (isMap(node)) node.flow = true;
  }
  return doc.toString({ lineWidth: 0 });
}

export function mhaCnf(info: SandboxInfo, adminPassword: string, replPassword: string): string {
  const lines = [
    '[server default]',
    `user=${info.adminUser}`,
    `password=${adminPassword}`,
    `repl_user=${info.replUser}`,
    `repl_password=${replPassword}`,
  ];
  if (info.ssh) lines.push(`ssh_user=${info.ssh.user}`, `ssh_port=${info.ssh.port}`);
  lines.push(`manager_workdir=${info.dir}/work`, 'ping_interval=1');
  if (info.shutdownScript) lines.push(`shutdown_script=${info.shutdownScript}`);
  if (info.ssh) lines.push(`ssh_known_hosts=${info.ssh.knownHostsFile}`, `ssh_identity_file=${info.ssh.identityFile}`);
  info.servers.forEach((s, i) => {
    lines.push('', `[server${i + 1}]`, `hostname=${s.address}`, `port=${s.port}`, `master_binlog_dir=${s.datadir}`, ...(candidate(s) ? ['candidate_master=1'] : []));
  });
  return `${lines.join('\n')}\n`;
}

/** `[client]` options for the manager account, for `mariadb --defaults-extra-file=...` (keeps the password off command lines). */
export function clientCnf(info: SandboxInfo, adminPassword: string): string {
  const master = info.servers[0];
  return [
    '# written by mhats sandbox: mariadb --defaults-extra-file=THIS -h ADDRESS',
    '[client]',
    `user=${info.adminUser}`,
    `password=${adminPassword}`,
    ...(master ? [`host=${master.address}`, `port=${master.port}`] : []),
    '',
  ].join('\n');
}
