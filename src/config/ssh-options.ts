/**
 * MHA's `ssh_options` (e.g. `-F /etc/masterha/ssh_config`, or
 * `-i /root/.ssh/mha -o UserKnownHostsFile=/etc/masterha/known_hosts`) made to
 * mean the same to mhats' own SSH client (ssh2) as to OpenSSH.
 *
 * - The value is split as MHA's shell would split it (MHA removes every quote
 *   first, then appends it to `ssh ...` command strings). The words are kept
 *   as they are for OpenSSH-based hooks (rsync, the hosts and vip hooks).
 * - `-i FILE`, `-p PORT`, `-l USER`, `-F FILE` and `-o Key=Value` are read;
 *   the ssh_config file named by -F is parsed with the `ssh-config` package
 *   and its Host (and simple Match) blocks are matched per server.
 * - Every option and every directive that applies to a server is either
 *   honoured, or has no effect on a one-shot command (logging, connection
 *   sharing, what OpenSSH writes), or is a config error naming file:line. None
 *   is dropped silently.
 *
 * Precedence, as OpenSSH under MHA: the first value obtained wins, and the
 * command line (ssh_options) comes before the file. MHA puts its own
 * `-p ssh_port` and `user@host` after ssh_options: so ssh_options' -p/-l win
 * over ssh_port/ssh_user, which win over the file's Port/User. mhats' own
 * keys (ssh_known_hosts, ssh_identity_file) rank like ssh_port.
 * ssh_connection_timeout ranks first (MHA puts its ConnectTimeout before).
 *
 * Pure apart from the injected file reader.
 */
import SSHConfig, { glob, type Line } from 'ssh-config';
import type { Loc, Problem } from './problems.js';
import { formatLoc } from './problems.js';

export type StrictHostKeyChecking = 'yes' | 'accept-new' | 'no';

/** One setting and where it came from ("app1.cnf:4 (ssh_options)", "/etc/mha/ssh_config:12"). */
export interface Src<T> {
  value: T;
  where: string;
}

/** What one source (the command line, or the file for one host) says. First value wins. */
export interface SshParams {
  hostname?: Src<string> | undefined;
  port?: Src<number> | undefined;
  user?: Src<string> | undefined;
  identityFiles: Src<string>[];
  /** IdentityFile none: no default identities. */
  identityNone?: boolean | undefined;
  identitiesOnly?: Src<boolean> | undefined;
  userKnownHosts?: Src<string[]> | undefined;
  globalKnownHosts?: Src<string[]> | undefined;
  strict?: Src<StrictHostKeyChecking> | undefined;
  connectTimeout?: Src<number> | undefined;
  serverAliveInterval?: Src<number> | undefined;
  serverAliveCountMax?: Src<number> | undefined;
  /** null: IdentityAgent none. */
  identityAgent?: Src<string | null> | undefined;
  addressFamily?: Src<'any' | 'inet' | 'inet6'> | undefined;
  compression?: Src<boolean> | undefined;
  hostKeyAlias?: Src<string> | undefined;
  connectionAttempts?: Src<number> | undefined;
}

export function emptyParams(): SshParams {
  return { identityFiles: [] };
}

/** ssh_options read: the words (verbatim for OpenSSH), the command-line settings, and the -F file. */
export interface ParsedSshOptions {
  words: string[];
  cli: SshParams;
  configFile?: string | undefined;
  problems: Problem[];
}

// ---------------------------------------------------------------- keywords

type Setter = (p: SshParams, args: string[], where: string) => string | undefined;

const YES = new Set(['yes', 'true']);
const NO = new Set(['no', 'false']);

function yesNo(v: string | undefined): boolean | undefined {
  const s = (v ?? '').toLowerCase();
  if (YES.has(s)) return true;
  if (NO.has(s)) return false;
  return undefined;
}

function intArg(v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  const n = Number(v);
  return n >= min && n <= max ? n : undefined;
}

const first = <K extends keyof SshParams>(p: SshParams, k: K, v: SshParams[K]): void => {
  if (p[k] === undefined) p[k] = v;
};

