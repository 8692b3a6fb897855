/**
 * The native format: YAML, validated with a strict zod schema. Every problem
 * is reported at the line of the offending node (yaml Document + LineCounter).
 * Pure: text in, typed layered input out.
 */
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, visit } from 'yaml';
import type { Document, Node, Pair, YAMLMap } from 'yaml';
import { CORE_SCHEMA, load as fastLoad } from 'js-yaml';
import { z } from 'zod';
import { validateDetailed as validateCron } from 'node-cron';
import {
  CLUSTER_KEYS, LOCAL_KEYS, SERVER_KEYS, SSH_KEYS, checkValue, didYouMean, isClusterKey, isLocalKey, showValue,
} from './keys.js';
import type { KindType, SecretSpec, ValueKind } from './keys.js';
import type { Loc, Problem } from './problems.js';
import type { At, ClusterInput, ClusterValues, Layer, LocalValues, ServerInput, ServerValues, SshValues } from './resolve.js';
import type { EtcdSettings, HttpSettings, ScheduleSettings } from './types.js';
import { hooksSchema } from './hooks.js';
import type { HooksConfig } from './hooks.js';

export const CLUSTER_NAME_RE = /^[A-Za-z0-9_.-]+$/;

// ---------------------------------------------------------------- schema

function leaf<K extends ValueKind>(kind: K): z.ZodType<KindType[K]> {
  return z.unknown().transform((v, ctx) => {
    const r = checkValue(kind, v, 'yaml');
    if (r.ok) return r.value as KindType[K];
    const got = kind === 'secret' ? '' : ` (got ${showValue(v)})`;
    ctx.addIssue({ code: 'custom', message: `must be ${r.expected}${got}`, params: { leaf: true } });
    return z.NEVER;
  });
}

function shapeOf(keys: Record<string, { kind: ValueKind }>): Record<string, z.ZodOptional<z.ZodType>> {
  const out: Record<string, z.ZodOptional<z.ZodType>> = {};
  for (const [k, info] of Object.entries(keys)) out[k] = leaf(info.kind).optional();
  return out;
}

const sshSchema = z.strictObject({
  known_hosts: leaf('string').optional(),
  identity_file: leaf('string').optional(),
  host_key_fingerprints: z.record(z.string(), leaf('string')).optional(),
  connect_timeout: leaf('posnum').optional(),
  insecure_skip_host_key_check: leaf('bool').optional(),
  options: leaf('string').optional(),
});

const serverSchema = z.strictObject({
  name: leaf('string').optional(),
  ...shapeOf(LOCAL_KEYS),
  hostname: leaf('string'),
  ...shapeOf(SERVER_KEYS),
});

/** A cron expression for node-cron: 5 fields, or 6 with seconds first. Checked, never run here. */
export function checkCron(v: unknown): { ok: true; value: string } | { ok: false; message: string } {
  if (typeof v !== 'string' || v.trim() === '') return { ok: false, message: `must be a cron expression such as "0 3 * * *" (got ${showValue(v)})` };
  const expr = v.trim();
  const fields = expr.split(/\s+/).length;
  if (fields !== 5 && fields !== 6) return { ok: false, message: `must be a cron expression with 5 fields (minute hour day month weekday) or 6 (seconds first); got ${fields} in ${JSON.stringify(expr)}` };
  const r = validateCron(expr);
  if (!r.valid) return { ok: false, message: `is not a valid cron expression (${JSON.stringify(expr)}): ${r.errors.map((e) => e.message).join('; ') || 'invalid'}` };
  return { ok: true, value: expr };
}

const cronLeaf: z.ZodType<string> = z.unknown().transform((v, ctx) => {
  const r = checkCron(v);
  if (r.ok) return r.value;
  ctx.addIssue({ code: 'custom', message: r.message, params: { leaf: true } });
  return z.NEVER;
});

/**
 * `http.listen`: "HOST:PORT" ("[::1]:9187" for IPv6; port 0 = any free port), or false / "off" to disable.
 * null means disabled.
 */
