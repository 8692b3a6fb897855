/**
 * Persistent SSH sessions (ssh2): one authenticated connection per host,
 * opened ahead of need and reused for every command on that host, so the
 * commands on the critical path of a failover (the second-route probes, the
 * fence of a hung master, the built-in vip hook) pay one channel open (one
 * round trip) instead of a TCP and SSH handshake each.
 *
 * Same rules as sshExec (client.ts): host keys verified by default (known_hosts
 * and pinned fingerprints), keepalive on, a deadline on the connect and on
 * every command; on a command's deadline its channel is closed (a connection
 * that died silently is found by the keepalive, then destroyed, never end()ed).
 * A dead session is replaced on the next use.
 */
import { performance } from 'node:perf_hooks';
import ssh2 from 'ssh2';
import type { ClientChannel } from 'ssh2';
import {
  classify,
  collectChannel,
  connectConfig,
  loadCredentials,
  loadHostTrust,
  remoteCommand,
  SshError,
  type Credentials,
  type ExecResult,
  type HostKeyInfo,
  type Ssh2Error,
  type SshClientOptions,
  type SshTarget,
  type Verification,
} from './client.js';
import type { Logger } from '../../ports/logger.js';
import { jittered } from '../../domain/jitter.js';

const { Client } = ssh2;

export interface SessionExecOptions {
  /** Deadline of the command, ms (the channel open included). */
  timeoutMs: number;
  /** Written to stdin, then EOF. */
  stdin?: string | undefined;
  /** Wraps the command in `timeout --kill-after=2 N` so it dies remotely too. */
  remoteTimeoutSec?: number | undefined;
  maxOutputBytes?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** One authenticated SSH connection that runs many commands. */
export class SshSession {
  readonly target: SshTarget;
  readonly hostKey: HostKeyInfo;
  readonly openedAt: number;
  #client: InstanceType<typeof Client>;
  #dead = false;
  #creds: Credentials;
  #connectTimeoutMs: number;

  private constructor(target: SshTarget, client: InstanceType<typeof Client>, hostKey: HostKeyInfo, creds: Credentials, connectTimeoutMs: number) {
    this.target = target;
    this.#client = client;
    this.hostKey = hostKey;
    this.openedAt = performance.now();
    this.#creds = creds;
    this.#connectTimeoutMs = connectTimeoutMs;
    client.on('close', () => {
      this.#dead = true;
    });
    client.on('error', () => {
      this.#dead = true;
    });
  }

  get alive(): boolean {
    return !this.#dead;
  }

  /** Connects and authenticates within opts.connectTimeoutMs (host key verified). */
  static async open(target: SshTarget, opts: SshClientOptions & { signal?: AbortSignal | undefined }): Promise<SshSession> {
    opts.signal?.throwIfAborted();
    const trust = opts.insecureSkipHostKeyCheck ? undefined : await loadHostTrust(target, opts);
    const creds = await loadCredentials(target, opts);
    const connectTimeoutMs = Math.max(1, opts.connectTimeoutMs);
    return new Promise<SshSession>((resolve, reject) => {
      const client = new Client();
      let settled = false;
      let hostKey: HostKeyInfo | undefined;
      let rejection: Verification | undefined;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        client.destroy();
        reject(err);
      };
      const onAbort = (): void => {
        const r: unknown = opts.signal?.reason;
        fail(r instanceof Error ? r : new Error(`aborted: ${String(r)}`));
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(
        () => fail(new SshError('timeout', target, `no SSH session within ${connectTimeoutMs} ms (host down, firewalled, or sshd not answering)`, { hint: 'check the host and that sshd answers on that port; raise ssh.connect_timeout if the link is slow', hostKey })),
        connectTimeoutMs,
      );
      client.on('error', (err: Ssh2Error) => {
        if (settled) return;
        if (rejection && !rejection.ok) fail(new SshError(rejection.kind, target, rejection.detail, { hint: rejection.hint, hostKey: rejection.key, cause: err }));
        else fail(classify(target, err, creds, connectTimeoutMs, false));
      });
      client.on('close', () => {
        if (settled) return;
        if (rejection && !rejection.ok) fail(new SshError(rejection.kind, target, rejection.detail, { hint: rejection.hint, hostKey: rejection.key }));
        else fail(new SshError('protocol', target, 'connection closed during the SSH handshake', { hostKey }));
      });
      client.on('ready', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        client.removeAllListeners('error');
        client.removeAllListeners('close');
        resolve(new SshSession(target, client, hostKey ?? { type: 'unknown', fingerprint: 'unknown' }, creds, connectTimeoutMs));
      });
      const cfg = connectConfig(target, opts, trust, creds, connectTimeoutMs, (v) => {
        hostKey = v.key;
        if (!v.ok) rejection = v;
      });
      try {
        client.connect(cfg);
      } catch (e) {
        fail(new SshError('other', target, `cannot start the SSH connection: ${e instanceof Error ? e.message : String(e)}`));
      }
    });
  }

