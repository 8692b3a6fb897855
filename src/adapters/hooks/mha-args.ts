/**
 * MHA 0.58's exact hook arguments (mha.md §5), in MHA's order. Passwords are
 * not among them: MHA passes --new_master_password / --orig_master_password
 * on the command line; mhats passes them in MHATS_NEW_MASTER_PASSWORD and
 * MHATS_ORIG_MASTER_PASSWORD (argv is world-readable in /proc), and adds the
 * arguments only as hook_password_args says (password-args.ts).
 *
 * `sshOptions` (MHA's ssh_options, when configured) is passed as
 * --ssh_options=... after the first server's ssh arguments, as MHA's
 * get_ssh_args_if does (without MHA's own "-o StrictHostKeyChecking=no ..."
 * prefix: mhats verifies host keys).
 */
import type { ServerConfig } from '../../config/types.js';

/** get_ssh_args_if: --<prefix>ssh_host/ssh_ip when they differ from hostname, --<prefix>ssh_port when not 22. */
export function sshExtras(prefix: string, s: ServerConfig): string[] {
  const out: string[] = [];
  if (s.ssh_host !== s.hostname) out.push(`--${prefix}ssh_host=${s.ssh_host}`, `--${prefix}ssh_ip=${s.ssh_host}`);
  if (s.ssh_port !== 22) out.push(`--${prefix}ssh_port=${s.ssh_port}`);
  return out;
}

/** --ssh_options=... when ssh_options is configured (MHA: after the first server's ssh arguments only). */
export function sshOptionsArg(sshOptions: readonly string[] | undefined): string[] {
  return sshOptions && sshOptions.length > 0 ? [`--ssh_options=${sshOptions.join(' ')}`] : [];
}

/** MHA's shutdown_script arguments (Phase 2). */
export function shutdownArgs(dead: ServerConfig, sshReachable: boolean, sshOptions?: readonly string[]): string[] {
  return [sshReachable ? '--command=stopssh' : '--command=stop', ...(sshReachable ? [`--ssh_user=${dead.ssh_user}`] : []), `--host=${dead.hostname}`, `--ip=${dead.ip}`, `--port=${dead.port}`, ...(dead.master_pid_file ? [`--pid_file=${dead.master_pid_file}`] : []), ...sshExtras('', dead), ...sshOptionsArg(sshOptions)];
}

/**
 * MHA's status checks (MasterMonitor.pm check_scripts, run by masterha_check_repl
 * and at masterha_manager's start): master_ip_failover_script --command=status
 * and shutdown_script --command=status, against the current master.
 */
export function ipFailoverStatusArgs(master: ServerConfig, sshOptions?: readonly string[]): string[] {
  return ['--command=status', `--ssh_user=${master.ssh_user}`, `--orig_master_host=${master.hostname}`, `--orig_master_ip=${master.ip}`, `--orig_master_port=${master.port}`, ...sshExtras('orig_master_', master), ...sshOptionsArg(sshOptions)];
}

export function shutdownStatusArgs(master: ServerConfig, sshOptions?: readonly string[]): string[] {
  return ['--command=status', `--ssh_user=${master.ssh_user}`, `--host=${master.hostname}`, `--ip=${master.ip}`, ...sshExtras('', master), ...sshOptionsArg(sshOptions)];
}

/** MHA's master_ip_failover_script arguments for stop/stopssh (Phase 2). */
export function ipFailoverStopArgs(dead: ServerConfig, sshReachable: boolean, sshOptions?: readonly string[]): string[] {
  return [`--orig_master_host=${dead.hostname}`, `--orig_master_ip=${dead.ip}`, `--orig_master_port=${dead.port}`, ...(sshReachable ? ['--command=stopssh', `--ssh_user=${dead.ssh_user}`] : ['--command=stop']), ...sshExtras('orig_master_', dead), ...sshOptionsArg(sshOptions)];
}

/**
 * MHA's master_ip_failover_script arguments for start (Phase 3). MHA also
 * passes --new_master_password on the command line; mhats does not put
 * secrets in process arguments: the script finds it in MHATS_NEW_MASTER_PASSWORD.
 */
export function ipFailoverStartArgs(dead: ServerConfig, nm: ServerConfig, sshOptions?: readonly string[]): string[] {
  return [
    '--command=start',
    `--ssh_user=${nm.ssh_user}`,
    `--orig_master_host=${dead.hostname}`,
    `--orig_master_ip=${dead.ip}`,
    `--orig_master_port=${dead.port}`,
    `--new_master_host=${nm.hostname}`,
    `--new_master_ip=${nm.ip}`,
    `--new_master_port=${nm.port}`,
    `--new_master_user=${nm.user}`,
    ...sshExtras('orig_master_', dead),
    ...sshOptionsArg(sshOptions),
    ...sshExtras('new_master_', nm),
  ];
}

/** MHA's master_ip_online_change_script arguments (MasterRotate.pm), without the passwords. */
export function onlineChangeArgs(command: 'stop' | 'start', orig: ServerConfig, nm: ServerConfig, origIsNewSlave: boolean, sshOptions?: readonly string[]): string[] {
  return [
    `--command=${command}`,
    `--orig_master_host=${orig.hostname}`,
    `--orig_master_ip=${orig.ip}`,
    `--orig_master_port=${orig.port}`,
    `--orig_master_user=${orig.user}`,
    `--new_master_host=${nm.hostname}`,
    `--new_master_ip=${nm.ip}`,
    `--new_master_port=${nm.port}`,
    `--new_master_user=${nm.user}`,
    `--orig_master_ssh_user=${orig.ssh_user}`,
    `--new_master_ssh_user=${nm.ssh_user}`,
    ...sshExtras('orig_master_', orig),
    ...sshOptionsArg(sshOptions),
    ...sshExtras('new_master_', nm),
    ...(origIsNewSlave ? ['--orig_master_is_new_slave'] : []),
  ];
}

/**
 * MHA's report_script arguments (MasterFailover.pm send_report):
 * --orig_master_host [--new_master_host --new_slave_hosts] --conf --subject --body.
 * The new-master arguments only when a new master was activated.
 */
export function reportArgs(dead: ServerConfig, nm: ServerConfig | undefined, newSlaveHosts: string[], conf: string | undefined, subject: string, body: string): string[] {
  return [
    `--orig_master_host=${dead.hostname}`,
    ...(nm ? [`--new_master_host=${nm.hostname}`, `--new_slave_hosts=${newSlaveHosts.join(',')}`] : []),
    ...(conf ? [`--conf=${conf}`] : []),
    `--subject=${subject}`,
    `--body=${body}`,
  ];
}