export function parseListen(v: unknown): { ok: true; value: HttpSettings | null } | { ok: false; message: string } {
  if (v === false || (typeof v === 'string' && ['off', 'false', 'no', 'none', 'disabled'].includes(v.trim().toLowerCase()))) return { ok: true, value: null };
  const bad = { ok: false as const, message: `must be "HOST:PORT" (for example "127.0.0.1:9187" or "[::1]:9187") or false to disable (got ${showValue(v)})` };
  if (typeof v !== 'string') return bad;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_.-]+)):(\d{1,5})$/.exec(v.trim());
  if (!m) return bad;
  const port = Number(m[3]);
  if (port > 65535) return { ok: false, message: `port ${port} is out of range (0-65535)` };
  return { ok: true, value: { host: m[1] ?? m[2] ?? '', port } };
}

const listenLeaf: z.ZodType<HttpSettings | null> = z.unknown().transform((v, ctx) => {
  const r = parseListen(v);
  if (r.ok) return r.value;
  ctx.addIssue({ code: 'custom', message: r.message, params: { leaf: true } });
  return z.NEVER;
});

const schedulesSchema = z.strictObject({
  relay_log_purge: cronLeaf.optional(),
  check_repl: cronLeaf.optional(),
  journal_retention: z.strictObject({ cron: cronLeaf, keep_days: leaf('posint') }).optional(),
});
const httpSchema = z.strictObject({ listen: listenLeaf.optional(), token_file: leaf('string').optional() });

/** Manager HA on etcd (top level `etcd:`). */
export const ETCD_DEFAULTS = { prefix: '/mhats', lease_ttl: 10, request_timeout: 2 } as const;
const endpointLeaf: z.ZodType<string> = z.unknown().transform((v, ctx) => {
  if (typeof v === 'string' && /^https?:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(:\d{1,5})?\/?$/.test(v.trim())) return v.trim().replace(/\/+$/, '');
  ctx.addIssue({ code: 'custom', message: `must be an etcd client URL such as "http://127.0.0.1:2379" (got ${showValue(v)})`, params: { leaf: true } });
  return z.NEVER;
});
const ttlLeaf: z.ZodType<number> = z.unknown().transform((v, ctx) => {
  const r = checkValue('posint', v, 'yaml');
  if (r.ok && (r.value as number) >= 2) return r.value as number;
  ctx.addIssue({ code: 'custom', message: `must be a whole number of seconds >= 2 (got ${showValue(v)})`, params: { leaf: true } });
  return z.NEVER;
});
const prefixLeaf: z.ZodType<string> = z.unknown().transform((v, ctx) => {
  if (typeof v === 'string' && /^\/[A-Za-z0-9_./-]*$/.test(v.trim()) && v.trim().replace(/\/+$/, '') !== '') return v.trim().replace(/\/+$/, '');
  ctx.addIssue({ code: 'custom', message: `must be a key prefix starting with "/" such as "/mhats" (got ${showValue(v)})`, params: { leaf: true } });
  return z.NEVER;
});
const etcdSchema = z.strictObject({
  endpoints: z.array(endpointLeaf).min(1, 'must list at least one endpoint'),
  prefix: prefixLeaf.optional(),
  lease_ttl: ttlLeaf.optional(),
  instance: leaf('string').optional(),
  request_timeout: leaf('posnum').optional(),
  sharding: leaf('bool').optional(),
});

/** Service discovery (top level `publish:`). */
export const PUBLISH_DEFAULTS = { prefix: '', interval: 60, timeout: 2 } as const;
const urlLeaf = (what: string): z.ZodType<string> =>
  z.unknown().transform((v, ctx) => {
    if (typeof v === 'string' && /^https?:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(:\d{1,5})?\/?$/.test(v.trim())) return v.trim().replace(/\/+$/, '');
    ctx.addIssue({ code: 'custom', message: `must be ${what} (got ${showValue(v)})`, params: { leaf: true } });
    return z.NEVER;
  });