  /** Runs argv (quoted for the remote POSIX shell) on a new channel. A non-zero exit is a result. */
  exec(argv: readonly string[], o: SessionExecOptions): Promise<ExecResult> {
    const t0 = performance.now();
    const target = this.target;
    const command = remoteCommand(argv, o.remoteTimeoutSec);
    if (this.#dead) return Promise.reject(new SshError('protocol', target, 'the SSH session is closed'));
    return new Promise<ExecResult>((resolve, reject) => {
      let settled = false;
      let ch: ClientChannel | undefined;
      const client = this.#client;
      const onGone = (): void => fail(new SshError('protocol', target, 'the SSH connection closed before the command finished', { hostKey: this.hostKey }));
      const onError = (err: Ssh2Error): void => fail(classify(target, err, this.#creds, this.#connectTimeoutMs, true));
      const done = (): void => {
        clearTimeout(timer);
        o.signal?.removeEventListener('abort', onAbort);
        client.removeListener('close', onGone);
        client.removeListener('error', onError);
      };
      const fail = (err: Error, kill = false): void => {
        if (settled) return;
        settled = true;
        done();
        try {
          ch?.close();
        } catch {
          /* gone */
        }
        if (kill) this.destroy();
        reject(err);
      };
      const onAbort = (): void => {
        const r: unknown = o.signal?.reason;
        fail(r instanceof Error ? r : new Error(`aborted: ${String(r)}`));
      };
      o.signal?.addEventListener('abort', onAbort, { once: true });
      client.once('close', onGone);
      client.on('error', onError);
      // Past the deadline only the channel is closed: a connection that died silently is found by the keepalive.
      const timer = setTimeout(() => fail(new SshError('timeout', target, `command did not finish within ${Math.round(o.timeoutMs)} ms: ${command}`, { hostKey: this.hostKey })), Math.max(1, o.timeoutMs));
      try {
        client.exec(command, (err, stream) => {
          if (settled) {
            if (!err) stream.close();
            return;
          }
          if (err) {
            fail(new SshError('protocol', target, `could not start the command: ${err.message}`, { hostKey: this.hostKey, cause: err }), true);
            return;
          }
          ch = stream;
          collectChannel(stream, o, {
            tooMuch: (max) => fail(new SshError('protocol', target, `the command printed more than ${max} bytes: stopped`, { hostKey: this.hostKey })),
            done: (r) => {
              if (settled) return;
              settled = true;
              done();
              resolve({ ...r, elapsedMs: performance.now() - t0, connectMs: 0, hostKey: this.hostKey });
            },
          });
        });
      } catch (e) {
        fail(new SshError('protocol', target, `could not start the command: ${e instanceof Error ? e.message : String(e)}`), true);
      }
    });
  }

  /** Opens a channel running argv, for a long-lived command (RemoteShell). */
  channel(argv: readonly string[], timeoutMs: number): Promise<ClientChannel> {
    const target = this.target;
    if (this.#dead) return Promise.reject(new SshError('protocol', target, 'the SSH session is closed'));
    return new Promise<ClientChannel>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        this.destroy();
        reject(new SshError('timeout', target, `no channel within ${timeoutMs} ms (the SSH connection was dropped)`));
      }, Math.max(1, timeoutMs));
      try {
        this.#client.exec(remoteCommand(argv), (err, ch) => {
          clearTimeout(timer);
          if (settled) {
            if (!err) ch.close();
            return;
          }
          settled = true;
          if (err) {
            this.destroy();
            reject(new SshError('protocol', target, `could not open a channel: ${err.message}`, { cause: err }));
            return;
          }
          resolve(ch);
        });
      } catch (e) {
        clearTimeout(timer);
        settled = true;
        this.destroy();
        reject(new SshError('protocol', target, `could not open a channel: ${e instanceof Error ? e.message : String(e)}`));
      }
    });
  }

  /** Polite close (the peer is told), destroyed after a grace period whatever happens. */
  close(graceMs = 1000): void {
    if (this.#dead) return;
    this.#dead = true;
    const c = this.#client;
    setTimeout(() => c.destroy(), graceMs).unref();
    try {
      c.end();
    } catch {
      c.destroy();
    }
  }

  destroy(): void {
    this.#dead = true;
    this.#client.destroy();
  }
}

