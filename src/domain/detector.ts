/**
 * The failure detector: pure functions of health-check results, what the
 * replicas and the second route say, and time. No I/O, no clock.
 *
 *   detect(state, check result)  -> { state, transition }   (the manager's own route)
 *   classifyWitness(samples)     -> what one replica proves   (the replicas' view)
 *   decide(evidence)             -> the verdict               (dead, alive, or not yet)
 *
 * How a suspicion becomes a failover (or does not):
 * - Proof of life ends it: a replica that received an event or a heartbeat
 *   since the manager lost the master (fresh evidence, compared across two
 *   samples), a replica whose IO thread gets an "alive" error from it (1040
 *   too many connections, 1045 access denied, 1129 host blocked, 1203 ..., as
 *   MHA's double check), or a second route that reaches the server greeting.
 * - Certain evidence ends it the other way at once: the manager's connection
 *   is REFUSED (the host answers, nothing listens), confirmed by every
 *   witness having lost its IO connection or by the second route being
 *   refused too, and still refused at one short re-check.
 * - A timeout is ambiguous: the master is dead when the manager's checks
 *   failed twice in a row and no route reaches a live server (the second
 *   route, over SSH from the replicas' hosts and secondary_hosts).
 * - Without a second route, the replicas decide as before: every witness
 *   lost its IO connection, after ping_failures failed checks.
 * - A replica whose IO thread was stopped by hand is no witness; a replica's
 *   "Yes" without fresh evidence proves nothing either way.
 * - A storage hang (statements on an accepted connection time out, N times
 *   in a row) is a failure even while replicas are connected.
 * - secondary_check_script, when set, has the last word (MHA).
 */
import type { BinlogCoord, IoThreadState, ProbeFailureKind } from './types.js';

export interface CheckResult {
  /** When the check finished (ms, monotonic or wall; only differences matter). */
  at: number;
  ok: boolean;
  /** Why it failed, when it failed. */
  kind?: ProbeFailureKind | undefined;
  message?: string | undefined;
  /** MySQL error number of a failed check, when the server sent one. */
  errno?: number | undefined;
  /**
   * Where a failed check failed: 'connect' (no session: refused, no greeting, handshake or auth
   * failed) or 'statement' (the session was accepted; its statement failed or timed out).
   */
  stage?: 'connect' | 'statement' | undefined;
  latencyMs: number;
  /** The master's binlog position read right after a successful check (for the lost-transaction report). */
  position?: MasterPosition | undefined;
}

/** Where a master's binlog stood at an instant. */
export interface MasterPosition {
  coord?: BinlogCoord | undefined;
  gtid?: string | undefined;
  at: number;
}

/**
 * MySQL error numbers that prove a server answered, so it is alive (MHA's ALIVE_ERROR_CODES,
 * ManagerConst.pm, used by its health check and its double check before a failover).
 */
export const ALIVE_ERRNOS: ReadonlySet<number> = new Set([
  1040, // ER_CON_COUNT_ERROR: too many connections
  1042, // ER_BAD_HOST_ERROR
  1043, // ER_HANDSHAKE_ERROR
  1044, // ER_DBACCESS_DENIED_ERROR
  1045, // ER_ACCESS_DENIED_ERROR
  1129, // ER_HOST_IS_BLOCKED
  1130, // ER_HOST_NOT_PRIVILEGED
  1203, // ER_TOO_MANY_USER_CONNECTIONS
  1226, // ER_USER_LIMIT_REACHED
  1251, // ER_NOT_SUPPORTED_AUTH_MODE
  1275, // ER_SERVER_IS_IN_SECURE_AUTH_MODE
]);

const ERRNO_NAMES: Record<number, string> = {
  1040: 'too many connections',
  1042: 'bad host',
  1043: 'bad handshake',
  1044: 'database access denied',
  1045: 'access denied',
  1129: 'host blocked',
  1130: 'host not privileged',
  1203: 'max_user_connections',
  1226: 'user resource limit',
  1251: 'auth mode not supported',
  1275: 'secure auth mode',
};

/** "1040 (too many connections)" */
export function describeAliveErrno(errno: number): string {
  const n = ERRNO_NAMES[errno];
  return n === undefined ? String(errno) : `${errno} (${n})`;
}

