/**
 * sd_notify for Type=notify units. Node cannot send on an AF_UNIX datagram
 * socket, so each notification spawns `systemd-notify` (execa, 2 s deadline);
 * the unit needs NotifyAccess=all because the sender is a child. Without
 * NOTIFY_SOCKET (not under systemd) every call is a no-op.
 *
 * NOTIFY_SOCKET is removed from this process's environment at creation, so
 * hooks and other children cannot talk to systemd on the manager's behalf.
 * Notifications are sent one at a time, in order (READY before WATCHDOG,
 * STOPPING last); a failure is logged once and never thrown.
 */
import { execa } from 'execa';
import type { Logger } from '../ports/logger.js';

export interface Notifier {
  /** True when NOTIFY_SOCKET was set. */
  readonly enabled: boolean;
  /** The watchdog timeout (WATCHDOG_USEC) in ms when systemd watches this process; else undefined. */
  readonly watchdogMs: number | undefined;
  /** READY=1 with a status line. */
  ready(status: string): Promise<void>;
  /** STATUS=… (what `systemctl status` shows). Repeated identical lines are not resent. */
  status(status: string): Promise<void>;
  /** WATCHDOG=1: call only after real progress. */
  watchdog(): Promise<void>;
  /** STOPPING=1 with a status line. */
  stopping(status: string): Promise<void>;
}

export const NOTIFY_TIMEOUT_MS = 2000;

/** Runs systemd-notify; tests pass their own. Resolves with an error text, or undefined on success. */
export type NotifyRunner = (args: string[], env: Record<string, string>) => Promise<string | undefined>;

export const systemdNotifyRunner: NotifyRunner = async (args, env) => {
  const r = await execa('systemd-notify', args, {
    env,
    extendEnv: true,
    stdin: 'ignore',
    reject: false,
    timeout: NOTIFY_TIMEOUT_MS,
    forceKillAfterDelay: 500,
  });
  if (r.timedOut) return `systemd-notify timed out after ${NOTIFY_TIMEOUT_MS} ms`;
  if (r.failed) return `systemd-notify failed: ${String(r.stderr || r.shortMessage).trim().split('\n')[0] ?? ''}`;
  return undefined;
};

/** STATUS= text is one line; systemd shows it as is. */
function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').slice(0, 400);
}

export function watchdogMsFromEnv(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== '' && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return usec / 1000;
}

export function createNotifier(opts: { log: Logger; env?: NodeJS.ProcessEnv; run?: NotifyRunner; pid?: number }): Notifier {
  const env = opts.env ?? process.env;
  const socket = env.NOTIFY_SOCKET;
  const watchdogMs = watchdogMsFromEnv(env, opts.pid ?? process.pid);
  if (socket === undefined || socket === '') {
    return { enabled: false, watchdogMs: undefined, ready: () => Promise.resolve(), status: () => Promise.resolve(), watchdog: () => Promise.resolve(), stopping: () => Promise.resolve() };
  }
  // Children (hooks, scripts) must not notify on our behalf.
  if (env === process.env) {
    delete process.env.NOTIFY_SOCKET;
    delete process.env.WATCHDOG_USEC;
    delete process.env.WATCHDOG_PID;
  }
  const run = opts.run ?? systemdNotifyRunner;
  const log = opts.log;
  let chain: Promise<void> = Promise.resolve();
  let lastStatus: string | undefined;
  let failing = false;
  const send = (args: string[]): Promise<void> => {
    chain = chain.then(async () => {
      const err = await run(args, { NOTIFY_SOCKET: socket }).catch((e: unknown) => `systemd-notify could not run: ${(e as Error).message}`);
      if (err !== undefined && !failing) log.warn({ args: args.filter((a) => !a.startsWith('--status=')) }, `sd_notify failed (further failures are not logged until one succeeds): ${err}`);
      failing = err !== undefined;
    });
    return chain;
  };
  return {
    enabled: true,
    watchdogMs,
    ready: (status) => {
      lastStatus = oneLine(status);
      return send(['--ready', `--status=${lastStatus}`]);
    },
    status: (status) => {
      const s = oneLine(status);
      if (s === lastStatus) return chain;
      lastStatus = s;
      return send([`--status=${s}`]);
    },
    watchdog: () => send(['WATCHDOG=1']),
    stopping: (status) => {
      lastStatus = oneLine(status);
      return send([`--status=${lastStatus}`, 'STOPPING=1']);
    },
  };
}