/** Directives that only change logging, connection sharing or what OpenSSH writes: no effect on mhats' one-shot commands. */
const NO_EFFECT: Record<string, string> = {
  loglevel: 'logging',
  batchmode: 'mhats never prompts',
  hashknownhosts: 'mhats never writes known_hosts',
  updatehostkeys: 'mhats never writes known_hosts',
  checkhostip: 'an extra OpenSSH check; mhats verifies the host key by name',
  controlmaster: 'connection sharing',
  controlpath: 'connection sharing',
  controlpersist: 'connection sharing',
  sendenv: 'the manager sends no environment variables',
  visualhostkey: 'display only',
  syslogfacility: 'logging',
  addkeystoagent: 'mhats never adds keys to an agent',
  gssapiauthentication: 'an extra authentication method tried before public keys; mhats logs in with keys',
  gssapidelegatecredentials: 'Kerberos credential delegation',
  kbdinteractiveauthentication: 'mhats never prompts',
  challengeresponseauthentication: 'mhats never prompts',
  passwordauthentication: 'mhats never uses a password for SSH',
  hostbasedauthentication: 'an extra authentication method; mhats logs in with keys',
  tcpkeepalive: 'TCP keepalives; mhats sends SSH keepalives itself',
  escapechar: 'interactive sessions only',
  forwardx11trusted: 'no X11 forwarding',
  exitonforwardfailure: 'no forwarding',
  clearallforwardings: 'no forwarding',
  verifyhostkeydns: 'an extra OpenSSH check',
};

function pathList(args: string[]): string[] {
  return args.flatMap((a) => a.split(/\s+/)).filter((a) => a !== '');
}

