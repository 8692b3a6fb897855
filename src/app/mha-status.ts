/**
 * masterha_check_status and masterha_stop for a manager that mhats runs: is a
 * manager watching this app (its lock file and PID, its HTTP /status), with
 * MHA's status codes and sentences (ManagerConst.pm, ManagerAdmin.pm).
 */
import { readFileSync } from 'node:fs';
import type { ClusterConfig, LoadedConfig } from '../config/types.js';
import { LocalLock, isLiveManager } from '../adapters/leader/local-lock.js';
import { hostForUrl } from '../adapters/http/server.js';
import { readManagerInfo } from './manager-info.js';

/** MHA's manager status codes (ManagerConst.pm); also masterha_check_status's exit codes. */
export const MhaStatus = {
  PING_OK: 0,
  NOT_RUNNING: 2,
  PARTIALLY_RUNNING: 3,
  INITIALIZING_MONITOR: 10,
  PING_FAILING: 20,
  PING_FAILED: 21,
  RETRYING_MONITOR: 30,
  CONFIG_ERROR: 31,
  TIMESTAMP_OLD: 32,
  FAILOVER_RUNNING: 50,
  FAILOVER_ERROR: 51,
} as const;
export type MhaStatusName = keyof typeof MhaStatus;

export interface ClusterStatusView {
  name: string;
  state: string;
  master?: string | null | undefined;
  inFailover?: boolean | undefined;
  detector?: { consecutiveFailures?: number | undefined; phase?: string | undefined } | undefined;
  lastFailover?: { outcome?: string | undefined; acked?: boolean | undefined } | null | undefined;
}

/** The monitor's state (from /status) as MHA's status. Pure. */
export function mhaStatusOf(c: ClusterStatusView): MhaStatusName {
  if (c.inFailover || c.state === 'failing_over') return 'FAILOVER_RUNNING';
  if (c.state === 'starting') return 'INITIALIZING_MONITOR';
  if (c.state === 'broken') return 'CONFIG_ERROR';
  if (c.state === 'stopped') return 'NOT_RUNNING';
  if (c.state === 'blocked' && c.lastFailover?.outcome === 'failed' && !c.lastFailover.acked) return 'FAILOVER_ERROR';
  if (c.state === 'suspect' || c.state === 'blocked') return c.detector?.phase === 'healthy' ? 'PING_OK' : 'PING_FAILED';
  if ((c.detector?.consecutiveFailures ?? 0) > 0) return 'PING_FAILING';
  return 'PING_OK';
}

export interface MhaStatusResult {
  code: number;
  status: MhaStatusName;
  pid?: number | undefined;
  /** MHA's sentence(s), as masterha_check_status prints them. */
  text: string;
  inFailover: boolean;
}

export interface StatusDeps {
  isAlive?: (pid: number) => boolean;
  fetchStatus?: (url: string, timeoutMs: number) => Promise<unknown>;
}

