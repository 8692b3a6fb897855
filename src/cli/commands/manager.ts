import type { Command } from '@commander-js/extra-typings';
import { addConfigOptions, loadFromOptions } from '../config-options.js';
import { createLogger } from '../../adapters/logging.js';
import { startManager } from '../../app/manager.js';

export function registerManager(program: Command): void {
  const cmd = program
    .command('manager')
    .description('Run the failover manager daemon: watch every configured cluster, fail over a dead master, keep watching.')
    .option('--log-level <level>', 'trace, debug, info, warn or error', 'info')
    .option('--log-format <format>', 'json, pretty or journald (default: pretty on a TTY, journald under systemd, else json)')
    .addHelpText(
      'after',
      `
Each cluster is watched on its own loop: health checks of the master (ping_type CONNECT,
SELECT or INSERT; every ping_interval seconds; each with a ping_timeout deadline). After
ping_failures failed checks in a row the replicas are asked whether they still receive from
the master; only when none does (and secondary_check_script agrees, if set) is it failed over.
After a failover it keeps watching the new master; the old master stays marked failed and is
set read_only if it comes back. A second automatic failover within last_failover_minute, or
after a failed one, waits for 'mhats ack CLUSTER'. SIGTERM/SIGINT stop it after any failover
in progress.`,
    );
  addConfigOptions(cmd);
  cmd.action(async (opts) => {
    const o = opts as typeof opts & { logLevel?: string; logFormat?: 'json' | 'pretty' | 'journald' };
    const { config, clusters } = await loadFromOptions(opts, { printWarnings: false });
    const log = createLogger({ level: o.logLevel, format: o.logFormat });
    const handle = startManager(config, clusters, log);
    let signals = 0;
    const onSignal = (sig: string): void => {
      signals++;
      log.info({ signal: sig }, signals === 1 ? `received ${sig}: stopping` : `received ${sig} again: still finishing`);
      handle.stop();
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
    await handle.done;
    log.info({}, 'mhats manager stopped');
  });
}