const kvPrefixLeaf: z.ZodType<string> = z.unknown().transform((v, ctx) => {
  if (typeof v === 'string' && /^[A-Za-z0-9_./-]*$/.test(v.trim())) return v.trim().replace(/\/+$/, '');
  ctx.addIssue({ code: 'custom', message: `must be a key prefix such as "/service" or "" (letters, digits, "_", ".", "-", "/"; got ${showValue(v)})`, params: { leaf: true } });
  return z.NEVER;
});
const publishSchema = z.strictObject({
  prefix: kvPrefixLeaf.optional(),
  interval: leaf('posnum').optional(),
  timeout: leaf('posnum').optional(),
  etcd: z.union([z.boolean(), z.strictObject({ endpoints: z.array(endpointLeaf).min(1, 'must list at least one endpoint') })]).optional(),
  consul: z.strictObject({ address: urlLeaf('a Consul HTTP address such as "http://127.0.0.1:8500"'), token: leaf('secret').optional(), datacenter: leaf('string').optional() }).optional(),
});

const layerShape = { ...shapeOf(SERVER_KEYS), ...shapeOf(CLUSTER_KEYS), ssh: sshSchema.optional(), schedules: schedulesSchema.optional() };
const defaultsSchema = z.strictObject(layerShape);
const drillLeaf: z.ZodType<'allowed' | 'forbidden'> = z.unknown().transform((v, ctx) => {
  if (v === 'allowed' || v === 'forbidden') return v;
  ctx.addIssue({ code: 'custom', message: `must be "allowed" (mhats drill may inject faults into this cluster) or "forbidden" (got ${showValue(v)})`, params: { leaf: true } });
  return z.NEVER;
});
const clusterSchema = z.strictObject({ ...layerShape, servers: z.array(serverSchema), hooks: hooksSchema.optional(), drill: drillLeaf.optional() });
const rootSchema = z.strictObject({
  state_dir: leaf('string').optional(),
  http: httpSchema.optional(),
  etcd: etcdSchema.optional(),
  publish: publishSchema.optional(),
  defaults: defaultsSchema.optional(),
  clusters: z.record(z.string(), clusterSchema),
});

type Raw = Record<string, unknown>;
interface RootData {
  state_dir?: string | undefined;
  http?: { listen?: HttpSettings | null | undefined; token_file?: string | undefined } | undefined;
  etcd?: { endpoints: string[]; prefix?: string | undefined; lease_ttl?: number | undefined; instance?: string | undefined; request_timeout?: number | undefined; sharding?: boolean | undefined } | undefined;
  publish?: { prefix?: string | undefined; interval?: number | undefined; timeout?: number | undefined; etcd?: boolean | { endpoints: string[] } | undefined; consul?: { address: string; token?: SecretSpec | undefined; datacenter?: string | undefined } | undefined } | undefined;
  defaults?: Raw | undefined;
  clusters: Record<string, Raw & { servers: Raw[] }>;
}

// ---------------------------------------------------------------- locations

type Path = readonly (string | number)[];

function pathString(path: Path): string {
  let s = '';
  for (const seg of path) {
    if (typeof seg === 'number') s += `[${seg}]`;
    else if (/^[A-Za-z0-9_]+$/.test(seg)) s += s === '' ? seg : `.${seg}`;
    else s += `[${JSON.stringify(seg)}]`;
  }
  return s === '' ? 'the top level' : s;
}

class Locator implements Locate {
  /** Each map's pairs by key, built on first use: a lookup is linear in the path's depth, not in the map's size (a config of thousands of servers loads in linear time). */
  private readonly index = new WeakMap<object, Map<string, Pair>>();

  constructor(
    private readonly doc: Document,
    private readonly lc: LineCounter,
    private readonly file: string,
  ) {}

  private pairOf(map: YAMLMap, key: string): Pair | undefined {
    let byKey = this.index.get(map);
    if (byKey === undefined) {
      byKey = new Map();
      for (const p of map.items) if (isPair(p) && isScalar(p.key) && !byKey.has(String(p.key.value))) byKey.set(String(p.key.value), p);
      this.index.set(map, byKey);
    }
    return byKey.get(key);
  }