/** How a failed check counts. */
export type FailureClass =
  /** The server answered with a refusal that proves it alive: not counted (MHA). */
  | 'alive'
  /** Connection refused: the host answers and nothing listens on the port. Certain, once confirmed. */
  | 'refused'
  /** A statement timed out on a connection the server accepted: a storage hang (or a held lock). */
  | 'stall'
  /** Timeouts, unreachable, resets: the master or only the manager's route. */
  | 'ambiguous';

export function classifyFailure(r: Pick<CheckResult, 'ok' | 'kind' | 'stage' | 'errno'>): FailureClass | undefined {
  if (r.ok) return undefined;
  if (r.kind === 'auth' || r.kind === 'too_many_connections' || r.kind === 'read_only') return 'alive';
  if (r.errno !== undefined && ALIVE_ERRNOS.has(r.errno)) return 'alive';
  if (r.kind === 'refused') return 'refused';
  if (r.kind === 'timeout' && r.stage === 'statement') return 'stall';
  return 'ambiguous';
}

/** Failure kinds that prove a MySQL server answered: it is alive. */
export function isAliveError(kind: ProbeFailureKind | undefined): boolean {
  return classifyFailure({ ok: false, kind }) === 'alive';
}

export type DetectorPhase = 'healthy' | 'failing' | 'suspect';

export interface DetectorState {
  phase: DetectorPhase;
  consecutiveFailures: number;
  /** Statement timeouts in a row on accepted connections (a storage hang): they make a failure on their own. */
  consecutiveStalls: number;
  /** When the first failed check of this run STARTED (its end minus its latency). */
  firstFailureAt?: number | undefined;
  lastOkAt?: number | undefined;
  lastFailure?: { kind: ProbeFailureKind; message: string; class: FailureClass; at: number } | undefined;
}

export interface DetectorSettings {
  /** Failed checks in a row that make a suspicion (ping_failures). */
  failuresToSuspect: number;
  /** Statement timeouts in a row, on accepted connections, that fail the master even while replicas are connected. */
  stallsToFail: number;
}

export type DetectorTransition = 'none' | 'first_failure' | 'failure' | 'suspect' | 'recovered' | 'alive_but_refusing';

export const initialDetectorState: DetectorState = { phase: 'healthy', consecutiveFailures: 0, consecutiveStalls: 0 };

export function detect(state: DetectorState, r: CheckResult, settings: DetectorSettings): { state: DetectorState; transition: DetectorTransition } {
  if (r.ok) {
    const recovered = state.phase !== 'healthy';
    return { state: { phase: 'healthy', consecutiveFailures: 0, consecutiveStalls: 0, lastOkAt: r.at }, transition: recovered ? 'recovered' : 'none' };
  }
  const cls = classifyFailure(r) ?? 'ambiguous';
  const kind = r.kind ?? 'other';
  if (cls === 'alive') {
    // Alive but refusing us: neither counts nor clears.
    return { state: { ...state, lastFailure: { kind, message: r.message ?? '', class: cls, at: r.at } }, transition: 'alive_but_refusing' };
  }
  const n = state.consecutiveFailures + 1;
  const stalls = cls === 'stall' ? state.consecutiveStalls + 1 : 0;
  const suspect = n >= settings.failuresToSuspect || stalls >= settings.stallsToFail;
  const next: DetectorState = {
    phase: suspect ? 'suspect' : 'failing',
    consecutiveFailures: n,
    consecutiveStalls: stalls,
    firstFailureAt: state.firstFailureAt ?? r.at - Math.max(0, r.latencyMs),
    lastOkAt: state.lastOkAt,
    lastFailure: { kind, message: r.message ?? '', class: cls, at: r.at },
  };
  let transition: DetectorTransition = 'failure';
  if (state.phase !== 'suspect' && next.phase === 'suspect') transition = 'suspect';
  else if (n === 1) transition = 'first_failure';
  return { state: next, transition };
}

// ---------------------------------------------------------------------------------------------
// The replicas' view

