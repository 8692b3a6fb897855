/**
 * Runs an operator's script (MHA hooks: secondary_check_script,
 * shutdown_script, master_ip_failover_script, report_script, ...).
 *
 * - The configured value is used as MHA uses it: a command prefix that may
 *   carry its own arguments and is read by /bin/sh. The arguments mhats adds
 *   (--orig_master_host=... and so on) are passed as positional parameters
 *   ("$@"), so a value is never interpolated into a shell string.
 * - The script runs in its own process group. At the timeout the whole group
 *   gets SIGTERM, then SIGKILL: a hung grandchild (rsync forks ssh) cannot
 *   hold the failover.
 * - Context also goes in environment variables (MHATS_*).
 */
import { execa } from 'execa';

export interface ScriptRun {
  /** Configured command (prefix), e.g. "/usr/local/bin/master_ip_failover --vip=10.0.0.5". */
  command: string;
  /** Arguments appended after the command, e.g. ["--command=stop", "--orig_master_host=db1"]. */
  args: string[];
  env?: Record<string, string> | undefined;
  timeoutMs: number;
  /** Extra grace between SIGTERM and SIGKILL. */
  killGraceMs?: number | undefined;
  stdin?: string | undefined;
}

export interface ScriptResult {
  /** Exit code, or null when killed by a signal. */
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  durationMs: number;
}

const MAX_OUTPUT = 64 * 1024;

function kill(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // group already gone
  }
}

/** One program run with an argv array (never a shell string), in its own process group. */
export interface ProcessRun {
  file: string;
  args: string[];
  env?: Record<string, string> | undefined;
  timeoutMs: number;
  /** Extra grace between SIGTERM and SIGKILL. */
  killGraceMs?: number | undefined;
  stdin?: string | undefined;
  /** Aborting kills the group at once (the failover's signal). */
  signal?: AbortSignal | undefined;
  cwd?: string | undefined;
}

/** Process groups of hooks still running: the manager kills them on shutdown (killHookGroups). */
const activeGroups = new Set<number>();

/** SIGKILL every hook process group still running (manager shutdown). */
export function killHookGroups(): number {
  const n = activeGroups.size;
  for (const pgid of activeGroups) kill(pgid, 'SIGKILL');
  activeGroups.clear();
  return n;
}

/** PGIDs of the hook groups running now (tests, /status). */
export function runningHookGroups(): number[] {
  return [...activeGroups];
}

/**
 * Runs a program in its own process group (detached). At the timeout, or when
 * `signal` aborts, the whole group gets SIGTERM, then SIGKILL after the grace:
 * a hung grandchild (rsync's ssh, a script's sleep) goes with it. Whatever the
 * program left in its group when it exits is killed too.
 */
export async function runProcess(run: ProcessRun): Promise<ScriptResult> {
  const started = performance.now();
  const child = execa(run.file, run.args, {
    detached: true,
    reject: false,
    stdin: run.stdin === undefined ? 'ignore' : 'pipe',
    input: run.stdin,
    env: { ...run.env },
    extendEnv: true,
    maxBuffer: MAX_OUTPUT,
    stripFinalNewline: true,
    cleanup: true,
    cwd: run.cwd,
  });
  let timedOut = false;
  const pid = child.pid;
  if (pid !== undefined) activeGroups.add(pid);
  const grace = run.killGraceMs ?? 2000;
  const stop = (): void => {
    if (pid !== undefined) {
      kill(pid, 'SIGTERM');
      setTimeout(() => kill(pid, 'SIGKILL'), grace).unref();
    }
    // Output pipes may be held open by a grandchild that ignores SIGTERM:
    // stop waiting for them once the group is being killed.
    setTimeout(() => {
      child.stdout?.destroy();
      child.stderr?.destroy();
    }, grace + 200).unref();
  };
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, run.timeoutMs);
  const onAbort = (): void => {
    timedOut = true;
    stop();
  };
  run.signal?.addEventListener('abort', onAbort, { once: true });
  if (run.signal?.aborted) onAbort();
  try {
    const r = await child;
    return {
      exitCode: timedOut ? null : (r.exitCode ?? null),
      signal: r.signal ?? null,
      timedOut,
      stdout: typeof r.stdout === 'string' ? r.stdout : '',
      stderr: typeof r.stderr === 'string' ? r.stderr : '',
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    clearTimeout(timer);
    run.signal?.removeEventListener('abort', onAbort);
    // Whatever the program left behind in its group goes too.
    if (pid !== undefined) {
      kill(pid, 'SIGKILL');
      activeGroups.delete(pid);
    }
  }
}

export async function runScript(run: ScriptRun): Promise<ScriptResult> {
  return runProcess({
    file: '/bin/sh',
    args: ['-c', `${run.command} "$@"`, 'mhats-hook', ...run.args],
    env: run.env,
    timeoutMs: run.timeoutMs,
    killGraceMs: run.killGraceMs,
    stdin: run.stdin,
  });
}

/** MHA's meaning of a hook's exit code for stop/stopssh/start. */
export type HookVerdict = 'ok' | 'continue' | 'abort';

export function mhaHookVerdict(r: ScriptResult): HookVerdict {
  if (r.timedOut || r.exitCode === null) return 'abort';
  if (r.exitCode === 0) return 'ok';
  if (r.exitCode === 10) return 'continue';
  return 'abort';
}
