/**
 * Remote command execution over SSH (ssh2), with host-key verification on by
 * default and hard deadlines everywhere.
 *
 * ssh2 pitfalls handled here (docs: ecosystem.md "ssh2 pitfalls"):
 * - readyTimeout covers only the handshake: we also run our own connect timer
 *   and a whole-exec deadline; on expiry stream.close() then client.destroy()
 *   (never end(), which can wait on a dead peer);
 * - keepalive is off by default: we turn it on (5 s x 3);
 * - 'error' can fire twice: one settle-once guard per call;
 * - hostVerifier accepts everything when unset: we always set it and check
 *   known_hosts (hashed entries too) and pinned SHA256 fingerprints;
 * - ssh2 reads no OpenSSH config and uses no agent unless told: we pass the
 *   identity file and SSH_AUTH_SOCK explicitly.
 */
import { homedir } from 'node:os';
import { performance } from 'node:perf_hooks';
import ssh2 from 'ssh2';
import type { AgentAuthMethod, ClientChannel, ConnectConfig, PublicKeyAuthMethod, ServerHostKeyAlgorithm } from 'ssh2';
import {
  fingerprintSha256,
  keyTypeOfBlob,
  knownKeyTypes,
  matchHostKey,
  entryMatchesHost,
  parseKnownHosts,
  pinnedFingerprintFor,
  type KnownHostEntry,
} from './known-hosts.js';
import { FileCache } from '../file-cache.js';

const { Client, utils } = ssh2;

/** known_hosts files, parsed once per version (file-cache.ts): a long file costs ms per SSH opening. */
const knownHostsFiles = new FileCache((content, file) => {
  const parsed = parseKnownHosts(content.toString('utf8'));
  return { entries: parsed.entries.map((e) => ({ ...e, file })), notes: parsed.notes.filter((n) => !n.includes('@cert-authority')).map((n) => `${file} ${n}`) };
});

/** Private key files, read and checked once per version (a rotated key is read again); why ssh2 cannot use one, else undefined. */
const keyFiles = new FileCache((key) => {
  const parsed = utils.parseKey(key);
  const problem = !(parsed instanceof Error) ? undefined : /encrypted/i.test(parsed.message) ? 'it is encrypted (mhats cannot prompt for a passphrase; use an unencrypted key or load it into ssh-agent)' : 'it is not a private key ssh2 can parse';
  return { key, problem };
});

/** Forgets the cached key and known_hosts files (tests). */
export function clearSshFileCache(): void {
  knownHostsFiles.clear();
  keyFiles.clear();
}

export interface SshTarget {
  /** Server name, for messages. */
  label: string;
  host: string;
  port: number;
  user: string;
}

export interface SshClientOptions {
  identityFile?: string | undefined;
  /** More private keys, offered in order after identityFile (OpenSSH -i / IdentityFile, several). */
  identityFiles?: string[] | undefined;
  /** Only the configured keys: no agent, no default ~/.ssh/id_* keys (OpenSSH IdentitiesOnly). */
  identitiesOnly?: boolean | undefined;
  knownHostsFile?: string | undefined;
  /** Every known_hosts file to search (replaces knownHostsFile and the defaults); missing ones are skipped. */
  knownHostsFiles?: string[] | undefined;
  /** OpenSSH StrictHostKeyChecking=accept-new: an unknown host key is accepted (never written), a changed one refused. */
  acceptNewHostKeys?: boolean | undefined;
  /** The name looked up in known_hosts instead of the host (OpenSSH HostKeyAlias). */
  hostKeyAlias?: string | undefined;
  /** OpenSSH AddressFamily / -4 / -6. */
  addressFamily?: 'inet' | 'inet6' | undefined;
  /** OpenSSH Compression / -C. */
  compression?: boolean | undefined;
  /** OpenSSH ConnectionAttempts: a refused or unreachable connection is retried after 1 s, within the deadline. */
  connectionAttempts?: number | undefined;
  /** Pinned host key fingerprints ("SHA256:..."), keyed by ssh host or host:port. */
  fingerprints: Record<string, string>;
  insecureSkipHostKeyCheck: boolean;
  connectTimeoutMs: number;
  keepaliveIntervalMs?: number | undefined;
  keepaliveCountMax?: number | undefined;
  /** Home directory for `~` and the default key/known_hosts files (injected; default os.homedir()). */
  homeDir?: string | undefined;
  /** SSH agent socket; default process.env.SSH_AUTH_SOCK. Pass null to disable the agent. */
  agentSocket?: string | null | undefined;
  /** System-wide known_hosts used when nothing is configured (default /etc/ssh/ssh_known_hosts). */
  systemKnownHostsFile?: string | undefined;
}

