/**
 * Process helpers for the sandbox: start detached daemons, check that a
 * recorded PID is still the process we started (never signal a reused PID),
 * and stop them with deadlines.
 */
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';

/** argv of a process, or undefined when it is gone or a zombie. */
export function readCmdline(pid: number): string[] | undefined {
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S ...": the state follows the last ')'.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return undefined;
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    // A daemon may rewrite its title (sshd: "sshd: /usr/sbin/sshd -D -f CFG [listener] ..."),
    // which turns the NUL-separated argv into one space-separated string.
    return raw.split(/[\0 ]+/).filter((s) => s.length > 0);
  } catch {
    return undefined;
  }
}

/** True when the process exists (not a zombie). */
export function isAlive(pid: number): boolean {
  return readCmdline(pid) !== undefined;
}

/**
 * True when PID is alive and its command line names `marker` (our config
 * file) as a whole word, i.e. it is the process we started.
 */
export function isOurs(pid: number, marker: string): boolean {
  const argv = readCmdline(pid);
  if (argv === undefined) return false;
  return argv.some((a) => a === marker || a.endsWith(`=${marker}`));
}

export type OwnedState = 'gone' | 'ours' | 'foreign';

export function ownedState(pid: number, marker: string): OwnedState {
  if (!isAlive(pid)) return 'gone';
  return isOurs(pid, marker) ? 'ours' : 'foreign';
}

/** Wait until PID is gone; false when the deadline passes first. */
export async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!isAlive(pid)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/**
 * Stop one of our processes: SIGTERM (plus SIGCONT, in case a test left it
 * stopped), wait up to termMs, then SIGKILL and wait again. Does nothing
 * unless the PID still names `marker`. Returns what it found.
 */
export async function stopOwned(pid: number, marker: string, termMs = 30_000): Promise<OwnedState> {
  const state = ownedState(pid, marker);
  if (state !== 'ours') return state;
  signal(pid, 'SIGTERM');
  signal(pid, 'SIGCONT');
  if (await waitGone(pid, termMs)) return 'ours';
  if (isOurs(pid, marker)) signal(pid, 'SIGKILL');
  if (!(await waitGone(pid, 10_000))) throw new Error(`process ${pid} (${marker}) did not exit after SIGKILL`);
  return 'ours';
}

/**
 * Every live process whose command line names `marker` as an argument (e.g.
 * a server restarted by hand or by a drill, whose PID sandbox.json does not
 * know).
 */
export function processesNaming(marker: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  return entries
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => pid !== process.pid && isOurs(pid, marker));
}

/** Synchronous SIGKILL of one of our processes (for process 'exit' handlers). */
export function killOwnedSync(pid: number, marker: string): void {
  if (pid > 1 && isOurs(pid, marker)) signal(pid, 'SIGKILL');
}

export function sendSignal(pid: number, sig: NodeJS.Signals): void {
  signal(pid, sig);
}

/**
 * Start a daemon detached from this process (own process group, stdio to a
 * log file or nowhere, unref'd) so it outlives the CLI. Returns its PID.
 */
export function spawnDetached(file: string, args: string[], logFile?: string): number {
  const fd: number = openSync(logFile ?? '/dev/null', 'a', 0o640);
  try {
    // execa's types only list fds 3..9 here, but any open fd is passed straight to spawn(),
    // so the daemon writes to the file itself (no pipe through this process).
    const out = fd as 3;
    const child = execa(file, args, { detached: true, cleanup: false, reject: false, buffer: false, stdin: 'ignore', stdout: out, stderr: out });
    // The daemon's own exit (or our kill) must never become an unhandled rejection.
    child.catch(() => undefined);
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not start ${file}`);
    child.unref();
    return pid;
  } finally {
    closeSync(fd);
  }
}

/** Poll `probe` until it returns a value (not undefined), or throw `onTimeout()` at the deadline. */
export async function pollUntil<T>(
  timeoutMs: number,
  intervalMs: number,
  probe: () => Promise<T | undefined>,
  onTimeout: () => Error | Promise<Error>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) throw await onTimeout();
    await sleep(intervalMs);
  }
}