  /** Line of the node at path (the key's line when `key`), else of the nearest ancestor found. */
  line(path: Path, key = false): number | undefined {
    let node: unknown = this.doc.contents;
    let best: number | undefined = this.offsetLine(node);
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = this.pairOf(node, String(seg));
        if (!pair) return best;
        const keyLine = this.offsetLine(pair.key);
        if (last && key) return keyLine ?? best;
        node = pair.value;
        best = this.offsetLine(node) ?? keyLine ?? best;
        if (pair.value === null || (isScalar(pair.value) && pair.value.value === null)) best = keyLine ?? best;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
        best = this.offsetLine(node) ?? best;
      } else return best;
    }
    return best;
  }

  loc(path: Path, key = false): Loc {
    return { file: this.file, line: this.line(path, key) };
  }

  private offsetLine(node: unknown): number | undefined {
    const range = (node as Node | null | undefined)?.range;
    if (!range) return undefined;
    return this.lc.linePos(range[0]).line;
  }
}

/** Where a path is: the file, and the line found by a Locator (the slow path's, or the lazy one's). */
interface Locate {
  loc(path: Path, key?: boolean): Loc;
}

/** The yaml Document of the text with its line counter (the slow parse: every node knows its offset). */
function parseWithLines(text: string): { doc: Document; lc: LineCounter } {
  const lc = new LineCounter();
  // yaml's own uniqueKeys check compares every key with every earlier one (quadratic in a map of
  // thousands of clusters): duplicates are found with one Set per map instead (duplicateKey).
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: false, merge: false });
  return { doc, lc };
}

/**
 * Locations for a text that parsed and validated on the fast path: nothing is located until a message needs
 * a line (a warning, a problem found later); then the text is parsed once more, with line numbers. Each
 * Loc's `file` is known at once, its `line` is a getter.
 */