const SETTERS: Record<string, Setter> = {
  hostname: (p, a, where) => {
    if (!a[0]) return 'HostName needs a value';
    first(p, 'hostname', { value: a[0], where });
    return undefined;
  },
  port: (p, a, where) => {
    const n = intArg(a[0], 1, 65535);
    if (n === undefined) return `Port must be 1-65535 (got ${JSON.stringify(a[0] ?? '')})`;
    first(p, 'port', { value: n, where });
    return undefined;
  },
  user: (p, a, where) => {
    if (!a[0]) return 'User needs a value';
    first(p, 'user', { value: a[0], where });
    return undefined;
  },
  identityfile: (p, a, where) => {
    if (!a[0]) return 'IdentityFile needs a value';
    if (a[0].toLowerCase() === 'none') p.identityNone = true;
    else p.identityFiles.push({ value: a[0], where });
    return undefined;
  },
  identitiesonly: (p, a, where) => {
    const b = yesNo(a[0]);
    if (b === undefined) return `IdentitiesOnly must be yes or no (got ${JSON.stringify(a[0] ?? '')})`;
    first(p, 'identitiesOnly', { value: b, where });
    return undefined;
  },
  userknownhostsfile: (p, a, where) => {
    const files = pathList(a);
    if (files.length === 0) return 'UserKnownHostsFile needs a value';
    first(p, 'userKnownHosts', { value: files.length === 1 && files[0]?.toLowerCase() === 'none' ? [] : files, where });
    return undefined;
  },
  globalknownhostsfile: (p, a, where) => {
    const files = pathList(a);
    if (files.length === 0) return 'GlobalKnownHostsFile needs a value';
    first(p, 'globalKnownHosts', { value: files.length === 1 && files[0]?.toLowerCase() === 'none' ? [] : files, where });
    return undefined;
  },
  stricthostkeychecking: (p, a, where) => {
    const s = (a[0] ?? '').toLowerCase();
    // "ask" cannot prompt in a daemon: OpenSSH in BatchMode refuses unknown keys, as "yes" does.
    const v: StrictHostKeyChecking | undefined = s === 'yes' || s === 'true' || s === 'ask' ? 'yes' : s === 'accept-new' ? 'accept-new' : s === 'no' || s === 'off' || s === 'false' ? 'no' : undefined;
    if (v === undefined) return `StrictHostKeyChecking must be yes, accept-new, no or ask (got ${JSON.stringify(a[0] ?? '')})`;
    first(p, 'strict', { value: v, where });
    return undefined;
  },
  connecttimeout: (p, a, where) => {
    const n = intArg(a[0], 1, 3600);
    if (n === undefined) return `ConnectTimeout must be a number of seconds, 1-3600 (got ${JSON.stringify(a[0] ?? '')})`;
    first(p, 'connectTimeout', { value: n, where });
    return undefined;
  },
  serveraliveinterval: (p, a, where) => {
    const n = intArg(a[0], 0, 86400);
    if (n === undefined) return `ServerAliveInterval must be a number of seconds (got ${JSON.stringify(a[0] ?? '')})`;
    first(p, 'serverAliveInterval', { value: n, where });
    return undefined;
  },
  serveralivecountmax: (p, a, where) => {
    const n = intArg(a[0], 1, 1000);
    if (n === undefined) return `ServerAliveCountMax must be a number >= 1 (got ${JSON.stringify(a[0] ?? '')})`;
    first(p, 'serverAliveCountMax', { value: n, where });
    return undefined;
  },
  identityagent: (p, a, where) => {
    const v = a[0] ?? '';
    if (v === '') return 'IdentityAgent needs a value';
    first(p, 'identityAgent', { value: v.toLowerCase() === 'none' ? null : v, where });
    return undefined;
  },
  addressfamily: (p, a, where) => {
    const v = (a[0] ?? '').toLowerCase();
    if (v !== 'any' && v !== 'inet' && v !== 'inet6') return `AddressFamily must be any, inet or inet6 (got ${JSON.stringify(a[0] ?? '')})`;
    first(p, 'addressFamily', { value: v, where });
    return undefined;
  },
  compression: (p, a, where) => {
    const b = yesNo(a[0]);
    if (b === undefined) return `Compression must be yes or no (got ${JSON.stringify(a[0] ?? '')})`;
    first(p, 'compression', { value: b, where });
    return undefined;
  },
  hostkeyalias: (p, a, where) => {
    if (!a[0]) return 'HostKeyAlias needs a value';
    first(p, 'hostKeyAlias', { value: a[0], where });
    return undefined;
  },
  connectionattempts: (p, a, where) => {
    const n = intArg(a[0], 1, 100);
    if (n === undefined) return `ConnectionAttempts must be a number >= 1 (got ${JSON.stringify(a[0] ?? '')})`;
    first(p, 'connectionAttempts', { value: n, where });
    return undefined;
  },
  pubkeyauthentication: (_p, a) => (yesNo(a[0]) === false || (a[0] ?? '').toLowerCase() === 'no' ? 'PubkeyAuthentication no cannot be honoured: mhats logs in with keys (or an ssh-agent) only' : undefined),
  preferredauthentications: (_p, a) => (pathList(a).join(',').split(',').some((m) => m.trim() === 'publickey') ? undefined : `PreferredAuthentications ${a.join(' ')} cannot be honoured: mhats logs in with publickey only (add publickey to the list)`),
  forwardagent: (_p, a) => (yesNo(a[0]) === false ? undefined : 'ForwardAgent yes cannot be honoured by mhats\' SSH client; remove it (mhats runs no command that needs the agent on the host)'),
  forwardx11: (_p, a) => (yesNo(a[0]) === false ? undefined : 'ForwardX11 yes cannot be honoured; remove it'),
  requesttty: (_p, a) => (['no', 'auto'].includes((a[0] ?? '').toLowerCase()) ? undefined : `RequestTTY ${a[0] ?? ''} cannot be honoured: mhats runs commands without a terminal`),
  permitlocalcommand: (_p, a) => (yesNo(a[0]) === false ? undefined : 'PermitLocalCommand yes cannot be honoured; remove it'),
  canonicalizehostname: (_p, a) => (yesNo(a[0]) === false || (a[0] ?? '').toLowerCase() === 'no' ? undefined : 'CanonicalizeHostName cannot be honoured: write the full host name in hostname/ssh_host, or use HostName'),
};

/** Why a keyword that mhats does not implement is refused (the default: "not supported by mhats' SSH client"). */
const REFUSED_WHY: Record<string, string> = {
  proxyjump: 'mhats connects to the database hosts directly; run the manager where it can reach them (or open a tunnel outside mhats)',
  proxycommand: 'mhats connects to the database hosts directly; run the manager where it can reach them',
  include: 'mhats reads only the file named by -F; copy the settings into it',
  ciphers: 'mhats uses its SSH library\'s algorithms',
  macs: 'mhats uses its SSH library\'s algorithms',
  kexalgorithms: 'mhats uses its SSH library\'s algorithms',
  hostkeyalgorithms: 'mhats asks for the host key types known_hosts records for the host',
  pubkeyacceptedalgorithms: 'mhats uses its SSH library\'s algorithms',
  pubkeyacceptedkeytypes: 'mhats uses its SSH library\'s algorithms',
  localforward: 'no forwarding',
  remoteforward: 'no forwarding',
  dynamicforward: 'no forwarding',
  setenv: 'mhats sends no environment to the host',
  localcommand: 'mhats runs nothing locally after connecting',
  remotecommand: 'mhats chooses the remote command',
  bindaddress: 'not supported',
  bindinterface: 'not supported',
  certificatefile: 'SSH certificates are not supported by mhats\' SSH client',
  knownhostscommand: 'put the keys in a known_hosts file',
  match: 'only "Match all", "Match host", "Match originalhost", "Match user" and "Match localuser" are supported',
};

