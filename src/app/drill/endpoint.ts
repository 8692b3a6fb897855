/**
 * Where the drill's writer connects: the endpoint the applications use. In
 * order: --endpoint; the VIP of a vip hook; the frontend of an haproxy hook
 * (its verify address); the first name of a hosts hook (resolved on this
 * machine); else read_only routing: whichever server is writable now, as a
 * proxy that routes writes by read_only (ProxySQL) would.
 */
import type { ClusterConfig } from '../../config/types.js';
import type { HookSpec } from '../../config/hooks.js';

export type EndpointChoice =
  | { kind: 'explicit' | 'vip' | 'haproxy' | 'hosts'; host: string; port: number; why: string }
  | { kind: 'read-only-routing'; why: string };

export function parseHostPort(text: string, defaultPort: number): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_.-]+))(?::(\d{1,5}))?$/.exec(text.trim());
  if (!m) return undefined;
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '', port };
}

/** Pure: the endpoint from the options and the cluster's hooks. Throws on a malformed --endpoint. */
export function chooseEndpoint(cluster: ClusterConfig, hooks: readonly HookSpec[], explicit?: string): EndpointChoice {
  const port = cluster.servers[0]?.port ?? 3306;
  if (explicit !== undefined) {
    const hp = parseHostPort(explicit, port);
    if (!hp) throw new Error(`--endpoint "${explicit}": give HOST or HOST:PORT`);
    return { kind: 'explicit', ...hp, why: `--endpoint ${hp.host}:${hp.port}` };
  }
  for (const h of hooks) {
    if (h.type === 'vip') {
      const host = h.address.split('/')[0] ?? h.address;
      return { kind: 'vip', host, port, why: `the VIP ${host} of hook ${h.name}` };
    }
  }
  for (const h of hooks) {
    if (h.type === 'haproxy' && h.verify) return { kind: 'haproxy', host: h.verify.host, port: h.verify.port, why: `HAProxy at ${h.verify.host}:${h.verify.port} (hook ${h.name})` };
  }
  for (const h of hooks) {
    if (h.type === 'hosts' && h.names[0] !== undefined) return { kind: 'hosts', host: h.names[0], port, why: `the name ${h.names[0]} of hook ${h.name}, as this machine resolves it` };
  }
  return { kind: 'read-only-routing', why: 'no VIP, HAProxy or hosts name configured: the writable server (read_only=OFF), as read_only-based routing would' };
}