class LazyLocator implements Locate {
  #real: Locator | undefined;
  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  #locator(): Locator {
    if (this.#real === undefined) {
      const { doc, lc } = parseWithLines(this.text);
      this.#real = new Locator(doc, lc, this.file);
    }
    return this.#real;
  }

  loc(path: Path, key = false): Loc {
    let found: { line: number | undefined } | undefined;
    const locate = (): number | undefined => (found ??= { line: this.#locator().line(path, key) }).line;
    return {
      file: this.file,
      get line(): number | undefined {
        return locate();
      },
    };
  }
}

/**
 * The fast parse (js-yaml, the same YAML 1.2 core schema as the yaml package, several times faster on a
 * large file): plain data, or undefined whenever the text uses anything the slow path must judge and
 * report with its line (a syntax error, a duplicate key, an alias, a second document, deep nesting, an
 * empty file, a tag). The slow path then parses the text as it always did, so messages never change.
 */
export function fastParse(text: string): unknown {
  // Where the two parsers could read a value differently, the yaml package decides: a directive (%YAML 1.1
  // changes the schema), an explicit tag (!!float 1), a number too large for a double (1e400).
  if (/^%/m.test(text) || /(^|[\s[{,])!/m.test(text) || /\d[eE][+-]?\d{3}/.test(text)) return undefined;
  try {
    const data = fastLoad(text, { schema: CORE_SCHEMA, maxAliases: 0, maxDepth: MAX_DEPTH });
    return data !== null && typeof data === 'object' && !Array.isArray(data) ? data : undefined;
  } catch {
    return undefined;
  }
}

function valueAt(root: unknown, path: Path): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

type Context = 'root' | 'defaults' | 'cluster' | 'server' | 'ssh' | 'schedules' | 'retention' | 'http' | 'etcd' | 'publish' | 'consul' | 'other';

function contextOf(path: Path): Context {
  if (path.length === 0) return 'root';
  if (path[0] === 'http') return path.length === 1 ? 'http' : 'other';
  if (path[0] === 'etcd') return path.length === 1 ? 'etcd' : 'other';
  if (path[0] === 'publish') return path.length === 1 ? 'publish' : path.length === 2 && path[1] === 'consul' ? 'consul' : 'other';
  // The part under a cluster or `defaults`, the same for both.
  const rest = path[0] === 'defaults' ? path.slice(1) : path[0] === 'clusters' && path.length >= 2 ? path.slice(2) : undefined;
  if (rest === undefined) return 'other';
  if (rest.length === 0) return path[0] === 'defaults' ? 'defaults' : 'cluster';
  if (rest.length === 1 && rest[0] === 'ssh') return 'ssh';
  if (rest.length === 1 && rest[0] === 'schedules') return 'schedules';
  if (rest.length === 2 && rest[0] === 'schedules' && rest[1] === 'journal_retention') return 'retention';
  if (path[0] === 'clusters' && rest.length === 2 && rest[0] === 'servers') return 'server';
  return 'other';
}

function knownKeys(ctx: Context): string[] {
  switch (ctx) {
    case 'root':
      return ['state_dir', 'http', 'etcd', 'publish', 'defaults', 'clusters'];
    case 'defaults':
      return [...Object.keys(SERVER_KEYS), ...Object.keys(CLUSTER_KEYS), 'ssh', 'schedules'];
    case 'cluster':
      return [...Object.keys(SERVER_KEYS), ...Object.keys(CLUSTER_KEYS), 'ssh', 'schedules', 'servers', 'hooks', 'drill'];
    case 'schedules':
      return ['relay_log_purge', 'check_repl', 'journal_retention'];
    case 'retention':
      return ['cron', 'keep_days'];
    case 'etcd':
      return ['endpoints', 'prefix', 'lease_ttl', 'instance', 'request_timeout', 'sharding'];
    case 'http':
      return ['listen', 'token_file'];
    case 'publish':
      return ['prefix', 'interval', 'timeout', 'etcd', 'consul'];
    case 'consul':
      return ['address', 'token', 'datacenter'];
    case 'server':
      return ['name', ...Object.keys(LOCAL_KEYS), ...Object.keys(SERVER_KEYS)];
    case 'ssh':
      return Object.keys(SSH_KEYS);
    case 'other':
      return [];
  }
}

const NOUN: Record<string, string> = { array: 'a list', object: 'a map', record: 'a map', string: 'a string', number: 'a number', boolean: 'true or false' };

function issueToProblems(issue: z.core.$ZodIssue, data: unknown, at: Locate): Problem[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const last = path[path.length - 1];
  const label = typeof last === 'string' ? (path[path.length - 2] === 'host_key_fingerprints' ? `host_key_fingerprints[${JSON.stringify(last)}]` : last) : pathString(path);
  const value = valueAt(data, path);
  if (issue.code === 'unrecognized_keys') {
    const ctx = contextOf(path);
    return issue.keys.map((key) => {
      const where = pathString(path);
      let message: string;
      if ((ctx === 'cluster' || ctx === 'defaults') && isLocalKey(key)) {
        message = `${key} is a per-server option (MHA scope "Local") and cannot be set in ${where}; set it in each entry of servers`;
      } else if (ctx === 'server' && (isClusterKey(key) || key === 'ssh')) {
        message = `${key} is a cluster option and cannot be set per server (${where}); set it on the cluster or under defaults`;
      } else if (ctx === 'defaults' && key === 'servers') {
        message = `servers cannot be set under defaults; list them under clusters.NAME.servers`;
      } else {
        message = `unknown key "${key}" in ${where}${didYouMean(key, knownKeys(ctx))}`;
      }
      return { ...at.loc([...path, key], true), message };
    });
  }
  if (value === undefined && (issue.code === 'invalid_type' || issue.code === 'custom')) {
    const parent = path.slice(0, -1);
    const what = path.length === 0 ? 'the file is empty; expected a map with a "clusters" key' : `missing required key "${String(last)}" in ${pathString(parent)}`;
    return [{ ...at.loc(parent), message: what }];
  }
  if (issue.code === 'custom') return [{ ...at.loc(path), message: `${label} ${issue.message}` }];
  if (issue.code === 'invalid_type') {
    const isSecretish = typeof last === 'string' && /password/.test(last);
    const got = isSecretish ? '' : ` (got ${showValue(value)})`;
    return [{ ...at.loc(path), message: `${path.length === 0 ? 'the file' : label} must be ${NOUN[issue.expected] ?? issue.expected}${got}` }];
  }
  return [{ ...at.loc(path), message: `${pathString(path)}: ${issue.message}` }];
}

// ---------------------------------------------------------------- parse

export interface YamlParseResult {
  state_dir: At<string> | undefined;
  /** undefined: not set (the default applies); null: disabled. */
  http?: HttpSettings | null | undefined;
  /** http.token_file as written (relative to the file), with its location. */
  httpTokenFile?: At<string> | undefined;
  /** Manager HA; undefined: not configured. */
  etcd?: EtcdSettings | undefined;
  /** Service discovery; the Consul token still a SecretSpec (resolved by the loader). */
  publish?: PublishInput | undefined;
  clusters: ClusterInput[];
  problems: Problem[];
  /** Files that hold an inline password (this one, when it does). */
  inlineSecretFiles: string[];
}

/** A value whose location is looked up only when a message needs it (most values never do). */
function lazyAt<T>(value: T, locate: () => Loc): At<T> {
  let cached: Loc | undefined;
  return {
    value,
    get loc(): Loc {
      cached ??= locate();
      return cached;
    },
  };
}

/** The first key that repeats within one map (yaml's "Map keys must be unique"), in linear time. */
function duplicateKey(doc: Document): { message: string; pos: [number, number] } | undefined {
  let found: { message: string; pos: [number, number] } | undefined;
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<unknown>();
      for (const p of map.items) {
        const k = isScalar(p.key) ? p.key.value : p.key;
        if (seen.has(k)) {
          const range = (p.key as Node | null)?.range ?? map.range ?? [0, 0];
          found = { message: 'Map keys must be unique', pos: [range[0], range[1]] };
          return visit.BREAK;
        }
        seen.add(k);
      }
      return undefined;
    },
  });
  return found;
}