export function keywordNote(key: string): string | undefined {
  return NO_EFFECT[key.toLowerCase()];
}

/**
 * Applies one directive (Key + args) to params. Returns the problem, if it
 * cannot be honoured; undefined when honoured or without effect.
 */
export function applyDirective(p: SshParams, key: string, args: string[], where: string): string | undefined {
  const k = key.toLowerCase();
  const set = SETTERS[k];
  if (set) return set(p, args, where);
  if (Object.hasOwn(NO_EFFECT, k)) return undefined;
  const why = REFUSED_WHY[k];
  return `${key} cannot be honoured by mhats' SSH client${why ? ` (${why})` : ''}; remove it, or put it in a Host block that does not match the database hosts`;
}

// ---------------------------------------------------------------- the command line

/** Shell syntax that MHA's shell would interpret and mhats will not guess at. */
const SHELL_META = /[$`;&|<>()\\*?[\]{}!\n]/;

/** Flags without an argument that change nothing for mhats' one-shot, non-interactive commands. */
const FLAG_NO_EFFECT: Record<string, string> = {
  q: 'quiet',
  v: 'verbose',
  T: 'no terminal',
  n: 'stdin from /dev/null',
  x: 'no X11 forwarding',
  a: 'no agent forwarding',
  k: 'no GSSAPI delegation',
};
/** Flags without an argument mhats honours. */
const FLAG_HONOURED = new Set(['4', '6', 'C']);
/** Every OpenSSH flag that takes an argument. */
const FLAG_WITH_ARG = new Set(['B', 'b', 'c', 'D', 'E', 'e', 'F', 'I', 'i', 'J', 'L', 'l', 'm', 'O', 'o', 'p', 'Q', 'R', 'S', 'W', 'w']);
const FLAG_REFUSED: Record<string, string> = {
  A: 'agent forwarding',
  X: 'X11 forwarding',
  Y: 'X11 forwarding',
  t: 'a forced terminal',
  N: 'no remote command',
  f: 'going to the background',
  G: 'printing the configuration',
  V: 'printing the version',
  M: 'connection-sharing master mode',
  K: 'GSSAPI authentication',
  g: 'remote access to forwarded ports',
  s: 'subsystems',
  y: 'logging to syslog',
  P: 'tags',
};
const ARG_FLAG_REFUSED: Record<string, string> = {
  J: 'ProxyJump: mhats connects to the database hosts directly',
  L: 'port forwarding',
  R: 'port forwarding',
  D: 'port forwarding',
  W: 'stdio forwarding',
  w: 'tunnel devices',
  S: 'a connection-sharing socket',
  O: 'connection-sharing control',
  b: 'a bind address',
  B: 'a bind interface',
  c: 'cipher selection (mhats uses its SSH library\'s algorithms)',
  m: 'MAC selection (mhats uses its SSH library\'s algorithms)',
  e: 'an escape character (interactive only)',
  I: 'PKCS#11 tokens',
  Q: 'queries',
};

/**
 * Reads ssh_options. `value` is the configured text; MHA removes every quote
 * character, then its shell splits the rest on whitespace.
 */
export function parseSshOptions(value: string, loc: Loc): ParsedSshOptions {
  const where = `${formatLoc(loc)} (ssh_options)`;
  const problems: Problem[] = [];
  const bad = (message: string): void => {
    problems.push({ ...loc, message: `ssh_options: ${message}` });
  };
  const text = value.replace(/['"]/g, '');
  const cli = emptyParams();
  const words = text.split(/\s+/).filter((w) => w !== '');
  if (SHELL_META.test(text)) {
    bad(`${JSON.stringify(text.match(SHELL_META)?.[0])} is shell syntax that MHA's shell would interpret; mhats does not run ssh_options through a shell: write the values out`);
    return { words, cli, problems };
  }
  let configFile: string | undefined;
  for (let i = 0; i < words.length; i++) {
    const w = words[i] ?? '';
    if (!w.startsWith('-') || w === '-' || w === '--') {
      bad(`"${w}" is not an ssh option (ssh_options holds options such as -i FILE, -p PORT, -l USER, -F FILE, -o Key=Value)`);
      continue;
    }
    // getopt: a run of flags, the last of which may take an argument (attached or the next word).
    for (let j = 1; j < w.length; j++) {
      const f = w[j] ?? '';
      if (FLAG_WITH_ARG.has(f)) {
        let arg = w.slice(j + 1);
        if (arg === '') {
          arg = words[i + 1] ?? '';
          i++;
          if (arg === '') {
            bad(`-${f} needs a value`);
            break;
          }
        }
        const refused = ARG_FLAG_REFUSED[f];
        if (refused !== undefined) bad(`-${f} (${refused}) cannot be honoured by mhats' SSH client; remove it`);
        else if (f === 'i') applyOne(cli, 'IdentityFile', [arg]);
        else if (f === 'p') applyOne(cli, 'Port', [arg]);
        else if (f === 'l') applyOne(cli, 'User', [arg]);
        else if (f === 'F') {
          if (configFile === undefined) configFile = arg;
          else bad(`-F is given twice (${configFile}, ${arg}): OpenSSH reads only the first`);
        } else if (f === 'o') {
          const m = /^([A-Za-z0-9]+)(?:=|\s+)(.*)$/.exec(arg);
          if (!m?.[1] || m[2] === undefined) bad(`-o ${arg}: expected -o Key=Value`);
          else applyOne(cli, m[1], [m[2]]);
        } // -E (a log file): logging only.
        break;
      }
      if (FLAG_HONOURED.has(f)) {
        if (f === '4') applyOne(cli, 'AddressFamily', ['inet']);
        else if (f === '6') applyOne(cli, 'AddressFamily', ['inet6']);
        else applyOne(cli, 'Compression', ['yes']);
        continue;
      }
      if (Object.hasOwn(FLAG_NO_EFFECT, f)) continue;
      const refused = FLAG_REFUSED[f];
      bad(refused !== undefined ? `-${f} (${refused}) cannot be honoured by mhats' SSH client; remove it` : `-${f} is not an OpenSSH option`);
      break;
    }
  }
  for (const p of [...cli.identityFiles.map((x) => x.value), ...(configFile ? [configFile] : [])]) {
    if (!p.startsWith('/') && !p.startsWith('~')) bad(`${p}: write an absolute path (MHA's ssh would read it relative to wherever the manager was started)`);
  }
  return { words, cli, configFile, problems };

  function applyOne(p: SshParams, key: string, args: string[]): void {
    const err = applyDirective(p, key, args, where);
    if (err) bad(err);
  }
}

