/**
 * Failover/switchover hooks: the configuration model (YAML `hooks:` of a
 * cluster), its schema, and how MHA's script keys map onto it. Pure: no I/O.
 *
 *   hooks:
 *     environment: production          # which set runs (mhats hooks test --environment overrides)
 *     sets:
 *       production:
 *         - { name: vip, type: vip, address: 10.0.0.100/24, interface: eth0 }
 *         - { name: app-hosts, type: hosts, names: [db-master.example], targets: [app1, app2] }
 *       staging:
 *         - { name: lb, type: haproxy, socket: /run/haproxy/admin.sock, backend: mysql }
 *
 * Phases (MHA's hook points):
 *   stop                 Phase 2, after fencing: MHA's stop/stopssh (fence, remove the VIP, drain the LB)
 *   start                Phase 3.5, before the new master becomes writable (MHA's start)
 *   report               Phase 5 (MHA's report_script); never aborts
 *   online_change_stop   switchover, before writes are blocked on the old master
 *   online_change_start  switchover, once the new master is chosen
 */
import { z } from 'zod';

export const HOOK_PHASES = ['stop', 'start', 'report', 'online_change_stop', 'online_change_start'] as const;
export type HookPhase = (typeof HOOK_PHASES)[number];
export const HOOK_TYPES = ['hosts', 'vip', 'haproxy', 'mha-script', 'command'] as const;
export type HookType = (typeof HOOK_TYPES)[number];
/** abort: a failure stops the failover (only before promotion); continue: report and go on; mha: exit 0 ok, 10 continue, else abort. */
export const HOOK_POLICIES = ['abort', 'continue', 'mha'] as const;
export type HookPolicy = (typeof HOOK_POLICIES)[number];
export const MHA_SCRIPTS = ['master_ip_failover', 'master_ip_online_change', 'shutdown', 'report'] as const;
export type MhaScriptKind = (typeof MHA_SCRIPTS)[number];

/** Phases in which a failure may still abort: nothing has been promoted yet. */
export const ABORTABLE_PHASES: ReadonlySet<HookPhase> = new Set(['stop', 'start', 'online_change_stop', 'online_change_start']);

/** An SSH destination (app server, load balancer). */
export interface SshDest {
  host: string;
  port: number;
  /** Login user; default: the SSH client's default (the manager's OS user). */
  user?: string | undefined;
}

interface HookBase {
  name: string;
  phases: HookPhase[];
  /** Seconds; the hook's process group is killed at the deadline. */
  timeout: number;
  on_failure: HookPolicy;
  /**
   * Policies that differ by phase when on_failure is not set: a vip or haproxy hook that fails to take
   * the address (or the traffic) away from the old master aborts before promotion, so the VIP is
   * never on two hosts.
   */
  phase_policies?: Partial<Record<HookPhase, HookPolicy>> | undefined;
}

/** The failure policy of a hook in a phase. */
export function policyFor(h: Pick<HookBase, 'on_failure' | 'phase_policies'>, phase: HookPhase): HookPolicy {
  return h.phase_policies?.[phase] ?? h.on_failure;
}

export interface HostsHook extends HookBase {
  type: 'hosts';
  /** Service names that must resolve to the master. */
  names: string[];
  targets: SshDest[];
  /** Remote file (default /etc/hosts). */
  path: string;
  /** rsync --inplace: needed when the target is a bind mount (ip netns exec, containers). */
  inplace: boolean;
  /** Local template ({{new_master_ip}}, {{new_master_host}}, {{new_master_name}}, {{names}}, {{cluster}}); default: the host's existing file, edited. */
  template?: string | undefined;
  /** Address the apps use for a server, by server name; default its `ip`. */
  addresses: Record<string, string>;
  /** Per app server deadline (seconds); default the hook timeout. */
  host_timeout?: number | undefined;
  verify: boolean;
}

