/**
 * Publishing the master for service discovery, in orchestrator's KV layout
 * (KVClusterMasterPrefix "mysql/master"):
 *
 *   PREFIX/mysql/master/CLUSTER            host:port
 *   PREFIX/mysql/master/CLUSTER/hostname   host
 *   PREFIX/mysql/master/CLUSTER/port       port
 *   PREFIX/mysql/master/CLUSTER/ipv4       the IPv4 address (absent when unknown)
 *
 * so proxies and confd / consul-template follow the master without a hook.
 * Pure: which keys, and whether a server may be published at all. A fenced
 * (read_only) or failed server never is.
 */

export interface PublishedMaster {
  /** Config name, for logs. */
  name: string;
  hostname: string;
  port: number;
  /** IPv4 address, when known. */
  ipv4?: string | undefined;
}

export interface KvWrite {
  key: string;
  /** undefined: delete the key (a part that is unknown must not keep an old master's value). */
  value: string | undefined;
}

/** PREFIX/mysql/master/CLUSTER ('' prefix: orchestrator's keys exactly). */
export function masterKey(prefix: string, cluster: string): string {
  const p = prefix.replace(/\/+$/, '');
  return `${p === '' ? '' : `${p}/`}mysql/master/${cluster}`;
}

/** host:port, with an IPv6 literal in brackets. */
export function hostPort(hostname: string, port: number): string {
  return `${hostname.includes(':') && !hostname.startsWith('[') ? `[${hostname}]` : hostname}:${port}`;
}

export function isIpv4(s: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  return m !== null && m.slice(1).every((x) => Number(x) <= 255);
}

/** The writes that publish `m`: the parts first, the main key last (a watcher of the main key then reads complete parts). */
export function masterWrites(prefix: string, cluster: string, m: PublishedMaster): KvWrite[] {
  const k = masterKey(prefix, cluster);
  return [
    { key: `${k}/hostname`, value: m.hostname },
    { key: `${k}/port`, value: String(m.port) },
    { key: `${k}/ipv4`, value: m.ipv4 !== undefined && isIpv4(m.ipv4) ? m.ipv4 : undefined },
    { key: k, value: hostPort(m.hostname, m.port) },
  ];
}

/** The keys that retract a publication (main key first: a watcher stops following at once). */
export function retractWrites(prefix: string, cluster: string): KvWrite[] {
  const k = masterKey(prefix, cluster);
  return [k, `${k}/hostname`, `${k}/port`, `${k}/ipv4`].map((key) => ({ key, value: undefined }));
}

export interface PublishCandidate {
  name: string;
  /** The monitor's current master. */
  isCurrentMaster: boolean;
  /** Old master of a failover that has not rejoined. */
  failed: boolean;
  /** Last seen read_only (a fenced server is read_only); undefined = not observed. */
  readOnly: boolean | undefined;
  /** The last health check of it succeeded. */
  healthy: boolean;
}

export type PublishDecision = { publish: true } | { publish: false; reason: string };

/** May this server be published as the master? Never a failed, fenced, unobserved or unhealthy one. */
export function mayPublish(c: PublishCandidate): PublishDecision {
  if (!c.isCurrentMaster) return { publish: false, reason: `${c.name} is not the current master` };
  if (c.failed) return { publish: false, reason: `${c.name} is a failed old master` };
  if (c.readOnly === undefined) return { publish: false, reason: `${c.name} has not been observed yet` };
  if (c.readOnly) return { publish: false, reason: `${c.name} is read_only (fenced, or not yet promoted)` };
  if (!c.healthy) return { publish: false, reason: `${c.name} fails its health checks` };
  return { publish: true };
}

/** Does the main key's value name this server? (Then retracting it is right when the server is fenced.) */
export function pointsAt(value: string | undefined, hostname: string, port: number): boolean {
  return value !== undefined && value === hostPort(hostname, port);
}