/** One reading of a replica's replication state (SHOW SLAVE STATUS and the heartbeat counters). */
export interface ReplicaSample {
  /** When it was read (the manager's monotonic ms). */
  at: number;
  reachable: boolean;
  /** Why it could not be read. */
  error?: string | undefined;
  /** Is it a replica of the suspected master at all? */
  replicatesFromMaster: boolean;
  io?: IoThreadState | undefined;
  lastIoErrno?: number | undefined;
  lastIoError?: string | undefined;
  /** Read_Master_Log_Pos (with its file): what the IO thread has received. */
  read?: BinlogCoord | undefined;
  /** MariaDB Slave_received_heartbeats / MySQL COUNT_RECEIVED_HEARTBEATS. */
  heartbeats?: number | undefined;
  /** MySQL: ms since the last heartbeat or queued transaction, by the replica's own clock. */
  receivedAgoMs?: number | undefined;
  /** MariaDB/MySQL heartbeat period, seconds (for the message when nothing is fresh). */
  heartbeatPeriod?: number | undefined;
}

/** What a replica proves about the master. */
export type WitnessClass =
  /** Received an event or a heartbeat since the suspicion began: the master is alive. */
  | 'fresh'
  /** Its IO thread gets an "alive" error from the master: alive. */
  | 'alive_error'
  /** Its IO thread lost the master and is reconnecting (Connecting): evidence of death. */
  | 'lost'
  /** IO thread says Yes but nothing arrived since: proves nothing (slave_net_timeout not expired yet). */
  | 'stale'
  /** IO thread stopped, by hand (No, no error) or on an error: it no longer watches the master; not a witness. */
  | 'stopped'
  /** Not a replica of this master: not a witness. */
  | 'not_replica'
  /** Could not be read: not a witness. */
  | 'unreachable';

export interface WitnessReport {
  name: string;
  class: WitnessClass;
  /** alive: proves the master alive; dead: evidence of death; nothing: no evidence. */
  says: 'alive' | 'dead' | 'nothing';
  detail: string;
  io?: IoThreadState | undefined;
  errno?: number | undefined;
  /** How old the freshest proof of life is at most, ms (fresh), or how long nothing arrived (stale). */
  freshnessMs?: number | undefined;
  /** When the replica was last read (monotonic ms). */
  at?: number | undefined;
}

function coordKey(c: BinlogCoord | undefined): string | undefined {
  return c === undefined ? undefined : `${c.file}:${c.pos}`;
}

function says(cls: WitnessClass): WitnessReport['says'] {
  return cls === 'fresh' || cls === 'alive_error' ? 'alive' : cls === 'lost' ? 'dead' : 'nothing';
}

/**
 * What one replica proves, from its latest sample and an earlier one (taken after the manager's
 * checks began to fail). `since` = when the suspicion began (the first failed check's start).
 */
export function classifyWitness(name: string, prev: ReplicaSample | undefined, cur: ReplicaSample, since: number | undefined): WitnessReport {
  const mk = (cls: WitnessClass, detail: string, extra: Partial<WitnessReport> = {}): WitnessReport => ({ name, class: cls, says: says(cls), detail, io: cur.io, at: cur.at, ...extra });
  if (!cur.reachable) return mk('unreachable', `cannot be read${cur.error ? ` (${cur.error})` : ''}`);
  if (!cur.replicatesFromMaster) return mk('not_replica', 'does not replicate from it');
  const errno = cur.lastIoErrno ?? 0;
  if (cur.io !== 'Yes' && errno !== 0 && ALIVE_ERRNOS.has(errno)) {
    return mk('alive_error', `IO thread ${cur.io ?? '?'}, gets error ${describeAliveErrno(errno)} from it: the master answers`, { errno });
  }
  if (cur.io === 'No' && errno === 0) return mk('stopped', 'IO thread stopped by hand: not a witness');
  // Stopped on an error (after its retries, or a fatal one such as 1236): it no longer watches the master.
  if (cur.io === 'No') return mk('stopped', `IO thread stopped on error ${errno}${cur.lastIoError ? ` (${cur.lastIoError})` : ''}: not a witness`, { errno });
  if (cur.io !== 'Yes') return mk('lost', `IO thread ${cur.io ?? '?'}${errno ? `, error ${errno}` : ''}${cur.lastIoError ? `: ${cur.lastIoError}` : ''}`, { errno: errno || undefined });
  // IO thread Yes: does anything prove it still receives?
  if (cur.receivedAgoMs !== undefined && since !== undefined && cur.at - cur.receivedAgoMs > since) {
    return mk('fresh', `received from it ${Math.round(cur.receivedAgoMs)} ms ago, after the manager lost it`, { freshnessMs: cur.receivedAgoMs });
  }
  if (prev !== undefined && prev.reachable && prev.replicatesFromMaster && prev.io === 'Yes' && prev.at < cur.at) {
    const gap = cur.at - prev.at;
    const moved = coordKey(prev.read) !== undefined && coordKey(cur.read) !== undefined && coordKey(prev.read) !== coordKey(cur.read);
    const beat = prev.heartbeats !== undefined && cur.heartbeats !== undefined && cur.heartbeats > prev.heartbeats;
    if (moved || beat) {
      return mk('fresh', `${moved ? `received events (read position ${coordKey(prev.read) ?? '?'} → ${coordKey(cur.read) ?? '?'})` : `received ${cur.heartbeats! - prev.heartbeats!} heartbeat(s)`} within the last ${Math.round(gap)} ms`, { freshnessMs: gap });
    }
    return mk('stale', `IO thread Yes, but nothing received for ${Math.round(gap)} ms${cur.heartbeatPeriod ? ` (heartbeat period ${cur.heartbeatPeriod} s)` : ''}: proves nothing yet`, { freshnessMs: gap });
  }
  return mk('stale', 'IO thread Yes, one sample only: proves nothing yet');
}