// ---------------------------------------------------------------- the ssh_config file

export interface SshConfigFile {
  path: string;
  /** Top-level lines of the parsed file, with the line number of each directive. */
  lines: Line[];
  lineOf: Map<Line, number>;
}

export type ReadResult = { ok: true; text: string } | { ok: false; reason: string };

/** Parses an ssh_config text; a syntax error is a problem at its line. */
export function parseSshConfigFile(path: string, text: string): { file?: SshConfigFile; problems: Problem[] } {
  let parsed: SSHConfig;
  try {
    parsed = SSHConfig.parse(text);
  } catch (err) {
    return { problems: [{ file: path, message: `cannot parse this ssh_config: ${(err as Error).message}` }] };
  }
  const lineOf = new Map<Line, number>();
  let n = 1;
  const count = (s: string): number => s.split('\n').length - 1;
  const walk = (ls: readonly Line[]): void => {
    for (const l of ls) {
      n += count(l.before);
      lineOf.set(l, n);
      n += count(l.after);
      if ('config' in l) walk(l.config);
    }
  };
  walk(parsed);
  return { file: { path, lines: [...parsed], lineOf }, problems: [] };
}

function valuesOf(l: Line): string[] {
  if (!('param' in l)) return [];
  const v = l.value;
  return typeof v === 'string' ? [v] : v.map((x) => x.val);
}

