/**
 * MHA's own files (app1.cnf and masterha_default.cnf), read directly with
 * MHA 0.58's semantics (MHA::Config::read_config / parse_server):
 *  - Config::Tiny parsing (tiny.ts);
 *  - layering: global [server default] < app [server default]
 *    < init_conf_load_script output < [serverN];
 *  - "Local" keys (hostname, ip, candidate_master, ...) are never inherited;
 *  - an inherited empty/0 port, user, ssh_user, ... falls back to the default;
 *  - surrounding quotes are stripped at every layer (so an inherited value is
 *    stripped again, as in MHA), whitespace removed from master_binlog_dir;
 *  - blocks sorted by name, then numerically when every server block has a number.
 * Pure apart from the injected init_conf_load_script runner.
 */
import { CLUSTER_KEYS, CNF_KEYS, YAML_ONLY_CLUSTER_KEYS, CNF_LOCAL_KEYS, SERVER_KEYS, LOCAL_KEYS, checkValue, didYouMean, showValue } from './keys.js';
import type { SecretSpec, ValueKind } from './keys.js';
import type { Loc, Problem } from './problems.js';
import { formatLoc } from './problems.js';
import type { At, ClusterInput, ClusterValues, Layer, LocalValues, ServerInput, ServerValues, SshValues } from './resolve.js';
import { parseTiny } from './tiny.js';
import type { TinyDoc, TinySection } from './tiny.js';

export const INIT_SCRIPT_OUTPUT = 'init_conf_load_script output';

export interface CnfValue {
  value: string;
  loc: Loc;
}
type Block = Map<string, CnfValue>;

export type InitScriptResult = { ok: true; stdout: string; status: number | null } | { ok: false; reason: string };
export type InitScriptRunner = (command: string) => Promise<InitScriptResult>;

export interface MhaSource {
  file: string;
  text: string;
}

export interface MhaInput {
  app: MhaSource;
  global?: MhaSource | undefined;
  clusterName: string;
  runInitScript?: InitScriptRunner | undefined;
}

export interface MhaParseResult {
  cluster: ClusterInput | undefined;
  problems: Problem[];
  warnings: string[];
  /** Files that hold an inline password. */
  inlineSecretFiles: string[];
}

/** Keys that fall back to the default when the inherited value is empty or "0" (`unless ($value{x})`). */
const UNLESS_TRUTHY = new Set(['port', 'ssh_port', 'ssh_connection_timeout', 'user', 'log_level', 'master_binlog_dir', 'manager_workdir', 'remote_workdir', 'ssh_user']);
/** Keys that are one setting: a layer that sets one of them hides the others inherited from below. */
const GROUPS: readonly (readonly string[])[] = [
  ['password', 'password_file', 'password_env'],
  ['repl_password', 'repl_password_file', 'repl_password_env'],
];
const PERL_WS = /[\t\n\x0B\f\r ]/g;

/** Perl truthiness of a string: "" and "0" are false. */
const truthy = (v: string): boolean => v !== '' && v !== '0';