export interface SshExecOptions extends SshClientOptions {
  /** Deadline of the whole call (connect + command), ms. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Written to the command's stdin, then EOF. Without it the command gets EOF at once. */
  stdin?: string | undefined;
  /** Wraps the command as `timeout --kill-after=2 N ...` so the remote side dies too. */
  remoteTimeoutSec?: number | undefined;
  /** Fail (and close the connection) when stdout grows past this many bytes. Default 16 MiB. */
  maxOutputBytes?: number | undefined;
}

export type SshErrorKind = 'host_key_unknown' | 'host_key_mismatch' | 'auth' | 'timeout' | 'refused' | 'unreachable' | 'protocol' | 'other';

/** What a finished command gave: exit code or signal, stdout (as text and bytes), stderr. */
export interface ChannelOutput {
  code: number | null;
  signal: string | null;
  stdout: string;
  stdoutBytes: Buffer;
  stderr: string;
}

/**
 * Collects a command's output on its channel: stdout up to maxOutputBytes (16 MiB by default;
 * beyond it tooMuch is called and nothing more is kept), stderr, the exit code or signal; done at
 * the channel's close. Sends stdin, or closes the command's input.
 */
export function collectChannel(ch: ClientChannel, o: { maxOutputBytes?: number | undefined; stdin?: string | Buffer | undefined }, on: { tooMuch: (max: number) => void; done: (r: ChannelOutput) => void }): void {
  const out: Buffer[] = [];
  const errOut: Buffer[] = [];
  let code: number | null = null;
  let sig: string | null = null;
  const maxOut = o.maxOutputBytes ?? 16 * 1024 * 1024;
  let outBytes = 0;
  ch.on('data', (d: Buffer) => {
    outBytes += d.length;
    if (outBytes > maxOut) {
      on.tooMuch(maxOut);
      return;
    }
    out.push(d);
  });
  ch.stderr.on('data', (d: Buffer) => errOut.push(d));
  ch.on('exit', (c: number | null, s?: string) => {
    if (typeof c === 'number') code = c;
    if (typeof s === 'string') sig = s;
  });
  ch.on('close', () => {
    const bytes = Buffer.concat(out);
    on.done({ code, signal: sig, stdout: bytes.toString('utf8'), stdoutBytes: bytes, stderr: Buffer.concat(errOut).toString('utf8') });
  });
  if (o.stdin !== undefined) ch.end(o.stdin);
  else ch.end();
}

export function describeTarget(t: SshTarget): string {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  return `${t.label} (${t.user}@${host}:${t.port})`;
}

