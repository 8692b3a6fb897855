/**
 * Loading: the only part of src/config that touches the file system, the
 * environment and processes. Detects the format, parses, resolves secrets,
 * and throws one ConfigError listing every problem.
 */
import { spawn } from 'node:child_process';
import { readFileSync, statSync, type Stats } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { basename, dirname, extname, isAbsolute, resolve as resolvePath } from 'node:path';
import { ConfigError, UserError } from '../errors/errors.js';
import { ExitCode } from '../errors/exit-codes.js';
import { INIT_SCRIPT_OUTPUT, parseMhaConfig } from './mha.js';
import type { InitScriptResult, InitScriptRunner } from './mha.js';
import type { Loc, Problem } from './problems.js';
import { throwIfProblems } from './problems.js';
import { HTTP_DEFAULT, STATE_DIR_DEFAULT, permissionWarning, resolveCluster } from './resolve.js';
import type { ClusterInput, ResolveContext, SecretFileResult } from './resolve.js';
import type { ClusterConfig, ConfigFormat, EtcdSettings, HttpSettings, HttpToken, LoadedConfig, PublishSettings } from './types.js';
import type { PublishInput } from './yaml.js';
import { Secret } from '../domain/secret.js';
import { parseListen, parseYamlConfig } from './yaml.js';

export interface LoadOptions {
  conf: string;
  /** MHA masterha_default.cnf; only for an MHA conf. A missing file is skipped with a warning, as in MHA. */
  globalConf?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Relative paths (conf, globalConf) are taken from here; default process.cwd(). */
  cwd?: string;
  /** The default ssh_user (MHA: the current OS user); default os.userInfo().username. */
  osUser?: string | undefined;
  /** Runs MHA's init_conf_load_script; default /bin/sh -c with a 10 s deadline. */
  runInitScript?: InitScriptRunner | undefined;
}

export const INIT_SCRIPT_TIMEOUT_MS = 10_000;
/** The largest configuration file read (a config is a few kB; anything this big is a mistake). */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

function homeDirOf(env: NodeJS.ProcessEnv): string {
  try {
    return homedir();
  } catch {
    return env.HOME ?? '/root';
  }
}

const CONF_HINT = 'pass --conf FILE (YAML or MHA app1.cnf) or set MHATS_CONFIG; `mhats config import-mha app1.cnf -o mhats.yaml` converts an MHA file';

/** .yaml/.yml -> yaml; .cnf/.conf/.ini -> mha; otherwise the first non-comment line starting with "[" means MHA. */
export function detectFormat(file: string, text: string): ConfigFormat {
  const ext = extname(file).toLowerCase();
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  if (ext === '.cnf' || ext === '.conf' || ext === '.ini') return 'mha';
  for (const line of text.split(/\r?\n|\r/)) {
    const t = line.trim();
    if (t === '' || t.startsWith('#') || t.startsWith(';')) continue;
    return t.startsWith('[') ? 'mha' : 'yaml';
  }
  return 'yaml';
}

/** MHA's app name: the file's basename without its extension. */
export function clusterNameFromFile(file: string): string {
  const b = basename(file);
  const e = extname(b);
  return e ? b.slice(0, -e.length) : b;
}

function errnoReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return err instanceof Error ? err.message : String(err);
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isFile()) return 'a regular file';
  return 'not a regular file';
}

/**
 * A config file's text: a regular file (never a FIFO or a device, which would
 * hang or never end), at most MAX_CONFIG_BYTES, and valid UTF-8 (a byte that
 * is not is an error at its line, never silently replaced).
 */
export function readConfigText(shown: string, abs: string): string {
  let buf: Buffer;
  try {
    const st = statSync(abs);
    if (!st.isFile()) throw new ConfigError(shown, undefined, `cannot read config file: it is ${kindOf(st)}`, 'pass the path of the configuration file itself');
    if (st.size > MAX_CONFIG_BYTES) throw new ConfigError(shown, undefined, `cannot read config file: it is ${st.size} bytes, more than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB: this is not a configuration file`, CONF_HINT);
    buf = readFileSync(abs);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(shown, undefined, `cannot read config file: ${errnoReason(err)}`, CONF_HINT);
  }
  if (buf.length > MAX_CONFIG_BYTES) throw new ConfigError(shown, undefined, `cannot read config file: more than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB`, CONF_HINT);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    const lenient = buf.toString('utf8');
    const at = lenient.indexOf('\uFFFD');
    const line = at < 0 ? undefined : lenient.slice(0, at).split('\n').length;
    throw new ConfigError(shown, line, 'the file is not valid UTF-8 (a byte here is not); save it as UTF-8', 'for example: iconv -f latin1 -t utf-8 FILE > FILE.utf8');
  }
}