/** `s/^['"]?(.*)['"]$/$1/` */
export function stripQuotes(v: string): string {
  return truthy(v) ? v.replace(/^['"]?([^\n]*)['"]$/, '$1') : v;
}

function groupOf(key: string): readonly string[] | undefined {
  return GROUPS.find((g) => g.includes(key));
}

/** MHA parse_server(param, default), on strings, remembering where each value was written. */
export function layer(param: Block | undefined, def: Block | undefined): Block {
  const out: Block = new Map();
  const p = param ?? new Map<string, CnfValue>();
  for (const key of CNF_KEYS) {
    let v = p.get(key);
    if (v === undefined && def && !CNF_LOCAL_KEYS.has(key)) {
      const g = groupOf(key);
      if (!g?.some((k) => p.has(k))) {
        v = def.get(key);
        if (v !== undefined && UNLESS_TRUTHY.has(key) && !truthy(v.value)) v = undefined;
      }
    }
    if (v === undefined) continue;
    let s = v.value;
    if (key === 'master_binlog_dir' && truthy(s)) s = s.replace(PERL_WS, '');
    if (key === 'ping_type') s = s.toUpperCase();
    s = stripQuotes(s);
    out.set(key, { value: s, loc: v.loc });
  }
  return out;
}

function blockOf(section: TinySection | undefined, file: string): Block | undefined {
  if (!section) return undefined;
  const b: Block = new Map();
  for (const [k, e] of section.entries) b.set(k, { value: e.value, loc: { file, line: e.line } });
  return b;
}

function syntaxProblems(doc: TinyDoc, file: string): Problem[] {
  return doc.errors.map((e) => ({
    file,
    line: e.line,
    // Config::Tiny quotes the line; we do too, unless it may hold a password.
    message: /pass|secret|pw/i.test(e.text) ? 'syntax error (line not shown: it may hold a password): expected name=value or [section]' : `syntax error: '${e.text}' (expected name=value or [section])`,
  }));
}

function unknownKeyProblems(section: TinySection, file: string, warnings?: string[]): Problem[] {
  const out: Problem[] = [];
  for (const [k, e] of section.entries) {
    if (!CNF_KEYS.has(k)) out.push({ file, line: e.line, message: `unknown parameter "${k}" in [${section.name}]${didYouMean(k, CNF_KEYS)}` });
    else if (warnings && CNF_LOCAL_KEYS.has(k) && k !== 'ssh_options') {
      warnings.push(`${file}:${e.line}: ${k} in [${section.name}] is ignored: it is a per-server parameter, never inherited (as in MHA)`);
    }
  }
  return out;
}

/** Server blocks in MHA's configuration order. */
export function orderServerBlocks(names: string[]): string[] {
  const sorted = [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const nums = sorted.map((n) => /^server[^0-9]*([0-9]+)/.exec(n)?.[1]);
  if (nums.every((x) => x !== undefined)) {
    const idx = sorted.map((n, i) => ({ n, k: Number(nums[i]) }));
    idx.sort((a, b) => a.k - b.k);
    return idx.map((x) => x.n);
  }
  return sorted;
}

function parseScriptOutput(stdout: string): { block: Block; problems: Problem[] } {
  const block: Block = new Map();
  const problems: Problem[] = [];
  stdout.split('\n').forEach((raw, i) => {
    const row = raw.replace(/\r$/, '');
    const loc = { file: INIT_SCRIPT_OUTPUT, line: i + 1 };
    if (row.trim() === '') return;
    const eq = row.indexOf('=');
    if (eq < 0) {
      problems.push({ ...loc, message: 'expected name=value (line not shown: it may hold a password)' });
      return;
    }
    const name = row.slice(0, eq).trim();
    if (!CNF_KEYS.has(name)) {
      problems.push({ ...loc, message: `unknown parameter "${name}"${didYouMean(name, CNF_KEYS)}` });
      return;
    }
    block.set(name, { value: row.slice(eq + 1), loc });
  });
  return { block, problems };
}

// ---------------------------------------------------------------- typed conversion

/** cnf name -> catalogue kind, for every key that carries a plain value. */
const CNF_KIND: Record<string, ValueKind> = {
  ...Object.fromEntries(Object.entries(LOCAL_KEYS).map(([k, v]) => [k, v.kind])),
  ...Object.fromEntries(Object.entries(SERVER_KEYS).map(([k, v]) => [k, v.kind])),
  ...Object.fromEntries(Object.entries(CLUSTER_KEYS).map(([k, v]) => [k, v.kind])),
  ssh_connection_timeout: 'posint',
  ssh_known_hosts: 'string',
  ssh_identity_file: 'string',
  ssh_insecure_skip_host_key_check: 'bool',
  ssh_host_key_fingerprint: 'string',
  password_file: 'string',
  password_env: 'string',
  repl_password_file: 'string',
  repl_password_env: 'string',
};

const CNF_CLUSTER_KEYS = Object.keys(CLUSTER_KEYS).filter((k) => !YAML_ONLY_CLUSTER_KEYS.has(k));
const CNF_SSH_KEYS: Record<string, keyof SshValues> = {
  ssh_connection_timeout: 'connect_timeout',
  ssh_known_hosts: 'known_hosts',
  ssh_identity_file: 'identity_file',
  ssh_insecure_skip_host_key_check: 'insecure_skip_host_key_check',
};

class Converter {
  readonly problems: Problem[] = [];
  readonly warnings: string[] = [];
  readonly inlineFiles = new Set<string>();

  typed(key: string, v: CnfValue): At<unknown> | undefined {
    const kind = CNF_KIND[key];
    if (kind === undefined) return undefined;
    const r = checkValue(kind, v.value, 'cnf');
    if (!r.ok) {
      const hide = kind === 'secret' || v.loc.file === INIT_SCRIPT_OUTPUT;
      this.problems.push({ ...v.loc, message: `${key} must be ${r.expected}${hide ? '' : ` (got ${showValue(v.value)})`}` });
      return undefined;
    }
    if (r.warning) this.warnings.push(`${formatLoc(v.loc)}: ${key}: ${r.warning}`);
    return { value: r.value, loc: v.loc };
  }

  secret(eff: Block, base: string): At<SecretSpec> | undefined {
    const inline = eff.get(base);
    const file = eff.get(`${base}_file`);
    const env = eff.get(`${base}_env`);
    const set = [inline, file, env].filter((x) => x !== undefined);
    if (set.length > 1) {
      const names = [[base, inline], [`${base}_file`, file], [`${base}_env`, env]].filter(([, x]) => x !== undefined).map(([n]) => n as string);
      const loc = set[set.length - 1]?.loc ?? { file: '?' };
      this.problems.push({ ...loc, message: `set only one of ${names.join(', ')}` });
      return undefined;
    }
    if (inline) {
      if (inline.loc.file !== INIT_SCRIPT_OUTPUT) this.inlineFiles.add(inline.loc.file);
      return { value: { kind: 'inline', value: inline.value }, loc: inline.loc };
    }
    if (file) {
      if (file.value === '') return this.bad(file, `${base}_file must be a path`);
      return { value: { kind: 'file', path: file.value }, loc: file.loc };
    }
    if (env) {
      if (env.value === '') return this.bad(env, `${base}_env must be an environment variable name`);
      return { value: { kind: 'env', name: env.value }, loc: env.loc };
    }
    return undefined;
  }

  private bad(v: CnfValue, message: string): undefined {
    this.problems.push({ ...v.loc, message });
    return undefined;
  }

  /** Check every value of an effective block (reports problems even for an overridden [server default]). */
  checkAll(eff: Block): void {
    for (const [k, v] of eff) {
      // an empty/0 value here only means "the default" to whoever inherits it
      if (UNLESS_TRUTHY.has(k) && !truthy(v.value)) continue;
      this.typed(k, v);
    }
    this.secret(eff, 'password');
    this.secret(eff, 'repl_password');
  }

  server(name: string, sectionLine: number, file: string, eff: Block): ServerInput {
    const values: Layer<LocalValues & ServerValues> = {};
    const rec = values as Record<string, At<unknown> | undefined>;
    for (const k of [...Object.keys(LOCAL_KEYS), ...Object.keys(SERVER_KEYS)]) {
      if (k === 'password' || k === 'repl_password') continue;
      const v = eff.get(k);
      if (v !== undefined) rec[k] = this.typed(k, v);
    }
    values.password = this.secret(eff, 'password');
    values.repl_password = this.secret(eff, 'repl_password');
    return { name, loc: { file, line: sectionLine }, values };
  }
}

export async function parseMhaConfig(input: MhaInput): Promise<MhaParseResult> {
  const conv = new Converter();
  const { problems, warnings } = conv;
  const fail = (): MhaParseResult => ({ cluster: undefined, problems, warnings, inlineSecretFiles: [] });

  const app = parseTiny(input.app.text);
  const glob = input.global ? parseTiny(input.global.text) : undefined;
  if (glob && input.global) problems.push(...syntaxProblems(glob, input.global.file));
  problems.push(...syntaxProblems(app, input.app.file));
  if (problems.length > 0) return fail();

  const appFile = input.app.file;
  // Global file: MHA reads only its [server default].
  let gsd: Block | undefined;
  if (glob && input.global) {
    const gfile = input.global.file;
    for (const s of glob.sections.values()) {
      if (s.name === 'server default') {
        problems.push(...unknownKeyProblems(s, gfile, warnings));
        gsd = layer(blockOf(s, gfile), undefined);
      } else {
        warnings.push(`${gfile}${s.line ? `:${s.line}` : ''}: [${s.name}] is ignored: MHA reads only [server default] from the global file`);
      }
    }
  }

  // App file: block names.
  const serverNames: string[] = [];
  for (const s of app.sections.values()) {
    if (s.name === 'server default') {
      problems.push(...unknownKeyProblems(s, appFile, warnings));
    } else if (s.name === '_') {
      const first = [...s.entries.values()][0];
      problems.push({ file: appFile, line: first?.line, message: 'parameters before the first [section]: put them under [server default] or a [serverN] block' });
    } else if (/^server\S+/.test(s.name)) {
      problems.push(...unknownKeyProblems(s, appFile));
      serverNames.push(s.name);
    } else if (/^binlog\S+/.test(s.name)) {
      problems.push(...unknownKeyProblems(s, appFile));
      warnings.push(`${appFile}:${s.line}: [${s.name}] ignored: binlog servers are not yet supported by mhats`);
    } else {
      problems.push({ file: appFile, line: s.line, message: `block name "${s.name}" is invalid: it must be "server default" or start with "server" or "binlog"` });
    }
  }
  if (problems.length > 0) return fail();

  const sshOptionLayers: (CnfValue | undefined)[] = [gsd?.get('ssh_options')];
  let sd = layer(blockOf(app.sections.get('server default'), appFile), gsd);
  sshOptionLayers.push(blockOf(app.sections.get('server default'), appFile)?.get('ssh_options'));
  if (gsd) conv.checkAll(gsd);
  conv.checkAll(sd);

  const script = sd.get('init_conf_load_script');
  if (script && script.value.trim() !== '') {
    if (!input.runInitScript) {
      problems.push({ ...script.loc, message: 'init_conf_load_script cannot be run here' });
      return fail();
    }
    const r = await input.runInitScript(script.value);
    if (!r.ok) {
      problems.push({ ...script.loc, message: `init_conf_load_script failed: ${r.reason}` });
      return fail();
    }
    if (r.status !== 0) warnings.push(`${formatLoc(script.loc)}: init_conf_load_script exited with status ${r.status ?? 'unknown'}; its output was used anyway (as MHA does)`);
    const out = parseScriptOutput(r.stdout);
    problems.push(...out.problems);
    for (const [k, v] of out.block) {
      if (CNF_LOCAL_KEYS.has(k) && k !== 'ssh_options') warnings.push(`${formatLoc(v.loc)}: ${k} from init_conf_load_script is ignored: it is a per-server parameter`);
    }
    sshOptionLayers.push(out.block.get('ssh_options'));
    sd = layer(out.block, sd);
    conv.checkAll(sd);
  }

  const servers: ServerInput[] = [];
  const effs: { name: string; eff: Block }[] = [];
  for (const name of orderServerBlocks(serverNames)) {
    const section = app.sections.get(name);
    if (!section) continue;
    const eff = layer(blockOf(section, appFile), sd);
    if (!truthy(eff.get('hostname')?.value ?? '')) {
      problems.push({ file: appFile, line: section.line, message: `server ${name} has no hostname (set hostname=... in [${name}])` });
      continue;
    }
    effs.push({ name, eff });
    servers.push(conv.server(name, section.line, appFile, eff));
  }
  if (serverNames.length === 0) problems.push({ file: appFile, line: undefined, message: 'no server is defined: add [server1], [server2], ... blocks' });

  // Cluster-level settings: one value per cluster, from the first server (MHA reads
  // most of them from the first server entry, a few from the master's).
  const cluster: Layer<ClusterValues> = {};
  const ssh: Layer<SshValues> = {};
  const first = effs[0];
  const clusterRec = cluster as Record<string, At<unknown> | undefined>;
  const sshRec = ssh as Record<string, At<unknown> | undefined>;
  for (const k of [...CNF_CLUSTER_KEYS, ...Object.keys(CNF_SSH_KEYS)]) {
    const src = first ? first.eff : sd;
    const v = src.get(k);
    if (v !== undefined) {
      const t = conv.typed(k, v);
      const sk = CNF_SSH_KEYS[k];
      if (sk !== undefined) sshRec[sk] = t;
      else clusterRec[k] = t;
    }
    const differing = effs.filter((e) => e.eff.get(k)?.value !== v?.value);
    if (first && differing.length > 0) {
      const shown = [first, ...differing].map((e) => `${e.name}: ${e.eff.get(k)?.value ?? '(default)'}`).join(', ');
      warnings.push(`${appFile}: ${k} differs between servers (${shown}); mhats uses one value per cluster, the first server's (${first.name})`);
    }
  }
  const fps: Record<string, string> = {};
  let fpLoc: Loc | undefined;
  for (const [i, { eff }] of effs.entries()) {
    const fp = eff.get('ssh_host_key_fingerprint');
    const s = servers[i];
    if (!fp || !s || fp.value === '') continue;
    const host = (s.values.ssh_host?.value ?? s.values.hostname?.value) ?? '';
    const port = s.values.ssh_port?.value ?? 22;
    fps[port === 22 ? host : `${host}:${port}`] = fp.value;
    fpLoc ??= fp.loc;
  }
  if (fpLoc) ssh.host_key_fingerprints = { value: fps, loc: fpLoc };

  // ssh_options: MHA sets one process-wide option string each time it parses a block that has it
  // (global [server default], app [server default], init_conf_load_script, then the blocks sorted by
  // name): the last one wins, for every server.
  const optSources = [...sshOptionLayers, ...[...serverNames].sort().map((n) => blockOf(app.sections.get(n), appFile)?.get('ssh_options'))].filter(
    (v): v is CnfValue => v !== undefined && v.value.replace(/['"]/g, '').trim() !== '',
  );
  const lastOpt = optSources.at(-1);
  if (lastOpt) {
    ssh.options = { value: lastOpt.value, loc: lastOpt.loc };
    const others = optSources.filter((o) => o.value.replace(/['"]/g, '') !== lastOpt.value.replace(/['"]/g, ''));
    if (others.length > 0) warnings.push(`${formatLoc(lastOpt.loc)}: ssh_options is set differently in several places (${[...others, lastOpt].map((o) => formatLoc(o.loc)).join(', ')}); as in MHA, the last one parsed applies to every server: ${lastOpt.value}`);
  }

  if (problems.length > 0) return fail();
  return {
    cluster: { name: input.clusterName, loc: { file: appFile }, format: 'mha', cluster, ssh, servers },
    problems,
    warnings,
    inlineSecretFiles: [...conv.inlineFiles],
  };
}