export class SshError extends Error {
  readonly kind: SshErrorKind;
  readonly target: SshTarget;
  /** The problem without the target prefix. */
  readonly detail: string;
  /** What to do about it (also part of message). */
  readonly hint: string | undefined;
  /** The presented host key, when the handshake got that far. */
  readonly hostKey: HostKeyInfo | undefined;
  constructor(kind: SshErrorKind, target: SshTarget, detail: string, opts: { hint?: string | undefined; hostKey?: HostKeyInfo | undefined; cause?: unknown } = {}) {
    super(`${describeTarget(target)}: ${detail}${opts.hint ? `; ${opts.hint}` : ''}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SshError';
    this.kind = kind;
    this.target = target;
    this.detail = detail;
    this.hint = opts.hint;
    this.hostKey = opts.hostKey;
  }
}

export interface HostKeyInfo {
  type: string;
  fingerprint: string;
  /** How it was accepted (absent when it was rejected). */
  verifiedBy?: 'known_hosts' | 'pinned' | 'known_hosts+pinned' | 'insecure-skip' | 'accept-new' | undefined;
}

export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  /** stdout as bytes, for binary output (binlog files). */
  stdoutBytes: Buffer;
  stderr: string;
  elapsedMs: number;
  /** Time to an authenticated session, ms. */
  connectMs: number;
  hostKey: HostKeyInfo;
}

// ---------------------------------------------------------------- quoting

const SAFE_ARG = /^[A-Za-z0-9_\-.,:/@%+=]+$/;

/** Quotes one argument for a POSIX shell (single quotes; `'` becomes `'\''`). */
export function shellQuoteArg(arg: string): string {
  if (SAFE_ARG.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Joins argv into one POSIX shell command line, every argument quoted as needed. */
export function shellQuote(argv: readonly string[]): string {
  return argv.map(shellQuoteArg).join(' ');
}

export function remoteCommand(argv: readonly string[], remoteTimeoutSec?: number): string {
  if (argv.length === 0) throw new Error('sshExec: empty argv');
  if (remoteTimeoutSec === undefined) return shellQuote(argv);
  const n = Math.max(1, Math.ceil(remoteTimeoutSec));
  return shellQuote(['timeout', '--kill-after=2', String(n), ...argv]);
}

// ---------------------------------------------------------------- files

function expandHome(p: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return `${home}/${p.slice(2)}`;
  return p;
}

function errCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e) {
    const c = e.code;
    return typeof c === 'string' ? c : undefined;
  }
  return undefined;
}

export interface HostTrust {
  entries: (KnownHostEntry & { file: string })[];
  files: string[];
  notes: string[];
  pin: { key: string; fingerprint: string } | undefined;
}

export async function loadHostTrust(target: SshTarget, opts: SshClientOptions): Promise<HostTrust> {
  const home = opts.homeDir ?? homedir();
  const pin = pinnedFingerprintFor(opts.fingerprints, target.host, target.port);
  let files: string[];
  let explicit = false;
  if (opts.knownHostsFiles !== undefined) {
    files = opts.knownHostsFiles.map((f) => expandHome(f, home));
    explicit = true;
  } else if (opts.knownHostsFile !== undefined && opts.knownHostsFile !== '') {
    files = [expandHome(opts.knownHostsFile, home)];
    explicit = true;
  } else if (pin) files = [];
  else files = [`${home}/.ssh/known_hosts`, opts.systemKnownHostsFile ?? '/etc/ssh/ssh_known_hosts'];
  const entries: HostTrust['entries'] = [];
  const notes: string[] = [];
  const read: string[] = [];
  for (const f of files) {
    let parsed: { entries: HostTrust['entries']; notes: string[] };
    try {
      parsed = await knownHostsFiles.get(f);
    } catch (e) {
      const code = errCode(e);
      if (code === 'ENOENT') {
        if (explicit && f !== '/etc/ssh/ssh_known_hosts') notes.push(`${f} does not exist`);
      } else notes.push(`${f} could not be read (${code ?? 'error'})`);
      continue;
    }
    read.push(f);
    for (const e of parsed.entries) entries.push(e);
    notes.push(...parsed.notes);
  }
  return { entries, files, notes, pin };
}

function hostKeyFileSuffix(type: string): string {
  if (type.startsWith('ecdsa-')) return 'ecdsa';
  if (type === 'ssh-ed25519') return 'ed25519';
  if (type === 'ssh-rsa') return 'rsa';
  return '*';
}

export type Verification = { ok: true; key: HostKeyInfo } | { ok: false; kind: 'host_key_unknown' | 'host_key_mismatch'; detail: string; hint: string; key: HostKeyInfo };

/** Decides on a presented host key. Exported for tests. */
export function verifyHostKey(t: SshTarget, blob: Buffer, trust: HostTrust, insecure: boolean, policy: { acceptNew?: boolean | undefined; alias?: string | undefined } = {}): Verification {
  const type = keyTypeOfBlob(blob) ?? 'unknown-type';
  const fingerprint = fingerprintSha256(blob);
  const key: HostKeyInfo = { type, fingerprint };
  if (insecure) return { ok: true, key: { ...key, verifiedBy: 'insecure-skip' } };
  // HostKeyAlias: known_hosts is searched for the alias (OpenSSH appends no port to it).
  const target: SshTarget = policy.alias ? { ...t, host: policy.alias, port: 22 } : t;
  const b64 = blob.toString('base64');
  const verdict = matchHostKey(trust.entries, target.host, target.port, type, b64);
  const pinKey = `${target.host}:${target.port}`;
  const scan = `ssh-keyscan -p ${target.port} ${target.host}`;
  const fileList = trust.files.length > 0 ? trust.files.join(', ') : '(no known_hosts file)';
  const conflicting = () =>
    trust.entries
      .filter((e) => e.marker === undefined && e.keyType === type && entryMatchesHost(e, target.host, target.port))
      .map((e) => `${e.file}:${e.line}`)
      .join(', ');
  const mitm = 'POSSIBLE MAN-IN-THE-MIDDLE ATTACK, or the host was reinstalled';
  if (verdict === 'revoked') {
    const where = trust.entries
      .filter((e) => e.marker === 'revoked' && entryMatchesHost(e, target.host, target.port))
      .map((e) => `${e.file}:${e.line}`)
      .join(', ');
    return { ok: false, kind: 'host_key_mismatch', key, detail: `host key ${type} ${fingerprint} is REVOKED (@revoked in ${where})`, hint: 'the host must get a new host key; do not connect to it with the revoked one' };
  }
  if (trust.pin) {
    if (trust.pin.fingerprint !== fingerprint)
      return {
        ok: false,
        kind: 'host_key_mismatch',
        key,
        detail: `HOST KEY MISMATCH (${mitm}): the server offered ${type} ${fingerprint}, but ssh.host_key_fingerprints["${trust.pin.key}"] pins ${trust.pin.fingerprint}`,
        hint: `the pin must be the fingerprint of the host's ${type} key: compare with ssh-keygen -lf /etc/ssh/ssh_host_${hostKeyFileSuffix(type)}_key.pub on the host itself; only if the host key really changed, update the pin`,
      };
    if (verdict === 'mismatch')
      return {
        ok: false,
        kind: 'host_key_mismatch',
        key,
        detail: `HOST KEY MISMATCH: the key matches the pinned fingerprint ${fingerprint}, but ${conflicting()} records a different ${type} key for this host`,
        hint: `remove the stale line (ssh-keygen -R "${target.port === 22 ? target.host : `[${target.host}]:${target.port}`}" -f FILE) after checking which one is right`,
      };
    return { ok: true, key: { ...key, verifiedBy: verdict === 'match' ? 'known_hosts+pinned' : 'pinned' } };
  }
  if (verdict === 'match') return { ok: true, key: { ...key, verifiedBy: 'known_hosts' } };
  if (verdict === 'mismatch')
    return {
      ok: false,
      kind: 'host_key_mismatch',
      key,
      detail: `HOST KEY MISMATCH (${mitm}): the server offered ${type} ${fingerprint}, which differs from the ${type} key recorded at ${conflicting()}`,
      hint: `verify the key on the host itself (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub); only if the host key really changed, remove the old line and add the new one`,
    };
  if (policy.acceptNew) return { ok: true, key: { ...key, verifiedBy: 'accept-new' } };
  const others = knownKeyTypes(trust.entries, target.host, target.port);
  const notes = [...trust.notes, ...(others.length > 0 ? [`known_hosts has only ${others.join(', ')} for this host`] : [])];
  return {
    ok: false,
    kind: 'host_key_unknown',
    key,
    detail: `host key not known: the server offered ${type} ${fingerprint}, found in none of ${fileList}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`,
    hint: `check that fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_${hostKeyFileSuffix(type)}_key.pub), then add it with \`${scan} >> ${trust.files[0] ?? '~/.ssh/known_hosts'}\` (and set ssh.known_hosts), or pin it: ssh.host_key_fingerprints: {"${pinKey}": "${fingerprint}"}`,
  };
}