export interface VipHook extends HookBase {
  type: 'vip';
  /** Address with prefix, e.g. 10.0.0.100/24 (/32 when none is given). */
  address: string;
  interface: string;
  arping_count: number;
  /** Connect to the VIP (the master's port) and check it is the new master. */
  verify: boolean;
}

export interface HaproxyHook extends HookBase {
  type: 'haproxy';
  mode: 'runtime-api' | 'rewrite';
  /** runtime-api: the admin socket (level admin). */
  socket?: string | undefined;
  /** runtime-api: the socket is on this host, reached over SSH (socat there). */
  ssh?: SshDest | undefined;
  backend: string;
  /** HAProxy server name per mhats server name; default the same name. */
  servers: Record<string, string>;
  /** rewrite: the haproxy.cfg to rewrite (local). */
  config_file?: string | undefined;
  /** rewrite: the reload command (argv), e.g. [systemctl, reload, haproxy]. */
  reload?: string[] | undefined;
  haproxy_bin: string;
  /** Connect through HAProxy here and check it reaches the new master. */
  verify?: { host: string; port: number } | undefined;
}

export interface MhaScriptHook extends HookBase {
  type: 'mha-script';
  script: MhaScriptKind;
  /** The configured value, as MHA uses it: a command prefix read by /bin/sh. */
  command: string;
}

export interface CommandHook extends HookBase {
  type: 'command';
  /** argv; the context is in MHATS_* variables, on stdin (JSON) and in MHATS_CONTEXT_FILE. */
  command: string[];
}

export type HookSpec = HostsHook | VipHook | HaproxyHook | MhaScriptHook | CommandHook;

export interface HooksConfig {
  /** The set that runs; undefined = no set (only MHA's script keys). */
  environment?: string | undefined;
  sets: Record<string, HookSpec[]>;
}

export const DEFAULT_PHASES: Record<Exclude<HookType, 'command' | 'mha-script'>, HookPhase[]> = {
  hosts: ['start', 'online_change_start'],
  vip: ['stop', 'start', 'online_change_stop', 'online_change_start'],
  haproxy: ['stop', 'start', 'online_change_stop', 'online_change_start'],
};

export const MHA_SCRIPT_PHASES: Record<MhaScriptKind, HookPhase[]> = {
  master_ip_failover: ['stop', 'start'],
  shutdown: ['stop'],
  report: ['report'],
  master_ip_online_change: ['online_change_stop', 'online_change_start'],
};

/** Phases in which a built-in can act. */
const ALLOWED_PHASES: Record<Exclude<HookType, 'command' | 'mha-script'>, HookPhase[]> = {
  hosts: ['start', 'online_change_start'],
  vip: ['stop', 'start', 'online_change_stop', 'online_change_start'],
  haproxy: ['stop', 'start', 'online_change_stop', 'online_change_start'],
};

export const DEFAULT_HOOK_TIMEOUT_S = 30;
/** MHA scripts: MHA has no deadline at all; mhats gives them 60 s. */
export const DEFAULT_MHA_SCRIPT_TIMEOUT_S = 60;

// ---------------------------------------------------------------- schema

const NAME_RE = /^[A-Za-z0-9_.:-]+$/;
const HOSTNAME_RE = /^[A-Za-z0-9_.:-]+$/;
const IFACE_RE = /^[A-Za-z0-9_.:@-]{1,15}$/;
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

const posSeconds = z.number({ error: 'must be a number of seconds > 0' }).positive({ error: 'must be a number of seconds > 0' });
const nonEmpty = z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' });
const safeName = z.string({ error: 'must be a string' }).regex(NAME_RE, { error: 'may hold letters, digits, "_", ".", ":" and "-" only' });
const port = z.number({ error: 'must be a port number (1-65535)' }).int().min(1).max(65535);