async function defaultFetch(url: string, timeoutMs: number): Promise<unknown> {
  const r = await fetch(`${url}/status`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  return r.json();
}

/** Where the manager that uses this config is: its PID and its HTTP endpoint. */
export function locateManager(config: LoadedConfig): { pid: number | undefined; url: string | undefined } {
  const info = readManagerInfo(config.state_dir);
  const lockPid = new LocalLock(config.state_dir).holder();
  const pid = lockPid ?? info?.pid;
  const url = info && info.pid === pid ? info.url : config.http ? `http://${hostForUrl(config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host === '::' ? '::1' : config.http.host)}:${config.http.port}` : undefined;
  return { pid, url };
}

export async function checkStatus(config: LoadedConfig, cluster: ClusterConfig, deps: StatusDeps = {}): Promise<MhaStatusResult> {
  const app = cluster.name;
  const alive = deps.isAlive ?? isLiveManager;
  const { pid, url } = locateManager(config);
  const log = cluster.manager_log ? `\nCheck ${cluster.manager_log} for details.` : '';
  const notRunning = (extra = ''): MhaStatusResult => ({ code: MhaStatus.NOT_RUNNING, status: 'NOT_RUNNING', pid, text: `${app} is stopped(2:NOT_RUNNING).${extra}`, inFailover: false });
  if (pid === undefined || !alive(pid)) {
    if (config.etcd === undefined || url === undefined) return notRunning();
  }
  let body: unknown;
  if (url !== undefined) {
    try {
      body = await (deps.fetchStatus ?? defaultFetch)(url, 3000);
    } catch (err) {
      if (pid === undefined || !alive(pid)) return notRunning();
      return { code: MhaStatus.TIMESTAMP_OLD, status: 'TIMESTAMP_OLD', pid, text: `${app} is running, but its status endpoint ${url} does not answer (${(err as Error).message})(32:TIMESTAMP_OLD). Maybe process hangs?`, inFailover: false };
    }
  } else {
    return { code: MhaStatus.PING_OK, status: 'PING_OK', pid, text: `${app} (pid:${pid}) is running(0:PING_OK) (its HTTP endpoint is off: only the process is known)`, inFailover: false };
  }
  const st = body as { pid?: number; clusters?: ClusterStatusView[] };
  const c = st.clusters?.find((x) => x.name === app);
  const mpid = st.pid ?? pid;
  if (!c) return notRunning(` (mhats manager pid ${mpid ?? '?'} runs, but does not watch ${app})`);
  const s = mhaStatusOf(c);
  const master = c.master ? cluster.servers.find((x) => x.name === c.master)?.hostname ?? c.master : undefined;
  const mi = master ? `master:${master}` : '';
  const code = MhaStatus[s];
  const tag = `${code}:${s}`;
  let text: string;
  switch (s) {
    case 'PING_OK':
      text = `${app} (pid:${mpid ?? '?'}) is running(${tag}), ${mi}`;
      break;
    case 'INITIALIZING_MONITOR':
      text = `${app} monitoring program is now on initialization phase(${tag}). Wait for a while and try checking again.`;
      break;
    case 'PING_FAILING':
    case 'PING_FAILED':
      text = `${app} master maybe down(${tag}). ${mi}${log}`;
      break;
    case 'CONFIG_ERROR':
      text = `${app} servers are not correctly configured(${tag}).${log}`;
      break;
    case 'FAILOVER_RUNNING':
      text = `${app} master is down and failover is running(${tag}). ${mi}${log}`;
      break;
    case 'FAILOVER_ERROR':
      text = `${app} master is down and failover was not successful(${tag}). ${mi}${log}`;
      break;
    case 'NOT_RUNNING':
      return notRunning();
    case 'PARTIALLY_RUNNING':
    case 'RETRYING_MONITOR':
    case 'TIMESTAMP_OLD':
      text = `${app} (${tag}) ${mi}`;
  }
  return { code, status: s, pid: mpid, text, inFailover: s === 'FAILOVER_RUNNING' };
}

/** Has PID exited without being reaped yet (state Z in /proc/PID/stat)? */
export function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

export interface StopResult {
  code: 0 | 1;
  text: string;
}

/** masterha_stop: SIGTERM to the manager, wait abort_timeout; with abort, SIGKILL then. MHA's sentences. */
export async function stopManager(config: LoadedConfig, cluster: ClusterConfig, opts: { abort: boolean; abortTimeoutS: number }, deps: StatusDeps & { kill?: (pid: number, sig: NodeJS.Signals | 0) => void; sleep?: (ms: number) => Promise<void> } = {}): Promise<StopResult> {
  const app = cluster.name;
  const st = await checkStatus(config, cluster, deps);
  if (st.status === 'NOT_RUNNING' || st.pid === undefined) return { code: 0, text: `MHA Manager is not running on ${app}(2:NOT_RUNNING).` };
  if (st.inFailover && !opts.abort) return { code: 1, text: `Currently Failover is running on ${app}. Should not stop.` };
  const pid = st.pid;
  const kill = deps.kill ?? ((p: number, sig: NodeJS.Signals | 0) => process.kill(p, sig));
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const alive = (): boolean => {
    try {
      kill(pid, 0);
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
    // A process that has exited but is not reaped yet (a zombie) still answers kill 0: it has stopped.
    return deps.kill !== undefined || !isZombie(pid);
  };
  try {
    kill(pid, 'SIGTERM');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return { code: 0, text: `Stopped ${app} successfully.` };
    return { code: 1, text: `Failed to stop ${app}: ${(err as Error).message}.` };
  }
  for (let left = opts.abortTimeoutS * 1000; left > 0; left -= 100) {
    if (!alive()) return { code: 0, text: `Stopped ${app} successfully.` };
    await sleep(100);
  }
  if (!alive()) return { code: 0, text: `Stopped ${app} successfully.` };
  const lines = [`Manager process ${pid} didn't stop in ${opts.abortTimeoutS} seconds.${st.inFailover || !opts.abort ? ' (mhats finishes a failover in progress before it stops)' : ''}`];
  if (opts.abort) {
    try {
      kill(pid, 'SIGKILL');
      lines.push(`Forced stopped ${app}.`);
      return { code: 0, text: lines.join('\n') };
    } catch {
      // fall through
    }
  }
  lines.push(`Failed to stop ${app}.`);
  return { code: 1, text: lines.join('\n') };
}