export interface Credentials {
  privateKey?: Buffer | undefined;
  keyFile?: string | undefined;
  /** Further keys, offered after privateKey (several IdentityFile). */
  more?: { file: string; key: Buffer }[] | undefined;
  agent?: string | undefined;
}

export async function loadCredentials(target: SshTarget, opts: SshClientOptions): Promise<Credentials> {
  const home = opts.homeDir ?? homedir();
  const agent = opts.agentSocket === null ? undefined : (opts.agentSocket ?? process.env.SSH_AUTH_SOCK) || undefined;
  const check = (file: string, k: { key: Buffer; problem: string | undefined }): Buffer => {
    if (k.problem !== undefined) throw new SshError('auth', target, `cannot use private key ${file}: ${k.problem}`);
    return k.key;
  };
  const configured = [...(opts.identityFile ? [opts.identityFile] : []), ...(opts.identityFiles ?? [])].filter((f) => f !== '');
  if (configured.length > 0) {
    const keys: { file: string; key: Buffer }[] = [];
    for (const f of [...new Set(configured)]) {
      const file = expandHome(f, home);
      let buf: { key: Buffer; problem: string | undefined };
      try {
        buf = await keyFiles.get(file);
      } catch (e) {
        // OpenSSH skips a missing IdentityFile from a config; one that is the only key is an error.
        if (configured.length > 1 && errCode(e) === 'ENOENT') continue;
        throw new SshError('auth', target, `cannot read private key ${file} (${errCode(e) ?? 'error'})`, { hint: 'check ssh.identity_file / ssh_options -i and its permissions' });
      }
      keys.push({ file, key: check(file, buf) });
    }
    const [k0, ...more] = keys;
    const ag = opts.identitiesOnly ? undefined : agent;
    if (!k0) {
      if (ag) return { agent: ag };
      throw new SshError('auth', target, `no private key: none of ${configured.join(', ')} exists`, { hint: 'check ssh_options -i / IdentityFile' });
    }
    return { privateKey: k0.key, keyFile: keys.map((k) => k.file).join(', '), more, agent: ag };
  }
  if (opts.identitiesOnly) {
    if (agent) return { agent };
    throw new SshError('auth', target, 'no private key: IdentitiesOnly is set and no IdentityFile is configured', { hint: 'add -i KEY to ssh_options, or IdentityFile to the ssh_config' });
  }
  for (const name of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
    const file = `${home}/.ssh/${name}`;
    let buf: { key: Buffer; problem: string | undefined };
    try {
      buf = await keyFiles.get(file);
    } catch (e) {
      if (errCode(e) === 'ENOENT') continue;
      throw new SshError('auth', target, `cannot read private key ${file} (${errCode(e) ?? 'error'})`);
    }
    return { privateKey: check(file, buf), keyFile: file, agent };
  }
  if (agent) return { agent };
  throw new SshError('auth', target, `no private key: none of ${home}/.ssh/id_ed25519, id_ecdsa, id_rsa exists and SSH_AUTH_SOCK is not set`, {
    hint: 'set ssh.identity_file to the key the manager logs in with',
  });
}