/**
 * The loop a RemoteShell runs: one request per line ("ID OCTAL-ESCAPED-COMMAND"), each run in a
 * subshell with stdin from /dev/null, its output followed by an end marker on stdout (with the exit
 * status) and on stderr. POSIX sh only (printf %b decodes \0ooo).
 */
export const SHELL_LOOP = `while IFS= read -r l; do i=\${l%% *}; c=\$(printf '%b' "\${l#* }"); (eval "$c") </dev/null; r=$?; printf '\\n__MHATS_%s_%s__\\n' "$i" "$r"; printf '\\n__MHATS_%s__\\n' "$i" >&2; done`;

/** Encodes a command for SHELL_LOOP: every byte as \0ooo (printf %b), so the line holds no space, quote or newline of its own. */
export function encodeForShellLoop(command: string): string {
  let out = '';
  for (const b of Buffer.from(command, 'utf8')) out += `\\0${b.toString(8).padStart(3, '0')}`;
  return out;
}

export interface ShellResult {
  code: number | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

/**
 * A long-lived remote shell on one SSH channel: the login shell (and its startup files, which can
 * take seconds) runs once, when the shell opens; every command after that costs one round trip
 * and its own processes. One command at a time (busy: the caller uses a plain exec channel). A
 * command past its deadline closes the shell (the next one opens a new shell).
 */
export class RemoteShell {
  readonly session: SshSession;
  #ch: ClientChannel;
  #out = '';
  #err = '';
  #dead = false;
  #current: { id: string; resolve: (r: ShellResult) => void; reject: (e: Error) => void; t0: number; timer: NodeJS.Timeout } | undefined;
  #seq = 0;