function fileExists(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** MHA runs it with backticks: /bin/sh -c, stdout captured. We add a deadline and kill the whole group on expiry. */
export function defaultInitScriptRunner(cwd: string, env: NodeJS.ProcessEnv, timeoutMs = INIT_SCRIPT_TIMEOUT_MS): InitScriptRunner {
  return (command) =>
    new Promise<InitScriptResult>((done) => {
      let settled = false;
      const finish = (r: InitScriptResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        done(r);
      };
      const child = spawn('/bin/sh', ['-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'ignore'], detached: true });
      const chunks: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => chunks.push(c));
      child.on('error', (err) => finish({ ok: false, reason: err.message }));
      child.on('close', (code) => finish({ ok: true, stdout: Buffer.concat(chunks).toString('utf8'), status: code }));
      const timer = setTimeout(() => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
        finish({ ok: false, reason: `timed out after ${timeoutMs / 1000} s (killed)` });
      }, timeoutMs);
    });
}

function readSecretFile(path: string): SecretFileResult {
  try {
    const st = statSync(path);
    if (!st.isFile()) return { ok: false, reason: 'not a regular file' };
    return { ok: true, content: readFileSync(path, 'utf8'), mode: st.mode };
  } catch (err) {
    return { ok: false, reason: errnoReason(err) };
  }
}

export async function loadConfig(opts: LoadOptions): Promise<LoadedConfig> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const abs = (p: string): string => resolvePath(cwd, p);
  const confAbs = abs(opts.conf);
  const text = readConfigText(opts.conf, confAbs);
  const format = detectFormat(opts.conf, text);
  const files = [confAbs];
  const warnings: string[] = [];
  const problems: Problem[] = [];
  let inputs: ClusterInput[] = [];
  let inlineFiles: string[] = [];
  // MHA files cannot say where mhats keeps its state or listens: the environment can (a YAML file's keys win).
  let stateDir = env.MHATS_STATE_DIR !== undefined && env.MHATS_STATE_DIR !== '' ? env.MHATS_STATE_DIR : STATE_DIR_DEFAULT;
  let http: HttpSettings | undefined = { ...HTTP_DEFAULT };
  if (env.MHATS_HTTP_LISTEN !== undefined && env.MHATS_HTTP_LISTEN !== '') {
    const l = parseListen(env.MHATS_HTTP_LISTEN);
    if (!l.ok) throw new ConfigError('MHATS_HTTP_LISTEN', undefined, `the environment variable ${l.message}`);
    http = l.value ?? undefined;
  }
  let etcd: EtcdSettings | undefined;
  let httpToken: HttpToken | undefined;
  let stateDirLoc: Loc | undefined;
  let publishIn: PublishInput | undefined;

  if (format === 'yaml') {
    if (opts.globalConf !== undefined) {
      throw new ConfigError(opts.conf, undefined, '--global_conf applies only to an MHA .cnf file', 'put shared settings under `defaults:` in the YAML file');
    }
    const r = parseYamlConfig(text, opts.conf);
    problems.push(...r.problems);
    inputs = r.clusters;
    inlineFiles = r.inlineSecretFiles;
    if (r.state_dir) {
      stateDir = r.state_dir.value;
      stateDirLoc = r.state_dir.loc;
    }
    if (r.http !== undefined) http = r.http ?? undefined;
    etcd = r.etcd;
    if (r.httpTokenFile) {
      const f = r.httpTokenFile;
      const t = readHttpToken(isAbsolute(f.value) ? f.value : resolvePath(dirname(confAbs), f.value));
      if (t.ok) {
        httpToken = t.token;
        warnings.push(...t.warnings);
      } else problems.push({ ...f.loc, message: `http.token_file ${t.message}` });
    }
    publishIn = r.publish;
  } else {
    let global: { file: string; text: string } | undefined;
    if (opts.globalConf !== undefined) {
      const gAbs = abs(opts.globalConf);
      if (fileExists(gAbs)) {
        global = { file: opts.globalConf, text: readConfigText(opts.globalConf, gAbs) };
        files.unshift(gAbs);
      } else {
        warnings.push(`global configuration file ${opts.globalConf} not found; skipping it (as MHA does)`);
      }
    }
    const r = await parseMhaConfig({
      app: { file: opts.conf, text },
      global,
      clusterName: clusterNameFromFile(opts.conf),
      runInitScript: opts.runInitScript ?? defaultInitScriptRunner(cwd, env),
    });
    problems.push(...r.problems);
    warnings.push(...r.warnings);
    inlineFiles = r.inlineSecretFiles;
    if (r.cluster) inputs = [r.cluster];
  }

  const ctx: ResolveContext = {
    osUser: opts.osUser ?? osUserName(env),
    env,
    resolvePath: (p: string, from: Loc) => (isAbsolute(p) ? p : resolvePath(dirname(from.file === INIT_SCRIPT_OUTPUT ? confAbs : abs(from.file)), p)),
    readSecretFile,
    readTextFile: (p: string) => {
      try {
        const st = statSync(p);
        if (!st.isFile()) return { ok: false, reason: 'not a regular file' };
        if (st.size > MAX_CONFIG_BYTES) return { ok: false, reason: `larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB` };
        return { ok: true, text: readFileSync(p, 'utf8') };
      } catch (err) {
        return { ok: false, reason: errnoReason(err) };
      }
    },
    homeDir: homeDirOf(env),
  };
  const clusters: ClusterConfig[] = [];
  for (const input of inputs) {
    const r = resolveCluster(input, ctx);
    problems.push(...r.problems);
    warnings.push(...r.warnings);
    if (r.cluster) clusters.push(r.cluster);
  }
  let publish: PublishSettings | undefined;
  if (publishIn) {
    const { consul, ...rest } = publishIn;
    let token: Secret | undefined;
    const spec = consul?.token;
    if (spec) {
      const v = spec.value;
      if (v.kind === 'inline') token = new Secret(v.value);
      else if (v.kind === 'env') {
        const e = env[v.name];
        if (e === undefined) problems.push({ ...spec.loc, message: `publish.consul.token: environment variable ${v.name} is not set` });
        else token = new Secret(e);
      } else {
        const path = ctx.resolvePath(v.path, spec.loc);
        const r = readSecretFile(path);
        if (!r.ok) problems.push({ ...spec.loc, message: `publish.consul.token: cannot read ${path}: ${r.reason}` });
        else {
          token = new Secret(r.content.replace(/[\r\n]+$/, ''));
          if ((r.mode & 0o077) !== 0) warnings.push(permissionWarning(path, r.mode, 'token file'));
        }
      }
    }
    publish = { ...rest, ...(consul ? { consul: { address: consul.address, ...(consul.datacenter !== undefined ? { datacenter: consul.datacenter } : {}), ...(token ? { token } : {}) } } : {}) };
  }
  // state_dir must be a directory (or not exist yet: the manager creates it).
  try {
    const st = statSync(abs(stateDir));
    if (!st.isDirectory()) problems.push({ ...(stateDirLoc ?? { file: env.MHATS_STATE_DIR ? 'MHATS_STATE_DIR' : opts.conf }), message: `state_dir ${stateDir} is ${kindOf(st)}, not a directory: give a directory the manager may write (its journal and lock live there)` });
  } catch {
    // absent: created at start
  }
  throwIfProblems(problems);

  for (const f of inlineFiles) {
    try {
      const st = statSync(abs(f));
      if ((st.mode & 0o077) !== 0) warnings.push(permissionWarning(f, st.mode, 'config file'));
    } catch {
      // it was readable a moment ago; nothing useful to add
    }
  }
  return { format, files, clusters, state_dir: stateDir, warnings: [...new Set(warnings)], http, ...(etcd ? { etcd } : {}), ...(publish ? { publish } : {}), ...(httpToken ? { http_token: httpToken } : {}) };
}

