import { InvalidArgumentError, Option, type Command } from '@commander-js/extra-typings';
import { addConfigOptions, loadFromOptions } from '../config-options.js';
import { createLogger } from '../../adapters/logging.js';
import { LogFiles } from '../../adapters/log-files.js';
import { Metrics } from '../../app/metrics.js';
import { createNotifier } from '../../adapters/systemd.js';
import { Manager } from '../../app/manager.js';
import { parseListen } from '../../config/yaml.js';
import { readHttpToken } from '../../config/load.js';
import { resolve as resolvePath } from 'node:path';
import type { HttpSettings } from '../../config/types.js';
import { LockHeldError } from '../../adapters/leader/local-lock.js';
import { killHookGroups } from '../../adapters/hooks/run-script.js';
import { UserError } from '../../errors/errors.js';
import type { ClusterConfig } from '../../config/types.js';
import { removeManagerInfo, writeManagerInfo } from '../../app/manager-info.js';
import { acknowledgeAll } from './ack.js';
import { ExitCode } from '../../errors/exit-codes.js';
import { heapGrowingFlag, tuneManagerHeap } from '../../adapters/heap.js';

export function registerManager(program: Command): void {
  const cmd = program
    .command('manager')
    .description('Run the failover manager daemon: watch every configured cluster, fail over a dead master, keep watching.')
    .addOption(new Option('--log-level <level>', 'how much to log').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'))
    .addOption(new Option('--log-format <format>', 'line format (default: pretty on a TTY, journald under systemd, else json)').choices(['json', 'pretty', 'journald']))
    .option('--manager-log <file>', "append the log to this file (overrides every cluster's manager_log)")
    .option('--workdir <dir>', "manager_workdir for every cluster (where MHA's <app>.failover.complete/.error are looked for)")
    .option('--last-failover-minute <minutes>', 'last_failover_minute for every cluster', (v) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`must be a whole number of minutes, not ${JSON.stringify(v)}`);
      return Number(v);
    })
    .option('--ignore-last-failover', "start as if every past failover were acknowledged: mhats ack for each cluster (removes MHA's failover.complete/.error) before watching")
    .option('--http <listen>', 'HOST:PORT of the HTTP endpoint (status, metrics, API, console), or "off" (default: http.listen in the config, else $MHATS_HTTP_LISTEN, else 127.0.0.1:9187)')
    .option('--http-token-file <path>', "the write API's bearer token file (overrides http.token_file; without either, API writes answer 403)")
    .addHelpText(
      'after',
      `
Each cluster is watched on its own loop: health checks of the master (ping_type CONNECT,
SELECT or INSERT; every ping_interval seconds; each with a ping_timeout deadline). After
ping_failures failed checks in a row the replicas are asked whether they still receive from
the master; only when none does (and secondary_check_script agrees, if set) is it failed over.
After a failover it keeps watching the new master; the old master stays marked failed and is
set read_only if it comes back. A second automatic failover within last_failover_minute, or
after a failed one, waits for 'mhats ack CLUSTER'.

As a service: HTTP /healthz /readyz /status /metrics, the API under /api/v1 (OpenAPI at
/api/v1/openapi.json) and the web console at / (loopback by default). Reads are open; API
writes (switchover, failover, ack) need Authorization: Bearer TOKEN, the token being the
content of http.token_file (or --http-token-file); without one they answer 403. Under systemd
(Type=notify) READY=1 once every cluster is inspected, WATCHDOG=1 while the loops progress.
SIGHUP re-reads the configuration (clusters added, removed or changed without a restart; an
invalid file is rejected and the running configuration stays) and reopens the manager_log files.

Where the log goes: to stdout (the journal under systemd), or, for a cluster with MHA's
manager_log, appended to that file (lines about no cluster in particular go to every
manager_log, and to stdout too when some cluster has none). logrotate: move the file, then
send SIGHUP (postrotate: systemctl reload mhats), or use copytruncate. SIGTERM/SIGINT stop it after
any failover in progress. Scheduled jobs (relay-log purge, check-repl report, journal
retention) come from each cluster's schedules: in the YAML file.

Manager HA: with etcd: in the configuration, several managers elect a leader on an etcd
lease; only the leader fails over, the others watch and take over within the lease TTL.
The failover journal then lives in etcd. Without etcd, one manager per state_dir (a lock
file with its PID), and MHA's monitor lock on each master: if another manager (or MHA)
holds it, automatic failover of that cluster is off.

Environment: MHATS_STATE_DIR and MHATS_HTTP_LISTEN (HOST:PORT|off) give state_dir and
http.listen to an MHA file, which cannot set them (a YAML file's keys win).
MHATS_HEAP_GROWING_PERCENT=N limits V8's heap growth to N% of the live set (default 50; 0: V8's
own). MHATS_PING_CLIENT=mysql2 sends CONNECT health checks through mysql2 instead of the lean
client (a diagnostic switch). All of them: docs/config.md, "Environment variables".

Exit codes: 0 stopped on SIGTERM/SIGINT (after any failover in progress); 1 refused to start
(another manager holds the state_dir lock) or failed; 2 bad usage (--http, --http-token-file,
MHATS_HEAP_GROWING_PERCENT);
3 bad configuration (the message names the file and line; manager_log not writable).`,
    );
  addConfigOptions(cmd);
  cmd.action(async (opts) => {
    const o = opts as typeof opts & { logLevel?: string; logFormat?: 'json' | 'pretty' | 'journald'; http?: string; managerLog?: string; workdir?: string; lastFailoverMinute?: number; ignoreLastFailover?: boolean; httpTokenFile?: string };
    // Before the config and the fleet are loaded: the heap's growth for a long-running manager (src/adapters/heap.ts).
    const heap = heapGrowingFlag(process.execArgv, process.env);
    if (heap.error !== undefined) throw new UserError(heap.error, { exitCode: ExitCode.USAGE });
    tuneManagerHeap();
    let http: HttpSettings | null | undefined;
    if (o.http !== undefined) {
      const r = parseListen(o.http);
      if (!r.ok) throw new UserError(`--http ${r.message}`, { exitCode: ExitCode.USAGE });
      http = r.value;
    }
    let httpTokenFile: string | undefined;
    if (o.httpTokenFile !== undefined) {
      httpTokenFile = resolvePath(o.httpTokenFile);
      const t = readHttpToken(httpTokenFile);
      if (!t.ok) throw new UserError(`--http-token-file ${t.message}`, { exitCode: ExitCode.USAGE });
    }
    const files = new LogFiles();
    const load = async (): ReturnType<typeof loadFromOptions> => {
      const r0 = await loadFromOptions(opts, { printWarnings: false });
      const over = (c: ClusterConfig): ClusterConfig => {
        const n: ClusterConfig = {
          ...c,
          ...(o.managerLog !== undefined ? { manager_log: o.managerLog } : {}),
          ...(o.workdir !== undefined ? { manager_workdir: o.workdir } : {}),
          ...(o.lastFailoverMinute !== undefined ? { last_failover_minute: o.lastFailoverMinute } : {}),
        };
        Object.defineProperty(n, 'source_file', { value: c.source_file, enumerable: false, writable: true, configurable: true });
        return n;
      };
      const r = { config: { ...r0.config, clusters: r0.config.clusters.map(over) }, clusters: r0.clusters.map(over) };
      // manager_log: a reload that names a file that cannot be opened is rejected as a whole.
      files.configure(r.clusters);
      return r;
    };
    let loaded: Awaited<ReturnType<typeof loadFromOptions>>;
    try {
      loaded = await load();
    } catch (err) {
      if (err instanceof UserError) throw err;
      throw new UserError((err as Error).message, { exitCode: ExitCode.CONFIG, hint: 'manager_log must be a file the manager can append to (its directory must exist)' });
    }
    const { config, clusters } = loaded;
    if (o.ignoreLastFailover) for (const c of clusters) acknowledgeAll(config, c, 'masterha_manager --ignore_last_failover');
    const log = createLogger({ level: o.logLevel, format: o.logFormat, sink: (line, rec) => files.write(line, rec) });
    if (files.paths.length > 0) log.info({ files: files.paths }, `logging to ${files.paths.join(', ')} (manager_log)`);
    const manager = new Manager({ log, metrics: new Metrics(), notifier: createNotifier({ log }), loadConfig: load, http, httpTokenFile });
    let signals = 0;
    const onStop = (sig: string): void => {
      signals++;
      log.info({ signal: sig }, signals === 1 ? `received ${sig}: stopping` : `received ${sig} again: still finishing`);
      void manager.stop(`stopping on ${sig}`);
    };
    const onHup = (): void => {
      files.reopen();
      log.info({ signal: 'SIGHUP' }, 'received SIGHUP: log files reopened; reloading the configuration');
      void manager.reload();
    };
    const onTerm = (): void => onStop('SIGTERM');
    const onInt = (): void => onStop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
    process.on('SIGHUP', onHup);
    try {
      await manager.start(config, clusters);
      writeManagerInfo(config.state_dir, manager.http?.url);
    } catch (err) {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      process.off('SIGHUP', onHup);
      if (err instanceof LockHeldError) {
        log.error({ pid: err.pid, lockFile: err.path }, `refusing to start: ${err.message}`);
        throw new UserError(`refusing to start: ${err.message}`, { hint: 'for several managers watching the same clusters, configure manager HA (etcd:)' });
      }
      throw err;
    }
    await manager.done;
    // A hook's detached process group must not outlive the manager.
    const killed = killHookGroups();
    if (killed > 0) log.warn({ groups: killed }, `killed ${killed} hook process group(s) still running at shutdown`);
    process.off('SIGHUP', onHup);
    removeManagerInfo(config.state_dir);
    log.info({}, 'mhats manager stopped');
    files.close();
    // Anything still holding the event loop (a stray socket) must not keep a stopped manager alive.
    setTimeout(() => process.exit(process.exitCode ?? 0), 5000).unref();
  });
}