/** A YAML syntax error, as one line (yaml's messages carry a code frame after the first line). */
function syntaxProblem(file: string, lc: LineCounter, err: { message: string; pos: [number, number] }): Problem {
  const first = (err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?\s*$/, '').trim();
  return { file, line: lc.linePos(err.pos[0]).line, message: `YAML syntax error: ${first}` };
}

export interface PublishInput {
  prefix: string;
  interval: number;
  timeout: number;
  etcd?: { endpoints: string[] } | undefined;
  consul?: { address: string; token?: At<SecretSpec> | undefined; datacenter?: string | undefined } | undefined;
}

/** The deepest nesting a configuration may have (it needs about 8). */
export const MAX_DEPTH = 64;

/** The first node nested deeper than MAX_DEPTH (an iterative walk: no recursion to overflow). */
function tooDeep(root: unknown): Node | undefined {
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [n, d] = stack.pop()!;
    if (d > MAX_DEPTH) return n as Node;
    if (isMap(n) || isSeq(n)) for (const it of n.items as unknown[]) stack.push([it, d + 1]);
    else if (isPair(n)) {
      stack.push([n.key, d]);
      stack.push([n.value, d]);
    }
  }
  return undefined;
}

function firstAlias(root: unknown): Node | undefined {
  let found: Node | undefined;
  visit(root as Node, { Alias: (_k, n) => { found ??= n; return visit.BREAK; } });
  return found;
}

/**
 * Parses and validates the YAML configuration. A valid file takes the fast path (js-yaml, no line numbers
 * until a message needs one); anything else is parsed again by the yaml package with every node's line,
 * and every problem names its file:line exactly as before.
 */
export function parseYamlConfig(text: string, file: string): YamlParseResult {
  const data = fastParse(text);
  if (data !== undefined) {
    const res = rootSchema.safeParse(data);
    if (res.success) return build(res.data, new LazyLocator(text, file), file);
  }
  return slowParse(text, file);
}