// ---------------------------------------------------------------- errors

export type Ssh2Error = Error & { level?: string; code?: string };

export function classify(target: SshTarget, err: Ssh2Error, creds: Credentials, connectTimeoutMs: number, ready: boolean): SshError {
  const code = err.code;
  const level = err.level;
  const secs = (connectTimeoutMs / 1000).toFixed(connectTimeoutMs % 1000 === 0 ? 0 : 1);
  if (level === 'client-authentication' || level === 'agent') {
    const how = [creds.keyFile ? `key ${creds.keyFile}` : undefined, creds.agent ? 'ssh-agent' : undefined].filter(Boolean).join(' and ');
    return new SshError('auth', target, `authentication failed for ${target.user} with ${how || 'no credentials'}`, {
      hint: `add the manager's public key to ~${target.user}/.ssh/authorized_keys on ${target.host}, or fix ssh.identity_file / ssh_user`,
      cause: err,
    });
  }
  if (level === 'client-timeout') {
    if (/keepalive/i.test(err.message))
      return new SshError('timeout', target, 'the host stopped answering (SSH keepalive timeout)', { hint: 'check the host and network', cause: err });
    return new SshError('timeout', target, `no SSH handshake within ${secs}s (host down, firewalled, or sshd not answering)`, {
      hint: 'check the host and that sshd answers on that port; raise ssh.connect_timeout if the link is slow',
      cause: err,
    });
  }
  if (code === 'ECONNREFUSED')
    return new SshError('refused', target, `connection refused on port ${target.port}`, { hint: `sshd is not running or listens elsewhere; check ssh_port and sshd on ${target.host}`, cause: err });
  if (code === 'ETIMEDOUT')
    return new SshError('timeout', target, 'TCP connect timed out', { hint: 'check the host and the network path (firewall?)', cause: err });
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EADDRNOTAVAIL' || level === 'client-dns')
    return new SshError('unreachable', target, `host unreachable (${code ?? err.message})`, { hint: 'check ssh_host (name resolution, routing)', cause: err });
  if (code === 'ECONNRESET' || code === 'EPIPE' || level === 'protocol' || level === 'handshake')
    return new SshError('protocol', target, `SSH ${ready ? 'connection' : 'handshake'} failed: ${err.message}`, {
      hint: ready ? 'the connection broke; retry, and check sshd logs on the host' : 'is that port really sshd? check sshd logs (MaxStartups, AllowUsers, algorithms)',
      cause: err,
    });
  return new SshError('other', target, `SSH error: ${err.message}`, { cause: err });
}