  private constructor(session: SshSession, ch: ClientChannel) {
    this.session = session;
    this.#ch = ch;
    ch.on('data', (d: Buffer) => {
      this.#out += d.toString('utf8');
      this.#check();
    });
    ch.stderr.on('data', (d: Buffer) => {
      this.#err += d.toString('utf8');
      this.#check();
    });
    ch.on('close', () => this.#die(new SshError('protocol', session.target, 'the remote shell closed')));
  }

  get alive(): boolean {
    return !this.#dead && this.session.alive;
  }

  get busy(): boolean {
    return this.#current !== undefined;
  }

  /** Opens the shell and waits until it answers a first command (the login shell's startup included). */
  static async open(session: SshSession, timeoutMs: number): Promise<RemoteShell> {
    const ch = await session.channel(['exec', '/bin/sh', '-c', SHELL_LOOP], timeoutMs);
    const sh = new RemoteShell(session, ch);
    try {
      await sh.run(['true'], { timeoutMs });
      return sh;
    } catch (err) {
      sh.close();
      throw err;
    }
  }

  #check(): void {
    const c = this.#current;
    if (c === undefined) return;
    const outMark = new RegExp(`\\n__MHATS_${c.id}_(\\d+)__\\n`);
    const m = outMark.exec(this.#out);
    const errMark = `\n__MHATS_${c.id}__\n`;
    const e = this.#err.indexOf(errMark);
    if (m === null || e < 0) return;
    const stdout = this.#out.slice(0, m.index);
    const stderr = this.#err.slice(0, e);
    this.#out = this.#out.slice(m.index + m[0].length);
    this.#err = this.#err.slice(e + errMark.length);
    this.#current = undefined;
    clearTimeout(c.timer);
    c.resolve({ code: Number(m[1]), stdout, stderr, elapsedMs: performance.now() - c.t0 });
  }

  #die(err: Error): void {
    if (this.#dead) return;
    this.#dead = true;
    const c = this.#current;
    this.#current = undefined;
    if (c) {
      clearTimeout(c.timer);
      c.reject(err);
    }
    try {
      this.#ch.close();
    } catch {
      /* gone */
    }
  }

  /** Runs argv (quoted for the remote shell). Rejects when busy, closed, or past the deadline (then the shell is closed). */
  run(argv: readonly string[], o: { timeoutMs: number }): Promise<ShellResult> {
    if (!this.alive) return Promise.reject(new SshError('protocol', this.session.target, 'the remote shell is closed'));
    if (this.#current !== undefined) return Promise.reject(new SshError('other', this.session.target, 'the remote shell is busy'));
    const id = `${process.pid}x${++this.#seq}x${Math.floor(Math.random() * 1e9)}`;
    return new Promise<ShellResult>((resolve, reject) => {
      const timer = setTimeout(() => this.#die(new SshError('timeout', this.session.target, `command did not finish within ${o.timeoutMs} ms (the remote shell was closed): ${remoteCommand(argv)}`)), Math.max(1, o.timeoutMs));
      this.#current = { id, resolve, reject, t0: performance.now(), timer };
      this.#ch.write(`${id} ${encodeForShellLoop(remoteCommand(argv))}\n`);
    });
  }

  close(): void {
    this.#die(new SshError('other', this.session.target, 'the remote shell was closed'));
  }
}

export interface PoolEntry {
  target: SshTarget;
  options: SshClientOptions;
}

/** Opening a remote shell may take the login shell's startup files (seconds on some hosts). */
const SHELL_OPEN_MS = 20_000;

/** A reachability probe (SshPool.reachable): did the host answer, when was it asked (performance.now()), how long it took. */
export interface SshReach {
  ok: boolean;
  startedAt: number;
  ms: number;
  detail: string;
}

/** After a failed opening, warm() waits about this long before trying that host again... */
const WARM_RETRY_MS = 60_000;
/** ...give or take this fraction (jittered): hosts that failed together are not all retried in the same second. */
const WARM_RETRY_SPREAD = 0.2;

function keyOf(t: SshTarget): string {
  return `${t.user}@${t.host}:${t.port}`;
}

/**
 * Sessions by user@host:port. get() reuses a live session or opens one (concurrent callers share
 * the opening); warm() opens ahead of need and never throws. A session unused for idleMs is closed.
 */
export class SshPool {
  #sessions = new Map<string, SshSession>();
  #opening = new Map<string, Promise<SshSession>>();
  #shells = new Map<string, RemoteShell>();
  #shellOpening = new Map<string, Promise<RemoteShell>>();
  #lastUse = new Map<string, number>();
  #lastError = new Map<string, { at: number; message: string; retryMs: number }>();
  #reach = new Map<string, { startedAt: number; result: Promise<SshReach> }>();
  #idleMs: number;
  #warmRetryMs: number;
  #warmRetrySpread: number;
  #random: () => number;
  /** Sessions warm() started opening (tests, metrics). */
  warmAttempts = 0;
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;

  #log: Logger | undefined;

  constructor(o: { idleMs?: number | undefined; log?: Logger | undefined; warmRetryMs?: number | undefined; warmRetrySpread?: number | undefined; random?: (() => number) | undefined } = {}) {
    this.#idleMs = o.idleMs ?? 10 * 60_000;
    this.#warmRetryMs = o.warmRetryMs ?? WARM_RETRY_MS;
    this.#warmRetrySpread = o.warmRetrySpread ?? WARM_RETRY_SPREAD;
    this.#random = o.random ?? Math.random;
    this.#log = o.log;
  }

  /** A live session, reused or newly opened (within the options' connect timeout). */
  async get(target: SshTarget, options: SshClientOptions, signal?: AbortSignal): Promise<SshSession> {
    if (this.#closed) throw new SshError('other', target, 'the SSH pool is closed');
    const key = keyOf(target);
    this.#lastUse.set(key, performance.now());
    const s = this.#sessions.get(key);
    if (s?.alive) return s;
    if (s) this.#sessions.delete(key);
    let p = this.#opening.get(key);
    if (p === undefined) {
      p = SshSession.open(target, { ...options, signal })
        .then((sess) => {
          if (this.#closed) {
            sess.destroy();
            throw new SshError('other', target, 'the SSH pool is closed');
          }
          this.#sessions.set(key, sess);
          this.#lastError.delete(key);
          this.#sweep();
          return sess;
        })
        .catch((err: unknown) => {
          this.#lastError.set(key, { at: performance.now(), message: err instanceof Error ? err.message : String(err), retryMs: jittered(this.#warmRetryMs, this.#warmRetrySpread, this.#random) });
          throw err;
        })
        .finally(() => this.#opening.delete(key));
      this.#opening.set(key, p);
    }
    return p;
  }

  /** Opens a session and its remote shell ahead of need (no error escapes; the next use retries). */
  warm(target: SshTarget, options: SshClientOptions): void {
    if (this.#closed) return;
    const key = keyOf(target);
    this.#lastUse.set(key, performance.now());
    if (this.#shells.get(key)?.alive || this.#shellOpening.has(key)) return;
    // Opening ahead of need is a courtesy: after a failed opening, not again before warmRetryMs ± spread
    // (a host without SSH would otherwise cost a TCP connect per inspection; the jitter keeps hosts that
    // failed together from being retried together). get()/run() still try at once when a session is needed.
    const failed = this.#lastError.get(key);
    if (failed !== undefined && performance.now() - failed.at < failed.retryMs) return;
    this.warmAttempts++;
    this.#openShell(target, options).catch(() => undefined);
  }

  #openShell(target: SshTarget, options: SshClientOptions): Promise<RemoteShell> {
    const key = keyOf(target);
    let p = this.#shellOpening.get(key);
    if (p === undefined) {
      // The login shell's startup files run here, once, off the critical path.
      const t0 = performance.now();
      p = this.get(target, options)
        .then((sess) => RemoteShell.open(sess, Math.max(SHELL_OPEN_MS, options.connectTimeoutMs)))
        .then((sh) => {
          if (this.#closed) {
            sh.close();
            throw new SshError('other', target, 'the SSH pool is closed');
          }
          this.#shells.get(key)?.close();
          this.#shells.set(key, sh);
          this.#log?.debug({ ssh: key, ms: Math.round(performance.now() - t0) }, `SSH shell ready on ${target.label} (${key}) in ${Math.round(performance.now() - t0)} ms`);
          return sh;
        })
        .catch((err: unknown) => {
          this.#log?.debug({ ssh: key, err: (err as Error).message }, `no SSH shell on ${target.label} (${key}): ${(err as Error).message}`);
          throw err;
        })
        .finally(() => this.#shellOpening.delete(key));
      this.#shellOpening.set(key, p);
    }
    return p;
  }

  /**
   * Opens target's session and remote shell now and waits for them, at most timeoutMs: for a step
   * that must not pay an SSH handshake later (a switchover's hooks, inside its write block).
   * Never throws: false when the shell is not ready in time (the command then opens its own).
   */
  async prepare(target: SshTarget, options: SshClientOptions, timeoutMs: number): Promise<boolean> {
    if (this.hasShell(target)) return true;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((r) => {
      timer = setTimeout(() => r(false), Math.max(1, timeoutMs));
    });
    try {
      return await Promise.race([this.#openShell(target, options).then(() => true, () => false), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Is a remote shell ready on target (no I/O)? */
  hasShell(target: SshTarget): boolean {
    return this.#shells.get(keyOf(target))?.alive ?? false;
  }

  /**
   * Runs argv on target within timeoutMs: on its idle remote shell when one is ready (one round
   * trip), else on a new channel of its session (the login shell starts for it), opening the session
   * if needed. A shell is opened in the background for the next time.
   */
  async run(target: SshTarget, options: SshClientOptions, argv: readonly string[], o: SessionExecOptions): Promise<ShellResult & { via: 'shell' | 'exec' }> {
    const key = keyOf(target);
    this.#lastUse.set(key, performance.now());
    const sh = this.#shells.get(key);
    if (sh?.alive && !sh.busy && o.stdin === undefined) {
      const r = await sh.run(argv, { timeoutMs: o.timeoutMs });
      return { ...r, via: 'shell' };
    }
    if (!this.#closed && !sh?.alive) this.#openShell(target, options).catch(() => undefined);
    const r = await this.exec(target, options, argv, o);
    return { code: r.code, stdout: r.stdout, stderr: r.stderr, elapsedMs: r.elapsedMs, via: 'exec' };
  }

  /**
   * Does target answer over SSH? One command (`true`) on its kept shell, or on a new session when
   * none is open, within timeoutMs. Callers share a probe: one started less than maxAgeMs ago
   * (running or finished) is reused, so a failover can take the answer of the probe a suspicion
   * started seconds earlier. Never throws.
   */
  reachable(target: SshTarget, options: SshClientOptions, o: { timeoutMs: number; maxAgeMs: number }): Promise<SshReach> {
    const key = keyOf(target);
    const prev = this.#reach.get(key);
    if (prev !== undefined && performance.now() - prev.startedAt <= o.maxAgeMs) return prev.result;
    const startedAt = performance.now();
    // The kept shell when it is idle, else a channel of the session (opened if needed). Unlike run(), no
    // shell is opened in the background: on a host that stopped answering it would wait on a dead session.
    const sh = this.#shells.get(key);
    const asked = sh?.alive && !sh.busy ? sh.run(['true'], { timeoutMs: o.timeoutMs }) : this.exec(target, options, ['true'], { timeoutMs: o.timeoutMs });
    const result = asked.then(
      (r): SshReach => ({ ok: r.code === 0, startedAt, ms: Math.round(performance.now() - startedAt), detail: r.code === 0 ? `answered in ${Math.round(performance.now() - startedAt)} ms` : `true exited ${r.code ?? '?'}` }),
      (err: unknown): SshReach => {
        // No answer: the kept session is not trusted any more (a connection the network dropped looks alive
        // until its keepalive gives up); the next use opens a fresh one.
        this.#forget(key);
        return { ok: false, startedAt, ms: Math.round(performance.now() - startedAt), detail: err instanceof Error ? err.message : String(err) };
      },
    );
    this.#reach.set(key, { startedAt, result });
    return result;
  }

  /** Is a live session to target open now (no I/O)? */
  has(target: SshTarget): boolean {
    return this.#sessions.get(keyOf(target))?.alive ?? false;
  }

  lastError(target: SshTarget): string | undefined {
    return this.#lastError.get(keyOf(target))?.message;
  }

  /**
   * Runs argv on target over its session, within timeoutMs in all (the connect included when no
   * session is open). A session that turns out dead before the command started is replaced once.
   */
  async exec(target: SshTarget, options: SshClientOptions, argv: readonly string[], o: SessionExecOptions): Promise<ExecResult> {
    const t0 = performance.now();
    const left = (): number => o.timeoutMs - (performance.now() - t0);
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new SshError('timeout', target, `no SSH session within the ${o.timeoutMs} ms deadline`)), Math.max(1, o.timeoutMs));
    const onAbort = (): void => ac.abort(o.signal?.reason);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      let fresh = false;
      for (let attempt = 0; ; attempt++) {
        const had = this.has(target);
        const s = await this.get(target, { ...options, connectTimeoutMs: Math.max(1, Math.min(options.connectTimeoutMs, left())) }, ac.signal);
        fresh = !had;
        const connectMs = fresh ? performance.now() - t0 : 0;
        if (left() <= 0) throw new SshError('timeout', target, `no time left for the command within ${o.timeoutMs} ms`);
        try {
          const r = await s.exec(argv, { ...o, timeoutMs: Math.max(1, left()), signal: ac.signal });
          return { ...r, connectMs, elapsedMs: performance.now() - t0 };
        } catch (err) {
          // A reused session that died under us (closed by the peer, keepalive): one retry on a new one.
          if (attempt === 0 && !fresh && !s.alive && err instanceof SshError && err.kind === 'protocol' && left() > 50) continue;
          throw err;
        }
      }
    } finally {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Drops target's shell and session (destroyed, never ended: the peer may be gone). */
  #forget(key: string): void {
    this.#shells.get(key)?.close();
    this.#shells.delete(key);
    this.#sessions.get(key)?.destroy();
    this.#sessions.delete(key);
  }

  #sweep(): void {
    if (this.#sweeper !== undefined || this.#closed) return;
    this.#sweeper = setInterval(() => {
      const now = performance.now();
      for (const [key, s] of this.#sessions) {
        if (!s.alive || now - (this.#lastUse.get(key) ?? 0) > this.#idleMs) {
          this.#shells.get(key)?.close();
          this.#shells.delete(key);
          s.close();
          this.#sessions.delete(key);
        }
      }
      if (this.#sessions.size === 0) {
        clearInterval(this.#sweeper);
        this.#sweeper = undefined;
      }
    }, Math.min(60_000, Math.max(1000, this.#idleMs / 4)));
    this.#sweeper.unref();
  }

  /** Closes every session. The pool can no longer be used. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    for (const sh of this.#shells.values()) sh.close();
    this.#shells.clear();
    for (const s of this.#sessions.values()) s.close();
    this.#sessions.clear();
  }
}