/** Does a Match block apply? undefined: a criterion mhats cannot evaluate. */
function matchApplies(values: string[], ctx: { host: string; original: string; user: string; localUser: string }): boolean | undefined {
  let i = 0;
  while (i < values.length) {
    const kw = (values[i] ?? '').toLowerCase();
    if (kw === 'all') {
      i++;
      continue;
    }
    const arg = values[i + 1];
    if (arg === undefined) return undefined;
    const pats = arg.split(',');
    let ok: boolean;
    if (kw === 'host') ok = glob(pats, ctx.host);
    else if (kw === 'originalhost') ok = glob(pats, ctx.original);
    else if (kw === 'user') ok = glob(pats, ctx.user);
    else if (kw === 'localuser') ok = glob(pats, ctx.localUser);
    else return undefined;
    if (!ok) return false;
    i += 2;
  }
  return true;
}

/**
 * What the ssh_config says for one host, as OpenSSH evaluates it: global
 * directives and every matching Host/Match block, in file order, first value
 * wins. Directives that cannot be honoured are problems at their line.
 */
export function evaluateSshConfig(f: SshConfigFile, host: string, user: string, localUser: string): { params: SshParams; problems: Problem[] } {
  const params = emptyParams();
  const problems: Problem[] = [];
  let hostName = host;
  const apply = (l: Line): void => {
    if (!('param' in l) || l.param === '') return;
    const line = f.lineOf.get(l);
    const err = applyDirective(params, l.param, valuesOf(l), `${f.path}:${line ?? '?'}`);
    if (err) problems.push({ file: f.path, line, message: err });
    else if (l.param.toLowerCase() === 'hostname' && params.hostname) hostName = params.hostname.value;
  };
  for (const l of f.lines) {
    if (!('param' in l)) continue;
    const p = l.param.toLowerCase();
    if (p === 'host') {
      if (glob(valuesOf(l), host)) for (const s of (l as Line & { config: Line[] }).config) apply(s);
    } else if (p === 'match') {
      const ok = matchApplies(valuesOf(l), { host: hostName, original: host, user: params.user?.value ?? user, localUser });
      if (ok === undefined) problems.push({ file: f.path, line: f.lineOf.get(l), message: `Match ${valuesOf(l).join(' ')}: ${REFUSED_WHY.match ?? ''}` });
      else if (ok) for (const s of (l as Line & { config: Line[] }).config) apply(s);
    } else apply(l);
  }
  return { params, problems };
}

// ---------------------------------------------------------------- resolution

/** What mhats' own SSH connection to one server uses (all decided; the adapter only connects). */
export interface SshHostSettings {
  /** Where to connect (HostName, else ssh_host). */
  host: string;
  port: number;
  user: string;
  /** Private keys, in the order they are offered. */
  identity_files: string[];
  /** true: only these keys (no agent keys, no default ~/.ssh/id_* keys). */
  identities_only: boolean;
  /** known_hosts files searched for the host key (user files, then global ones). */
  known_hosts: string[];
  strict_host_key_checking: StrictHostKeyChecking;
  connect_timeout: number;
  server_alive_interval?: number | undefined;
  server_alive_count_max?: number | undefined;
  /** undefined: $SSH_AUTH_SOCK; null: no agent. */
  identity_agent?: string | null | undefined;
  address_family?: 'inet' | 'inet6' | undefined;
  compression?: boolean | undefined;
  /** The name looked up in known_hosts instead of the host. */
  host_key_alias?: string | undefined;
  connection_attempts?: number | undefined;
  /** Where StrictHostKeyChecking=no came from, for the check-ssh warning. */
  strict_source?: string | undefined;
}

export interface ExplicitSsh {
  /** ssh_port / ssh_user when set in the configuration (else undefined: the file may say). */
  port?: number | undefined;
  user?: string | undefined;
  /** mhats' own keys. */
  known_hosts?: string | undefined;
  identity_file?: string | undefined;
  insecure_skip_host_key_check?: boolean | undefined;
  /** ssh_connection_timeout / ssh.connect_timeout when set. */
  connect_timeout?: number | undefined;
}

export interface ResolveHostInput {
  sshHost: string;
  explicit: ExplicitSsh;
  /** The OS user (default user) and the home directory for ~ and %d. */
  osUser: string;
  home: string;
  cli: SshParams;
  file?: SshParams | undefined;
  /** The problem location for token errors. */
  loc: Loc;
  defaultConnectTimeout: number;
}