// ---------------------------------------------------------------- exec

const DEFAULT_HOST_KEY_ALGOS: ServerHostKeyAlgorithm[] = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

/** Host key algorithms with the ones known_hosts records for this host first (so we ask for the key we can check). */
export function hostKeyAlgorithms(known: string[]): ServerHostKeyAlgorithm[] {
  const first: ServerHostKeyAlgorithm[] = [];
  for (const t of known) {
    const algos = t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t];
    for (const a of DEFAULT_HOST_KEY_ALGOS) if (algos.includes(a) && !first.includes(a)) first.push(a);
  }
  return [...first, ...DEFAULT_HOST_KEY_ALGOS.filter((a) => !first.includes(a))];
}

/**
 * The ssh2 connect settings for target (shared by sshExec and the persistent sessions): host key
 * verification against trust (known_hosts, pins, accept-new, HostKeyAlias; every verification is
 * reported to onVerify), keepalive, credentials (several keys offered in turn, then the agent),
 * address family and compression.
 */
export function connectConfig(target: SshTarget, opts: SshClientOptions, trust: HostTrust | undefined, creds: Credentials, connectTimeoutMs: number, onVerify: (v: Verification) => void): ConnectConfig {
  const known = trust ? knownKeyTypes(trust.entries, opts.hostKeyAlias ?? target.host, opts.hostKeyAlias ? 22 : target.port) : [];
  const cfg: ConnectConfig = {
    host: target.host,
    port: target.port,
    username: target.user,
    readyTimeout: connectTimeoutMs,
    keepaliveInterval: opts.keepaliveIntervalMs ?? 5000,
    keepaliveCountMax: opts.keepaliveCountMax ?? 3,
    algorithms: { serverHostKey: hostKeyAlgorithms(known) },
    hostVerifier: (blob: Buffer): boolean => {
      const v = trust ? verifyHostKey(target, blob, trust, false, { acceptNew: opts.acceptNewHostKeys, alias: opts.hostKeyAlias }) : verifyHostKey(target, blob, { entries: [], files: [], notes: [], pin: undefined }, true);
      onVerify(v);
      return v.ok;
    },
    ...(creds.privateKey ? { privateKey: creds.privateKey } : {}),
    ...(creds.agent ? { agent: creds.agent } : {}),
    ...(opts.addressFamily === 'inet' ? { forceIPv4: true } : opts.addressFamily === 'inet6' ? { forceIPv6: true } : {}),
    ...(opts.compression ? { algorithms: { serverHostKey: hostKeyAlgorithms(known), compress: ['zlib@openssh.com', 'zlib', 'none'] } } : {}),
  };
  if (creds.more && creds.more.length > 0 && creds.privateKey) {
    // Several keys: offer each in turn (then the agent), as OpenSSH does.
    const methods: (PublicKeyAuthMethod | AgentAuthMethod)[] = [
      { type: 'publickey', username: target.user, key: creds.privateKey },
      ...creds.more.map((k): PublicKeyAuthMethod => ({ type: 'publickey', username: target.user, key: k.key })),
      ...(creds.agent ? [{ type: 'agent', username: target.user, agent: creds.agent } satisfies AgentAuthMethod] : []),
    ];
    cfg.authHandler = methods;
  }
  return cfg;
}

/**
 * Runs argv on the target (quoted for its POSIX shell) and collects its
 * output. Rejects with SshError (or the signal's reason when aborted); a
 * non-zero exit status is a result, not an error.
 */