/** "host", "user@host", "host:port", "user@host:port", or { host, port, user }. */
export function parseSshDest(v: string): SshDest | undefined {
  const m = /^(?:([A-Za-z0-9_.-]+)@)?([A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$/.exec(v.trim());
  if (!m) return undefined;
  const p = m[3] === undefined ? 22 : Number(m[3]);
  if (p < 1 || p > 65535) return undefined;
  return { host: (m[2] ?? '').replace(/^\[|\]$/g, ''), port: p, ...(m[1] ? { user: m[1] } : {}) };
}

const sshDest: z.ZodType<SshDest> = z.union([
  z.string().transform((v, ctx) => {
    const d = parseSshDest(v);
    if (d) return d;
    ctx.addIssue({ code: 'custom', message: `must be "host", "user@host" or "user@host:port" (got ${JSON.stringify(v)})` });
    return z.NEVER;
  }),
  z.strictObject({ host: z.string().regex(HOSTNAME_RE, { error: 'must be a host name or address' }), port: port.default(22), user: z.string().regex(/^[A-Za-z0-9_.-]+$/).optional() }),
]);

const phases = z
  .union([z.enum(HOOK_PHASES), z.array(z.enum(HOOK_PHASES)).min(1)], { error: `must be one of ${HOOK_PHASES.join(', ')}, or a list of them` })
  .transform((v) => (Array.isArray(v) ? [...new Set(v)] : [v]));

const base = {
  name: safeName.optional(),
  phases: phases.optional(),
  timeout: posSeconds.optional(),
  on_failure: z.enum(HOOK_POLICIES, { error: `must be one of ${HOOK_POLICIES.join(', ')}` }).optional(),
};

const hostsSchema = z.strictObject({
  ...base,
  type: z.literal('hosts'),
  names: z.union([safeName.transform((n) => [n]), z.array(safeName).min(1)]),
  targets: z.array(sshDest).min(1, { error: 'must list at least one app server' }),
  path: nonEmpty.default('/etc/hosts'),
  inplace: z.boolean().default(false),
  template: nonEmpty.optional(),
  addresses: z.record(z.string(), z.string().regex(HOSTNAME_RE, { error: 'must be an address' })).default({}),
  host_timeout: posSeconds.optional(),
  verify: z.boolean().default(true),
});

const vipSchema = z.strictObject({
  ...base,
  type: z.literal('vip'),
  address: z.string().transform((v, ctx) => {
    const [ip, prefix] = v.trim().split('/');
    const n = prefix === undefined ? 32 : Number(prefix);
    if (ip === undefined || !IPV4_RE.test(ip) || !Number.isInteger(n) || n < 1 || n > 32) {
      ctx.addIssue({ code: 'custom', message: `must be an IPv4 address with an optional prefix, e.g. 10.0.0.100/24 (got ${JSON.stringify(v)})` });
      return z.NEVER;
    }
    return `${ip}/${n}`;
  }),
  interface: z.string().regex(IFACE_RE, { error: 'must be a network interface name (e.g. eth0)' }),
  arping_count: z.number().int().min(0).max(20).default(3),
  verify: z.boolean().default(true),
});

const haproxySchema = z.strictObject({
  ...base,
  type: z.literal('haproxy'),
  mode: z.enum(['runtime-api', 'rewrite']).default('runtime-api'),
  socket: nonEmpty.optional(),
  ssh: sshDest.optional(),
  backend: safeName,
  servers: z.record(z.string(), safeName).default({}),
  config_file: nonEmpty.optional(),
  reload: z.array(nonEmpty).min(1).optional(),
  haproxy_bin: nonEmpty.default('haproxy'),
  verify: z.strictObject({ host: z.string().regex(HOSTNAME_RE), port }).optional(),
});

const mhaScriptSchema = z.strictObject({
  ...base,
  type: z.literal('mha-script'),
  script: z.enum(MHA_SCRIPTS, { error: `must be one of ${MHA_SCRIPTS.join(', ')}` }),
  command: nonEmpty,
});

const commandSchema = z.strictObject({
  ...base,
  type: z.literal('command'),
  command: z.union([nonEmpty.transform((c) => [c]), z.array(nonEmpty).min(1)]),
});

const hookSchema = z.discriminatedUnion('type', [hostsSchema, vipSchema, haproxySchema, mhaScriptSchema, commandSchema], {
  error: `type must be one of ${HOOK_TYPES.join(', ')}`,
});

type RawHook = z.output<typeof hookSchema>;

function complete(h: RawHook, index: number): HookSpec {
  const name = h.name ?? `${h.type}${index === 0 ? '' : `-${index + 1}`}`;
  const isMha = h.type === 'mha-script';
  const defaults: HookPhase[] = h.type === 'mha-script' ? MHA_SCRIPT_PHASES[h.script] : h.type === 'command' ? [] : DEFAULT_PHASES[h.type];
  // Taking the VIP or the traffic away from the old master must not fail silently: abort before promotion.
  const movesTraffic = h.type === 'vip' || h.type === 'haproxy';
  const common = {
    name,
    phases: h.phases ?? defaults,
    timeout: h.timeout ?? (isMha ? DEFAULT_MHA_SCRIPT_TIMEOUT_S : DEFAULT_HOOK_TIMEOUT_S),
    on_failure: h.on_failure ?? (isMha ? 'mha' : 'continue'),
    ...(h.on_failure === undefined && movesTraffic ? { phase_policies: { stop: 'abort', online_change_stop: 'abort' } as const } : {}),
  } as const;
  return { ...h, ...common };
}

export const hooksSchema = z
  .strictObject({
    environment: safeName.optional(),
    sets: z.record(z.string().regex(NAME_RE), z.array(hookSchema)).default({}),
  })
  .superRefine((v, ctx) => {
    if (v.environment !== undefined && !Object.hasOwn(v.sets, v.environment)) {
      ctx.addIssue({ code: 'custom', path: ['environment'], message: `names no set under hooks.sets (sets: ${Object.keys(v.sets).join(', ') || 'none'})` });
    }
    for (const [env, list] of Object.entries(v.sets)) {
      const seen = new Set<string>();
      list.forEach((raw, i) => {
        const h = complete(raw, i);
        const at = ['sets', env, i];
        if (seen.has(h.name)) ctx.addIssue({ code: 'custom', path: [...at, 'name'], message: `duplicate hook name "${h.name}" in set ${env}` });
        seen.add(h.name);
        if (h.phases.length === 0) ctx.addIssue({ code: 'custom', path: at, message: `hook ${h.name}: a command hook needs phases (${HOOK_PHASES.join(', ')})` });
        if (h.type === 'mha-script') {
          const ok = MHA_SCRIPT_PHASES[h.script];
          for (const p of h.phases) if (!ok.includes(p)) ctx.addIssue({ code: 'custom', path: [...at, 'phases'], message: `hook ${h.name}: ${h.script}_script is never called in phase ${p} (MHA calls it in ${ok.join(', ')})` });
        } else if (h.type !== 'command') {
          const ok = ALLOWED_PHASES[h.type];
          for (const p of h.phases) if (!ok.includes(p)) ctx.addIssue({ code: 'custom', path: [...at, 'phases'], message: `hook ${h.name}: a ${h.type} hook has nothing to do in phase ${p} (it acts in ${ok.join(', ')})` });
          if (h.on_failure === 'mha') ctx.addIssue({ code: 'custom', path: [...at, 'on_failure'], message: `hook ${h.name}: on_failure "mha" (exit codes 0/10) is for mha-script and command hooks; use abort or continue` });
        }
        if (h.on_failure === 'abort' && h.phases.every((p) => !ABORTABLE_PHASES.has(p))) {
          ctx.addIssue({ code: 'custom', path: [...at, 'on_failure'], message: `hook ${h.name}: abort is only possible before promotion (phases stop, start, online_change_stop, online_change_start), not in ${h.phases.join(', ')}` });
        }
        if (h.type === 'haproxy') {
          if (h.mode === 'runtime-api' && h.socket === undefined) ctx.addIssue({ code: 'custom', path: at, message: `hook ${h.name}: mode runtime-api needs socket (HAProxy's admin socket, level admin)` });
          if (h.mode === 'rewrite' && (h.config_file === undefined || h.reload === undefined)) ctx.addIssue({ code: 'custom', path: at, message: `hook ${h.name}: mode rewrite needs config_file and reload (e.g. [systemctl, reload, haproxy])` });
        }
      });
    }
  })
  .transform((v): HooksConfig => ({
    environment: v.environment,
    sets: Object.fromEntries(Object.entries(v.sets).map(([env, list]) => [env, list.map((h, i) => complete(h, i))])),
  }));

/** Parse a hooks section outside the YAML loader (tests, tools). */
export function parseHooks(v: unknown): { ok: true; value: HooksConfig } | { ok: false; problems: string[] } {
  const r = hooksSchema.safeParse(v);
  if (r.success) return { ok: true, value: r.data };
  return { ok: false, problems: r.error.issues.map((i) => `${i.path.map(String).join('.') || 'hooks'}: ${i.message}`) };
}

// ---------------------------------------------------------------- the plan

/** The MHA script keys of a cluster, as mha-script hooks, in MHA's order (Phase 2: master_ip_failover, then shutdown). */
export function mhaKeyHooks(c: {
  master_ip_failover_script?: string | undefined;
  shutdown_script?: string | undefined;
  report_script?: string | undefined;
  master_ip_online_change_script?: string | undefined;
}): MhaScriptHook[] {
  const out: MhaScriptHook[] = [];
  const add = (script: MhaScriptKind, command: string | undefined): void => {
    if (command === undefined || command.trim() === '') return;
    out.push({ type: 'mha-script', name: `${script}_script`, script, command, phases: MHA_SCRIPT_PHASES[script], timeout: DEFAULT_MHA_SCRIPT_TIMEOUT_S, on_failure: 'mha' });
  };
  add('master_ip_failover', c.master_ip_failover_script);
  add('shutdown', c.shutdown_script);
  add('report', c.report_script);
  add('master_ip_online_change', c.master_ip_online_change_script);
  return out;
}

export interface HookPlanInput {
  master_ip_failover_script?: string | undefined;
  shutdown_script?: string | undefined;
  report_script?: string | undefined;
  master_ip_online_change_script?: string | undefined;
  hooks?: HooksConfig | undefined;
}

/**
 * The hooks that run for a cluster in an environment: MHA's script keys
 * first (they keep working unchanged), then the environment's set, in order.
 * An environment that names no set is an error.
 */
export function hooksFor(c: HookPlanInput, environment?: string): { ok: true; environment: string | undefined; hooks: HookSpec[] } | { ok: false; reason: string } {
  const env = environment ?? c.hooks?.environment;
  const sets = c.hooks?.sets ?? {};
  if (env !== undefined && !Object.hasOwn(sets, env)) return { ok: false, reason: `no hook set "${env}" (sets: ${Object.keys(sets).join(', ') || 'none'})` };
  return { ok: true, environment: env, hooks: [...mhaKeyHooks(c), ...(env === undefined ? [] : (sets[env] ?? []))] };
}

export function hooksInPhase(hooks: readonly HookSpec[], phase: HookPhase): HookSpec[] {
  return hooks.filter((h) => h.phases.includes(phase));
}

/**
 * May a failover's start hooks run beside the new master's preparation (the
 * saved binlog's apply)? Only when every one of them just moves traffic (the
 * built-in vip, haproxy and hosts hooks never touch read_only). A user's
 * script may make the new master writable itself (MHA's sample
 * master_ip_failover_script sets read_only=0 in "start"): then the start
 * phase runs after the saved transactions are in, as in MHA.
 */
export function startHooksBesidePreparation(hooks: readonly HookSpec[]): boolean {
  return hooksInPhase(hooks, 'start').every((h) => h.type === 'vip' || h.type === 'haproxy' || h.type === 'hosts');
}