/** The slow path alone (tests compare both paths). */
export function slowParse(text: string, file: string): YamlParseResult {
  const { doc, lc } = parseWithLines(text);
  const empty: YamlParseResult = { state_dir: undefined, clusters: [], problems: [], inlineSecretFiles: [] };
  const firstErr = doc.errors[0];
  if (firstErr) {
    if (firstErr.code === 'MULTIPLE_DOCS') return { ...empty, problems: [{ file, line: lc.linePos(firstErr.pos[0]).line, message: 'a second YAML document starts here ("---"): a configuration is one document; remove the separator or split the file' }] };
    if (/call stack/i.test(firstErr.message)) return { ...empty, problems: [{ file, line: 1, message: `the document is nested too deeply (more than ${MAX_DEPTH} levels): this is not a configuration` }] };
    return { ...empty, problems: [syntaxProblem(file, lc, firstErr)] };
  }
  const deep = tooDeep(doc.contents);
  if (deep) return { ...empty, problems: [{ file, line: deep.range ? lc.linePos(deep.range[0]).line : 1, message: `the document is nested too deeply here (more than ${MAX_DEPTH} levels): this is not a configuration` }] };
  const dup = duplicateKey(doc); // after the depth check: yaml's visit recurses
  if (dup) return { ...empty, problems: [syntaxProblem(file, lc, dup)] };
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // The yaml package refuses an alias that expands too much ("billion laughs").
    const alias = firstAlias(doc.contents);
    return { ...empty, problems: [{ file, line: alias?.range ? lc.linePos(alias.range[0]).line : 1, message: `YAML aliases expand too much (${(err as Error).message}); a configuration needs no alias of an alias: write the values out` }] };
  }
  const at = new Locator(doc, lc, file);
  const res = rootSchema.safeParse(data);
  if (!res.success) {
    const problems = res.error.issues.flatMap((i) => issueToProblems(i, data, at));
    problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    return { ...empty, problems };
  }
  return build(res.data, at, file);
}