// ---------------------------------------------------------------------------------------------
// The second route

/** What one probe of the master's MySQL port, from another host, found. */
export type RouteResultKind =
  /** The server greeting: a live mysqld. */
  | 'greeting'
  /** An error packet instead of the greeting (1040, 1129, ...): alive. */
  | 'alive_error'
  /** Something else answered on the port: treated as alive (never fail over what answers). */
  | 'other_answer'
  /** Connection refused: nothing listens. */
  | 'refused'
  /** TCP accepted, no greeting before the deadline: a hung mysqld (or a full backlog). */
  | 'no_greeting'
  /** TCP accepted, closed without a byte. */
  | 'closed'
  /** No TCP connection before the deadline: the host is down or cut off. */
  | 'timeout'
  /** No route to the host. */
  | 'unreachable'
  /** The probe could not run (SSH to the probing host failed, no bash there, ...): no evidence. */
  | 'error';

export interface RouteReport {
  /** The host the probe ran on: a replica's name, or a secondary host. */
  via: string;
  kind: RouteResultKind;
  detail: string;
  says: 'alive' | 'dead' | 'nothing';
  errno?: number | undefined;
  elapsedMs?: number | undefined;
}

export function routeSays(kind: RouteResultKind): RouteReport['says'] {
  switch (kind) {
    case 'greeting':
    case 'alive_error':
    case 'other_answer':
      return 'alive';
    case 'refused':
    case 'no_greeting':
    case 'closed':
    case 'timeout':
    case 'unreachable':
      return 'dead';
    case 'error':
      return 'nothing';
  }
}

/**
 * Reads the first bytes a MySQL server sends on a new connection (a packet header of 4 bytes,
 * then the payload): protocol 10 = the greeting; 0xff = an error packet (errno, little endian).
 */
