/**
 * What a hook is told: the event (failover or switchover), the phase, the old
 * and new master, as MHATS_* environment variables and as one JSON document
 * (in a 0600 file named by MHATS_CONTEXT_FILE, and on stdin for command
 * hooks). Values are never interpolated into a shell string. Passwords are
 * only ever in the environment (MHATS_NEW_MASTER_PASSWORD,
 * MHATS_ORIG_MASTER_PASSWORD), never in the JSON and never in argv.
 */
import type { ClusterConfig, ServerConfig } from '../../config/types.js';
import type { HookPhase } from '../../config/hooks.js';

export interface HookEvent {
  kind: 'failover' | 'switchover';
  phase: HookPhase;
  cluster: ClusterConfig;
  /** Failover or switchover id. */
  id: string;
  environment?: string | undefined;
  origMaster: ServerConfig;
  newMaster?: ServerConfig | undefined;
  /** Failover: is the old master's host reachable over SSH (MHA stopssh vs stop)? Switchover: true. */
  origSshReachable?: boolean | undefined;
  /** Report phase. */
  newSlaves?: ServerConfig[] | undefined;
  outcome?: string | undefined;
  subject?: string | undefined;
  body?: string | undefined;
  /** Switchover. */
  origMasterIsNewSlave?: boolean | undefined;
  /** Switchover rollback: "start" gives the writes back to the original master. */
  rollback?: boolean | undefined;
  /** Extra variables from the caller (e.g. a fencing token); they win over the standard ones. */
  env?: Record<string, string> | undefined;
}

/** MHA's --command value for this phase. */
export function mhaCommand(ev: HookEvent): 'stop' | 'stopssh' | 'start' | 'report' {
  if (ev.phase === 'stop') return ev.origSshReachable ? 'stopssh' : 'stop';
  if (ev.phase === 'online_change_stop') return 'stop';
  if (ev.phase === 'report') return 'report';
  return 'start';
}

function serverDoc(s: ServerConfig): Record<string, unknown> {
  return { name: s.name, hostname: s.hostname, ip: s.ip, port: s.port, user: s.user, ssh_host: s.ssh_host, ssh_port: s.ssh_port, ssh_user: s.ssh_user };
}

/** The JSON document (no secrets). */
export function contextDocument(ev: HookEvent, hookName: string): Record<string, unknown> {
  return {
    version: 1,
    event: ev.kind,
    phase: ev.phase,
    command: mhaCommand(ev),
    hook: hookName,
    cluster: ev.cluster.name,
    id: ev.id,
    environment: ev.environment ?? null,
    orig_master: { ...serverDoc(ev.origMaster), ssh_reachable: ev.origSshReachable ?? null },
    new_master: ev.newMaster ? serverDoc(ev.newMaster) : null,
    new_slaves: ev.newSlaves?.map((s) => s.name) ?? null,
    outcome: ev.outcome ?? null,
    subject: ev.subject ?? null,
    body: ev.body ?? null,
    orig_master_is_new_slave: ev.origMasterIsNewSlave ?? false,
    rollback: ev.rollback ?? false,
  };
}

/** MHATS_* variables. Passwords only where MHA would pass them (start, online change). */
export function contextEnv(ev: HookEvent, hookName: string): Record<string, string> {
  const o = ev.origMaster;
  const env: Record<string, string> = {
    MHATS_CLUSTER: ev.cluster.name,
    MHATS_EVENT: ev.kind,
    MHATS_PHASE: ev.phase,
    MHATS_COMMAND: mhaCommand(ev),
    MHATS_HOOK: hookName,
    MHATS_ENVIRONMENT: ev.environment ?? '',
    MHATS_ORIG_MASTER_NAME: o.name,
    MHATS_ORIG_MASTER_HOST: o.hostname,
    MHATS_ORIG_MASTER_IP: o.ip,
    MHATS_ORIG_MASTER_PORT: String(o.port),
    MHATS_ORIG_MASTER_SSH_HOST: o.ssh_host,
    MHATS_ORIG_MASTER_SSH_PORT: String(o.ssh_port),
    MHATS_ORIG_MASTER_SSH_USER: o.ssh_user,
  };
  if (ev.kind === 'failover') env.MHATS_FAILOVER_ID = ev.id;
  else {
    env.MHATS_SWITCHOVER_ID = ev.id;
    env.MHATS_SWITCHOVER = '1';
  }
  if (ev.origSshReachable !== undefined) env.MHATS_ORIG_MASTER_SSH_REACHABLE = ev.origSshReachable ? '1' : '0';
  const nm = ev.newMaster;
  if (nm) {
    env.MHATS_NEW_MASTER_NAME = nm.name;
    env.MHATS_NEW_MASTER_HOST = nm.hostname;
    env.MHATS_NEW_MASTER_IP = nm.ip;
    env.MHATS_NEW_MASTER_PORT = String(nm.port);
    env.MHATS_NEW_MASTER_USER = nm.user;
    env.MHATS_NEW_MASTER_SSH_HOST = nm.ssh_host;
    env.MHATS_NEW_MASTER_SSH_PORT = String(nm.ssh_port);
    env.MHATS_NEW_MASTER_SSH_USER = nm.ssh_user;
    if (ev.phase === 'start' || ev.phase === 'online_change_start' || ev.phase === 'online_change_stop') env.MHATS_NEW_MASTER_PASSWORD = nm.password.reveal();
  }
  if (ev.kind === 'switchover') {
    env.MHATS_ORIG_MASTER_USER = o.user;
    env.MHATS_ORIG_MASTER_PASSWORD = o.password.reveal();
    if (ev.rollback) env.MHATS_ONLINE_CHANGE_ROLLBACK = '1';
    if (ev.origMasterIsNewSlave) env.MHATS_ORIG_MASTER_IS_NEW_SLAVE = '1';
  }
  if (ev.newSlaves) env.MHATS_NEW_SLAVE_HOSTS = ev.newSlaves.map((s) => s.hostname).join(',');
  if (ev.outcome !== undefined) env.MHATS_OUTCOME = ev.outcome;
  return { ...env, ...ev.env };
}

/** Names of the variables that hold secrets (never logged). */
export const SECRET_ENV = ['MHATS_NEW_MASTER_PASSWORD', 'MHATS_ORIG_MASTER_PASSWORD'] as const;

/**
 * The failover's own variables, passed to every hook of a failover as
 * HookEvent.env (they win over contextEnv's): the failover id, the leader's
 * fencing token (manager HA), the old and the new master. Never a password:
 * contextEnv gives MHATS_NEW_MASTER_PASSWORD to the phases MHA would give it
 * to (start), and these variables must not undo that.
 */
export function hookEnv(cluster: ClusterConfig, dead: ServerConfig, nm: ServerConfig | undefined, id: string, fencingToken?: string): Record<string, string> {
  const env: Record<string, string> = {
    MHATS_CLUSTER: cluster.name,
    MHATS_FAILOVER_ID: id,
    ...(fencingToken !== undefined ? { MHATS_FENCING_TOKEN: fencingToken } : {}),
    MHATS_ORIG_MASTER_HOST: dead.hostname,
    MHATS_ORIG_MASTER_IP: dead.ip,
    MHATS_ORIG_MASTER_PORT: String(dead.port),
  };
  if (nm) {
    env.MHATS_NEW_MASTER_HOST = nm.hostname;
    env.MHATS_NEW_MASTER_IP = nm.ip;
    env.MHATS_NEW_MASTER_PORT = String(nm.port);
    env.MHATS_NEW_MASTER_USER = nm.user;
  }
  return env;
}