export async function sshExec(target: SshTarget, argv: string[], opts: SshExecOptions): Promise<ExecResult> {
  const attempts = Math.max(1, opts.connectionAttempts ?? 1);
  const t0 = performance.now();
  for (let attempt = 1; ; attempt++) {
    const left = opts.timeoutMs - (performance.now() - t0);
    try {
      return await sshExecOnce(target, argv, { ...opts, timeoutMs: Math.max(1, Math.round(left)) });
    } catch (err) {
      // OpenSSH ConnectionAttempts: retry a connection that failed at once, a second apart, within the deadline.
      const quick = err instanceof SshError && (err.kind === 'refused' || err.kind === 'unreachable');
      if (!quick || attempt >= attempts || opts.signal?.aborted || opts.timeoutMs - (performance.now() - t0) < 1500) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

async function sshExecOnce(target: SshTarget, argv: string[], opts: SshExecOptions): Promise<ExecResult> {
  const t0 = performance.now();
  const command = remoteCommand(argv, opts.remoteTimeoutSec);
  opts.signal?.throwIfAborted();
  const trust = opts.insecureSkipHostKeyCheck ? undefined : await loadHostTrust(target, opts);
  const creds = await loadCredentials(target, opts);
  opts.signal?.throwIfAborted();
  const remainingMs = opts.timeoutMs - (performance.now() - t0);
  if (remainingMs <= 0) throw new SshError('timeout', target, `deadline of ${opts.timeoutMs} ms passed before connecting`);
  const connectTimeoutMs = Math.max(1, Math.min(opts.connectTimeoutMs, remainingMs));

  return new Promise<ExecResult>((resolve, reject) => {
    const client = new Client();
    let settled = false;
    let ready = false;
    let connectMs = 0;
    let stream: ClientChannel | undefined;
    let hostKey: HostKeyInfo | undefined;
    let rejection: Verification | undefined;
    const timers: NodeJS.Timeout[] = [];

    const cleanupListeners = () => {
      for (const t of timers) clearTimeout(t);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    /** Hard stop: close the channel, then destroy the socket. Never end(). */
    const kill = () => {
      try {
        stream?.close();
      } catch {
        /* already gone */
      }
      client.destroy();
    };
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      cleanupListeners();
      kill();
      reject(err);
    };
    const succeed = (r: ExecResult) => {
      if (settled) return;
      settled = true;
      cleanupListeners();
      client.end();
      // A peer that never answers our disconnect must not keep the socket alive.
      setTimeout(() => client.destroy(), 2000).unref();
      resolve(r);
    };
    function onAbort() {
      const reason: unknown = opts.signal?.reason;
      fail(reason instanceof Error ? reason : new Error(`aborted: ${String(reason)}`));
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    timers.push(
      setTimeout(() => {
        if (!ready)
          fail(
            new SshError('timeout', target, `no SSH session within ${connectTimeoutMs} ms (host down, firewalled, or sshd not answering)`, {
              hint: 'check the host and that sshd answers on that port; raise ssh.connect_timeout if the link is slow',
              hostKey,
            }),
          );
      }, connectTimeoutMs),
      setTimeout(() => {
        fail(
          new SshError('timeout', target, ready ? `command did not finish within ${opts.timeoutMs} ms (killed the session): ${command}` : `no SSH session within the ${opts.timeoutMs} ms deadline`, {
            hostKey,
          }),
        );
      }, remainingMs),
    );

    client.on('error', (err: Ssh2Error) => {
      if (settled) return;
      if (rejection && !rejection.ok) {
        fail(new SshError(rejection.kind, target, rejection.detail, { hint: rejection.hint, hostKey: rejection.key, cause: err }));
        return;
      }
      fail(classify(target, err, creds, connectTimeoutMs, ready));
    });
    client.on('close', () => {
      if (settled) return;
      if (rejection && !rejection.ok) {
        fail(new SshError(rejection.kind, target, rejection.detail, { hint: rejection.hint, hostKey: rejection.key }));
        return;
      }
      fail(new SshError('protocol', target, ready ? 'connection closed before the command finished' : 'connection closed during the SSH handshake', { hostKey }));
    });
    client.on('ready', () => {
      if (settled) return;
      ready = true;
      connectMs = performance.now() - t0;
      const key = hostKey ?? { type: 'unknown', fingerprint: 'unknown' };
      client.exec(command, (err, ch) => {
        if (settled) {
          if (!err) ch.close();
          return;
        }
        if (err) {
          fail(new SshError('protocol', target, `could not start the command: ${err.message}`, { hostKey: key, cause: err }));
          return;
        }
        stream = ch;
        collectChannel(ch, opts, {
          tooMuch: (max) => fail(new SshError('protocol', target, `the command printed more than ${max} bytes: stopped`, { hostKey: key })),
          done: (r) => succeed({ ...r, elapsedMs: performance.now() - t0, connectMs, hostKey: key }),
        });
      });
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