export function parseGreeting(bytes: readonly number[]): { kind: 'greeting'; version: string } | { kind: 'alive_error'; errno: number; message: string } | { kind: 'other_answer'; first: number } | undefined {
  if (bytes.length < 5) return undefined;
  const b = bytes[4]!;
  if (b === 0x0a) {
    let version = '';
    for (let i = 5; i < bytes.length && bytes[i] !== 0; i++) version += String.fromCharCode(bytes[i]!);
    return { kind: 'greeting', version };
  }
  if (b === 0xff && bytes.length >= 7) {
    const errno = bytes[5]! | (bytes[6]! << 8);
    let message = '';
    for (let i = 7; i < bytes.length; i++) {
      const c = bytes[i]!;
      if (c >= 0x20 && c < 0x7f) message += String.fromCharCode(c);
    }
    return { kind: 'alive_error', errno, message: message.replace(/^#[0-9A-Z]{5}/, '') };
  }
  return { kind: 'other_answer', first: b };
}

/** The marker the remote probe prints (on stderr) once its TCP connection is up. */
export const PROBE_CONNECTED_MARKER = 'mhats-probe-connected';

/**
 * The remote probe: a TCP connection to HOST:PORT with bash's /dev/tcp, then the first 32 bytes the
 * server sends, each printed in hex as soon as it is read (bash builtins only: one process besides
 * timeout, so a loaded host answers in time). The whole thing is killed at the deadline (timeout -s
 * KILL). Positional parameters, never interpolated: $0 host, $1 port.
 */
export function probeScript(): string {
  return [
    'export LC_ALL=C',
    'exec 3<>"/dev/tcp/$0/$1" || exit 7',
    `echo ${PROBE_CONNECTED_MARKER} >&2`,
    // read -d '' -n 1: one byte; a NUL byte gives "" with status 0, the end of the stream "" with status 1.
    `for i in {1..32}; do IFS= read -r -d '' -n 1 c <&3; s=$?; if [ $s -ne 0 ] && [ -z "$c" ]; then break; fi; printf ' %02x' "'$c"; done`,
    'echo',
  ].join('\n');
}

/** The probe's argv on the probing host (to be quoted for its shell). */
export function probeArgv(host: string, port: number, timeoutMs: number): string[] {
  const secs = Math.max(0.1, Math.round(timeoutMs / 100) / 10);
  // --norc: a bash started over SSH would otherwise read ~/.bashrc (Debian), which can take seconds.
  return ['timeout', '-s', 'KILL', String(secs), 'bash', '--norc', '-c', probeScript(), host, String(port)];
}

/** Interprets the probe's exit status and output. */
export function parseProbeOutput(via: string, r: { exitCode: number | null; stdout: string; stderr: string; elapsedMs?: number | undefined }): RouteReport {
  const mk = (kind: RouteResultKind, detail: string, errno?: number): RouteReport => ({ via, kind, detail, says: routeSays(kind), ...(errno !== undefined ? { errno } : {}), ...(r.elapsedMs !== undefined ? { elapsedMs: Math.round(r.elapsedMs) } : {}) });
  const bytes = r.stdout
    .split(/\s+/)
    .filter((t) => /^[0-9a-f]{2}$/i.test(t))
    .map((t) => parseInt(t, 16));
  const g = parseGreeting(bytes);
  if (g?.kind === 'greeting') return mk('greeting', `the server greets (${g.version || 'version ?'})`);
  if (g?.kind === 'alive_error') return mk('alive_error', `the server answers with error ${describeAliveErrno(g.errno)}${g.message ? `: ${g.message}` : ''}`, g.errno);
  if (g?.kind === 'other_answer') return mk('other_answer', `something answers on the port (first byte 0x${g.first.toString(16)}, not a MySQL greeting)`);
  const connected = r.stderr.includes(PROBE_CONNECTED_MARKER);
  const killed = r.exitCode === 137 || r.exitCode === 124 || r.exitCode === null;
  if (r.exitCode === 127 || /command not found|No such file/i.test(r.stderr)) return mk('error', `the probe cannot run there: ${lastLine(r.stderr) || `exit ${r.exitCode ?? '?'}`}`);
  if (connected) {
    if (killed) return mk('no_greeting', 'TCP connection accepted, but no greeting before the deadline (mysqld hung?)');
    if (bytes.length > 0) return mk('closed', `TCP connection accepted, then closed after ${bytes.length} byte(s)`);
    return mk('closed', 'TCP connection accepted, then closed without a byte');
  }
  if (/refused/i.test(r.stderr)) return mk('refused', 'connection refused');
  if (/no route to host|network is unreachable|host is unreachable/i.test(r.stderr)) return mk('unreachable', lastLine(r.stderr).replace(/^.*connect: /, '') || 'unreachable');
  if (killed || /timed out/i.test(r.stderr)) return mk('timeout', 'no TCP connection before the deadline');
  return mk('error', `unexpected probe result: exit ${r.exitCode ?? '?'}${r.stderr ? `: ${lastLine(r.stderr)}` : ''}`);
}

function lastLine(s: string): string {
  return s.trim().split('\n').at(-1)?.trim() ?? '';
}

// ---------------------------------------------------------------------------------------------
// The verdict

export type SecondaryCheckOutcome =
  | { kind: 'unset' }
  | { kind: 'dead' } // exit 0: the master is unreachable from every secondary route
  | { kind: 'alive'; exitCode: number; detail: string } // exit 2/3 or other: do not fail over
  | { kind: 'error'; detail: string };

/** On what a death verdict rests. */
export type DeathBasis =
  /** Refused, confirmed (witnesses lost the master, or the second route refused too), and refused again. */
  | 'refused'
  /** The manager failed twice and no route reaches a live server. */
  | 'unreachable'
  /** ping_failures failed checks and every witness lost its IO connection. */
  | 'replicas'
  /** N statement timeouts in a row on accepted connections (storage hang). */
  | 'stalled';

/** Everything a verdict was based on, for logs, /status and metrics. */
export interface DecisionEvidence {
  consecutiveFailures: number;
  consecutiveStalls: number;
  lastFailure?: { kind: ProbeFailureKind; class: FailureClass; message: string } | undefined;
  /** ms since the first failed check began. */
  failingForMs?: number | undefined;
  witnesses: WitnessReport[];
  /** undefined: no second route (none configured, or no probe could run). */
  routes?: RouteReport[] | undefined;
  secondary: SecondaryCheckOutcome;
}

export type Verdict =
  /** The master is dead: fail over. */
  | { dead: true; code: 'DeadMaster' | 'StorageHang'; basis: DeathBasis; reason: string; witnesses: string[]; evidence: DecisionEvidence }
  /** Do not fail over (yet). */
  | { dead: false; code: 'UnreachableMaster' | 'AliveError' | 'NoWitness' | 'Unconfirmed' | 'SecondaryCheckVeto'; reason: string; evidence: DecisionEvidence };

export interface DecideInput {
  master: string;
  detector: DetectorState;
  settings: DetectorSettings;
  witnesses: WitnessReport[];
  /** undefined when there is no second route. */
  routes?: RouteReport[] | undefined;
  secondary?: SecondaryCheckOutcome | undefined;
  /** Now (same clock as the detector state), for the evidence's ages. */
  now: number;
}

function list(xs: string[]): string {
  return xs.join('; ');
}

/** Is the death evidence enough, before secondary_check_script's word? (No alive evidence considered here.) */
function deathBasis(i: DecideInput, witnesses: WitnessReport[], routes: RouteReport[] | undefined): { basis: DeathBasis; reason: string; relied: string[] } | undefined {
  const d = i.detector;
  const needChecks = Math.min(2, i.settings.failuresToSuspect);
  const lost = witnesses.filter((w) => w.class === 'lost');
  const counted = witnesses.filter((w) => w.class === 'lost' || w.class === 'stale');
  const allLost = lost.length > 0 && lost.length === counted.length;
  const ran = (routes ?? []).filter((r) => r.says !== 'nothing');
  const refusedRoutes = ran.filter((r) => r.kind === 'refused');
  const routeText = ran.map((r) => `from ${r.via}: ${r.detail}`);
  if (d.consecutiveStalls >= i.settings.stallsToFail) {
    return { basis: 'stalled', reason: `${d.consecutiveStalls} health-check statements in a row timed out on connections ${i.master} accepted (storage or lock hang), even if its replicas are still connected`, relied: [] };
  }
  if (d.consecutiveFailures >= needChecks && d.lastFailure?.class === 'refused') {
    if (allLost) return { basis: 'refused', reason: `${i.master} refuses connections, and every witness lost its IO connection (${lost.map((w) => `${w.name}: ${w.detail}`).join('; ')})`, relied: lost.map((w) => w.name) };
    if (refusedRoutes.length > 0) return { basis: 'refused', reason: `${i.master} refuses connections, from the manager and from ${refusedRoutes.map((r) => `${r.via}'s host`).join(', ')}`, relied: refusedRoutes.map((r) => r.via) };
  }
  if (d.consecutiveFailures >= needChecks && ran.length > 0) {
    return { basis: 'unreachable', reason: `the manager's last ${d.consecutiveFailures} checks of ${i.master} failed (${d.lastFailure?.message || d.lastFailure?.kind || '?'}) and no route reaches a live server (${list(routeText)})`, relied: ran.map((r) => r.via) };
  }
  if (d.consecutiveFailures >= i.settings.failuresToSuspect && allLost) {
    return { basis: 'replicas', reason: `${i.master} failed ${d.consecutiveFailures} health checks and no replica receives from it (${lost.map((w) => `${w.name}: ${w.detail}`).join('; ')})`, relied: lost.map((w) => w.name) };
  }
  return undefined;
}

export function decide(i: DecideInput): Verdict {
  const d = i.detector;
  const secondary = i.secondary ?? { kind: 'unset' };
  const evidence: DecisionEvidence = {
    consecutiveFailures: d.consecutiveFailures,
    consecutiveStalls: d.consecutiveStalls,
    lastFailure: d.lastFailure ? { kind: d.lastFailure.kind, class: d.lastFailure.class, message: d.lastFailure.message } : undefined,
    failingForMs: d.firstFailureAt !== undefined ? Math.max(0, Math.round(i.now - d.firstFailureAt)) : undefined,
    witnesses: i.witnesses,
    routes: i.routes,
    secondary,
  };
  const m = i.master;
  const stalled = d.consecutiveStalls >= i.settings.stallsToFail;
  // Proof of life first (a storage hang is a failure even while the master answers).
  const aliveWitnesses = i.witnesses.filter((w) => w.says === 'alive');
  const aliveRoutes = (i.routes ?? []).filter((r) => r.says === 'alive');
  if (!stalled && (aliveWitnesses.length > 0 || aliveRoutes.length > 0)) {
    const parts = [...aliveWitnesses.map((w) => `${w.name}: ${w.detail}`), ...aliveRoutes.map((r) => `from ${r.via}'s host: ${r.detail}`)];
    const aliveError = aliveWitnesses.some((w) => w.class === 'alive_error') || aliveRoutes.some((r) => r.kind === 'alive_error');
    const onlyRoute = d.lastFailure?.class !== 'stall';
    return {
      dead: false,
      code: aliveError ? 'AliveError' : 'UnreachableMaster',
      reason: `the manager cannot reach ${m}${d.lastFailure ? ` (${d.lastFailure.message || d.lastFailure.kind})` : ''}, but it is alive (${list(parts)})${onlyRoute ? ": only the manager's route is broken" : ''}; not failing over`,
      evidence,
    };
  }
  const basis = deathBasis(i, i.witnesses, i.routes);
  if (basis === undefined) {
    const counted = i.witnesses.filter((w) => w.class === 'lost' || w.class === 'stale');
    if (d.consecutiveFailures >= i.settings.failuresToSuspect && counted.length === 0 && (i.routes === undefined || i.routes.every((r) => r.says === 'nothing'))) {
      const why = i.witnesses.map((w) => `${w.name}: ${w.detail}`);
      return { dead: false, code: 'NoWitness', reason: `no reachable replica of ${m} can confirm its death${why.length ? ` (${list(why)})` : ''}, and no second route answered; not failing over`, evidence };
    }
    const stale = i.witnesses.filter((w) => w.class === 'stale').map((w) => w.name);
    const waiting = [
      `${d.consecutiveFailures} failed check(s)${d.lastFailure ? ` (${d.lastFailure.class})` : ''}`,
      ...(stale.length ? [`${stale.join(', ')} still say${stale.length === 1 ? 's' : ''} IO Yes without fresh evidence`] : []),
      ...(i.routes === undefined ? ['no second route'] : i.routes.every((r) => r.says === 'nothing') ? ['no second-route probe could run'] : []),
    ];
    return { dead: false, code: 'Unconfirmed', reason: `${m} is not confirmed dead yet: ${waiting.join('; ')}`, evidence };
  }
  if (secondary.kind === 'alive') {
    return { dead: false, code: 'SecondaryCheckVeto', reason: `secondary_check_script says ${m} is reachable or the check host is down (exit ${secondary.exitCode}): ${secondary.detail}; not failing over`, evidence };
  }
  if (secondary.kind === 'error') return { dead: false, code: 'SecondaryCheckVeto', reason: `secondary_check_script failed: ${secondary.detail}; not failing over`, evidence };
  return {
    dead: true,
    code: basis.basis === 'stalled' ? 'StorageHang' : 'DeadMaster',
    basis: basis.basis,
    reason: `${basis.reason}${secondary.kind === 'dead' ? '; secondary_check_script confirms' : ''}`,
    witnesses: basis.relied,
    evidence,
  };
}

/** Would decide() declare death if secondary_check_script agreed? (Run the script only then, as MHA does.) */
export function deathPending(i: Omit<DecideInput, 'secondary'>): boolean {
  const v = decide({ ...i, secondary: { kind: 'dead' } });
  return v.dead;
}