/** Expands ~ and the ssh_config tokens mhats can know (%% %d %h %n %p %r %u). */
export function expandTokens(s: string, t: { home: string; host: string; original: string; port: number; user: string; localUser: string }): { ok: true; value: string } | { ok: false; token: string } {
  let v = s;
  if (v === '~') v = t.home;
  else if (v.startsWith('~/')) v = `${t.home}/${v.slice(2)}`;
  let bad: string | undefined;
  v = v.replace(/%(.)/g, (m, c: string) => {
    switch (c) {
      case '%':
        return '%';
      case 'd':
        return t.home;
      case 'h':
        return t.host;
      case 'n':
        return t.original;
      case 'p':
        return String(t.port);
      case 'r':
        return t.user;
      case 'u':
        return t.localUser;
      default:
        bad ??= m;
        return m;
    }
  });
  if (bad !== undefined) return { ok: false, token: bad };
  if (/\$\{/.test(v)) return { ok: false, token: '${...}' };
  return { ok: true, value: v };
}

export function resolveHost(i: ResolveHostInput): { settings: SshHostSettings; problems: Problem[] } {
  const problems: Problem[] = [];
  const c = i.cli;
  const f = i.file ?? emptyParams();
  const host = (c.hostname ?? f.hostname)?.value ?? i.sshHost;
  const port = c.port?.value ?? i.explicit.port ?? f.port?.value ?? 22;
  const user = c.user?.value ?? i.explicit.user ?? f.user?.value ?? i.osUser;
  const tok = { home: i.home, host, original: i.sshHost, port, user, localUser: i.osUser };
  const expand = (s: Src<string> | string): string => {
    const v = typeof s === 'string' ? s : s.value;
    const r = expandTokens(v, tok);
    if (r.ok) return r.value;
    problems.push({ ...i.loc, message: `${typeof s === 'string' ? v : `${s.where}: ${v}`}: the token ${r.token} cannot be expanded by mhats` });
    return v;
  };
  const ids = [...(i.explicit.identity_file ? [i.explicit.identity_file] : []), ...c.identityFiles.map(expand), ...f.identityFiles.map(expand)];
  const userKnown = c.userKnownHosts?.value ?? (i.explicit.known_hosts !== undefined ? [i.explicit.known_hosts] : undefined) ?? f.userKnownHosts?.value ?? [`${i.home}/.ssh/known_hosts`];
  const globalKnown = (c.globalKnownHosts ?? f.globalKnownHosts)?.value ?? ['/etc/ssh/ssh_known_hosts'];
  const strictSrc = c.strict ?? (i.explicit.insecure_skip_host_key_check ? { value: 'no' as const, where: 'ssh_insecure_skip_host_key_check' } : undefined) ?? f.strict;
  const agent = (c.identityAgent ?? f.identityAgent)?.value;
  const af = (c.addressFamily ?? f.addressFamily)?.value;
  const settings: SshHostSettings = {
    host,
    port,
    user,
    identity_files: [...new Set(ids)],
    identities_only: (c.identitiesOnly ?? f.identitiesOnly)?.value ?? false,
    known_hosts: [...userKnown.map(expand), ...globalKnown.map(expand)],
    strict_host_key_checking: strictSrc?.value ?? 'yes',
    connect_timeout: i.explicit.connect_timeout ?? (c.connectTimeout ?? f.connectTimeout)?.value ?? i.defaultConnectTimeout,
    server_alive_interval: (c.serverAliveInterval ?? f.serverAliveInterval)?.value,
    server_alive_count_max: (c.serverAliveCountMax ?? f.serverAliveCountMax)?.value,
    identity_agent: agent === null ? null : agent === undefined || agent === 'SSH_AUTH_SOCK' ? undefined : expand(agent),
    address_family: af === 'any' ? undefined : af,
    compression: (c.compression ?? f.compression)?.value,
    host_key_alias: (c.hostKeyAlias ?? f.hostKeyAlias)?.value,
    connection_attempts: (c.connectionAttempts ?? f.connectionAttempts)?.value,
    strict_source: strictSrc && strictSrc.value !== 'yes' ? strictSrc.where : undefined,
  };
  if ((f.identityNone || c.identityNone) && ids.length === 0) settings.identities_only = true;
  for (const [k, v] of Object.entries(settings)) if (v === undefined) delete (settings as unknown as Record<string, unknown>)[k];
  return { settings, problems };
}