/** The layered input from validated data. */
function build(root: RootData, at: Locate, file: string): YamlParseResult {
  const problems: Problem[] = [];
  const clusters: ClusterInput[] = [];
  const names = Object.keys(root.clusters);
  if (names.length === 0) problems.push({ ...at.loc(['clusters'], true), message: 'no clusters defined under clusters' });

  let inline = false;
  const d: Raw = root.defaults ?? {};
  for (const name of names) {
    const cl = root.clusters[name];
    if (!cl) continue;
    const cpath = ['clusters', name];
    if (!CLUSTER_NAME_RE.test(name)) {
      problems.push({ ...at.loc(cpath, true), message: `cluster name ${JSON.stringify(name)} is invalid: use letters, digits, "_", "." and "-" only` });
    }
    // The value of a key from the nearest layer: server < cluster < defaults.
    const pick = <T>(layers: [Raw | undefined, Path][], key: string): At<T> | undefined => {
      for (const [obj, p] of layers) {
        if (obj && obj[key] !== undefined) return lazyAt(obj[key] as T, () => at.loc([...p, key]));
      }
      return undefined;
    };
    const clusterLayers: [Raw | undefined, Path][] = [[cl, cpath], [d, ['defaults']]];
    const cluster: Layer<ClusterValues> = {};
    for (const k of Object.keys(CLUSTER_KEYS) as (keyof ClusterValues)[]) {
      (cluster as Record<string, unknown>)[k] = pick(clusterLayers, k);
    }
    const cssh = cl.ssh as Raw | undefined;
    const dssh = d.ssh as Raw | undefined;
    const sshLayers: [Raw | undefined, Path][] = [[cssh, [...cpath, 'ssh']], [dssh, ['defaults', 'ssh']]];
    const ssh: Layer<SshValues> = {
      known_hosts: pick(sshLayers, 'known_hosts'),
      identity_file: pick(sshLayers, 'identity_file'),
      connect_timeout: pick(sshLayers, 'connect_timeout'),
      insecure_skip_host_key_check: pick(sshLayers, 'insecure_skip_host_key_check'),
      options: pick(sshLayers, 'options'),
    };
    const dfp = dssh?.host_key_fingerprints as Record<string, string> | undefined;
    const cfp = cssh?.host_key_fingerprints as Record<string, string> | undefined;
    if (dfp || cfp) {
      ssh.host_key_fingerprints = {
        value: { ...dfp, ...cfp },
        loc: at.loc(cfp ? [...cpath, 'ssh', 'host_key_fingerprints'] : ['defaults', 'ssh', 'host_key_fingerprints']),
      };
    }

    const servers: ServerInput[] = cl.servers.map((s, i) => {
      const spath = [...cpath, 'servers', i];
      const values: Layer<LocalValues & ServerValues> = {};
      const rec = values as Record<string, unknown>;
      for (const k of Object.keys(LOCAL_KEYS)) rec[k] = pick([[s, spath]], k);
      for (const k of Object.keys(SERVER_KEYS)) rec[k] = pick([[s, spath], [cl, cpath], [d, ['defaults']]], k);
      const hostname = typeof s.hostname === 'string' ? s.hostname : '';
      const sname = typeof s.name === 'string' ? s.name : hostname;
      return { name: sname, loc: at.loc(spath), values };
    });
    for (const layer of [d, cl, ...cl.servers]) {
      for (const k of ['password', 'repl_password']) {
        const v = layer[k];
        if (v !== undefined && typeof v === 'object' && v !== null && (v as { kind?: string }).kind === 'inline') inline = true;
      }
    }
    // schedules: each job from the cluster, else from defaults.
    const schedules: ScheduleSettings = { ...(d.schedules as ScheduleSettings | undefined), ...(cl.schedules as ScheduleSettings | undefined) };
    for (const k of Object.keys(schedules) as (keyof ScheduleSettings)[]) if (schedules[k] === undefined) delete schedules[k];
    clusters.push({ name, loc: at.loc(cpath, true), format: 'yaml', cluster, ssh, servers, schedules, hooks: cl.hooks as HooksConfig | undefined, drill: cl.drill as 'allowed' | 'forbidden' | undefined });
  }
  let publish: PublishInput | undefined;
  if (root.publish) {
    const pb = root.publish;
    let etcdEndpoints: string[] | undefined;
    if (pb.etcd === true) {
      if (root.etcd === undefined) problems.push({ ...at.loc(['publish', 'etcd']), message: 'publish.etcd: true publishes to the endpoints of etcd:, which is not configured; list them in publish.etcd.endpoints, or configure etcd:' });
      else etcdEndpoints = root.etcd.endpoints;
    } else if (pb.etcd !== undefined && pb.etcd !== false) etcdEndpoints = pb.etcd.endpoints;
    if (etcdEndpoints === undefined && pb.consul === undefined && !(pb.etcd === true && root.etcd === undefined)) problems.push({ ...at.loc(['publish']), message: 'publish: says where to publish: etcd (true, or { endpoints }) and/or consul ({ address })' });
    publish = {
      prefix: pb.prefix ?? PUBLISH_DEFAULTS.prefix,
      interval: pb.interval ?? PUBLISH_DEFAULTS.interval,
      timeout: pb.timeout ?? PUBLISH_DEFAULTS.timeout,
      ...(etcdEndpoints ? { etcd: { endpoints: etcdEndpoints } } : {}),
      ...(pb.consul ? { consul: { address: pb.consul.address, datacenter: pb.consul.datacenter, token: pb.consul.token ? { value: pb.consul.token, loc: at.loc(['publish', 'consul', 'token']) } : undefined } } : {}),
    };
    if (pb.consul?.token?.kind === 'inline') inline = true;
  }
  return {
    publish,
    state_dir: root.state_dir === undefined ? undefined : { value: root.state_dir, loc: at.loc(['state_dir']) },
    http: root.http?.listen,
    httpTokenFile: root.http?.token_file === undefined ? undefined : { value: root.http.token_file, loc: at.loc(['http', 'token_file']) },
    etcd: root.etcd
      ? { endpoints: root.etcd.endpoints, prefix: root.etcd.prefix ?? ETCD_DEFAULTS.prefix, lease_ttl: root.etcd.lease_ttl ?? ETCD_DEFAULTS.lease_ttl, instance: root.etcd.instance, request_timeout: root.etcd.request_timeout ?? ETCD_DEFAULTS.request_timeout, sharding: root.etcd.sharding ?? false }
      : undefined,
    clusters,
    problems,
    inlineSecretFiles: inline ? [file] : [],
  };
}

