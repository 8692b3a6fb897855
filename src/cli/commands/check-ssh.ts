import type { Command } from '@commander-js/extra-typings';
import { addConfigOptions, loadFromOptions } from '../config-options.js';
import { checkSsh, renderCheckSsh, type CheckSshReport } from '../../app/check-ssh.js';
import { ExitCode, EXIT_CODE_HELP } from '../../errors/exit-codes.js';
import { printJson, stdoutPainter } from '../output.js';

/** 0 when every host (and pair) is OK, 5 (UNREACHABLE) otherwise. */
export function checkSshExitCode(report: CheckSshReport): number {
  return report.ok ? ExitCode.OK : ExitCode.UNREACHABLE;
}

export function registerCheckSsh(program: Command): void {
  const cmd = program
    .command('check-ssh')
    .description('Check that the manager can log in to every server over SSH with a verified host key (MHA masterha_check_ssh).')
    .option('--mesh', "also check every server's own OpenSSH login to every other server (MHA's full mesh)")
    .option('--json', 'print the results as JSON')
    .addHelpText(
      'after',
      `
For each server (except skip_init_ssh_check ones) the manager connects as ssh_user to
ssh_host:ssh_port, verifies the host key against ssh.known_hosts (default
~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts; hashed entries supported) and
ssh.host_key_fingerprints, and runs \`true\`. With --mesh, each server A then runs
\`ssh -o BatchMode=yes -o StrictHostKeyChecking=yes B true\` for every other server B.
At most 8 connections are in flight at once (sshd's MaxStartups is about 10).

${EXIT_CODE_HELP}`,
    );
  addConfigOptions(cmd);
  cmd.action(async (opts) => {
    const { clusters } = await loadFromOptions(opts);
    const report = await checkSsh(clusters, { mesh: opts.mesh === true });
    if (opts.json) printJson(report);
    else process.stdout.write(renderCheckSsh(report, stdoutPainter()));
    process.exitCode = checkSshExitCode(report);
  });
}