/** The shortest bearer token accepted: 16 characters (a guessable token is worse than none). */
export const HTTP_TOKEN_MIN_LENGTH = 16;

/**
 * Reads the write API's bearer token: the file's content without surrounding whitespace, at least
 * 16 visible ASCII characters (it travels in an HTTP header). A token file readable by group or
 * others is a warning. Messages name the file, never the token.
 */
export function readHttpToken(path: string): { ok: true; token: HttpToken; warnings: string[] } | { ok: false; message: string } {
  const r = readSecretFile(path);
  if (!r.ok) return { ok: false, message: `${path}: cannot read the token file (${r.reason}); create it with: (umask 077; openssl rand -hex 32 > ${path})` };
  const value = r.content.trim();
  if (value.length === 0) return { ok: false, message: `${path}: the token file is empty; fill it with: (umask 077; openssl rand -hex 32 > ${path})` };
  if (!/^[\x21-\x7e]+$/.test(value)) return { ok: false, message: `${path}: the token must be one line of visible ASCII characters (no spaces); for example: openssl rand -hex 32` };
  if (value.length < HTTP_TOKEN_MIN_LENGTH) return { ok: false, message: `${path}: the token is too short (${value.length} characters, at least ${HTTP_TOKEN_MIN_LENGTH}); for example: openssl rand -hex 32` };
  const warnings: string[] = [];
  if ((r.mode & 0o077) !== 0) warnings.push(`${path}: the HTTP API token file is readable by group/others (mode ${(r.mode & 0o777).toString(8).padStart(4, '0')}); run: chmod 600 ${path}`);
  return { ok: true, token: { file: path, token: new Secret(value) }, warnings };
}

function osUserName(env: NodeJS.ProcessEnv): string {
  try {
    return userInfo().username;
  } catch {
    return env.USER ?? env.LOGNAME ?? 'root';
  }
}

/** All clusters, or the one named; an unknown name is a UserError listing the known names. */
export function selectClusters(cfg: LoadedConfig, name?: string): ClusterConfig[] {
  if (name === undefined) return cfg.clusters;
  const c = cfg.clusters.find((x) => x.name === name);
  if (c) return [c];
  const known = cfg.clusters.map((x) => x.name);
  throw new UserError(`unknown cluster "${name}"; the configuration defines: ${known.join(', ') || '(none)'}`, {
    exitCode: ExitCode.USAGE,
    hint: cfg.format === 'mha' ? 'an MHA file defines one cluster, named after the file (app1.cnf -> app1)' : 'cluster names are the keys under `clusters:`',
  });
}
