/** Config to what the SSH adapter needs: the one place this mapping lives (check-ssh, failover, salvage, relay diff). */
import type { ClusterConfig, ServerConfig } from '../../config/types.js';
import type { SshClientOptions, SshTarget } from './client.js';

/**
 * From config to what the SSH adapter needs; the one place this mapping lives (failover reuses it).
 * With MHA's ssh_options the per-server settings (its -i/-p/-l/-o and the Host-matched -F
 * ssh_config, already resolved by the config loader) decide; otherwise the cluster's ssh keys.
 */
export function sshOptionsFor(cluster: ClusterConfig, server: ServerConfig): { target: SshTarget; options: SshClientOptions } {
  const ssh = cluster.ssh;
  const h = ssh.hosts?.[server.name];
  if (h) {
    return {
      target: { label: server.name, host: h.host, port: h.port, user: h.user },
      options: {
        identityFiles: h.identity_files,
        identitiesOnly: h.identities_only,
        knownHostsFiles: h.known_hosts,
        fingerprints: { ...ssh.host_key_fingerprints },
        insecureSkipHostKeyCheck: h.strict_host_key_checking === 'no',
        acceptNewHostKeys: h.strict_host_key_checking === 'accept-new',
        hostKeyAlias: h.host_key_alias,
        connectTimeoutMs: Math.max(1, Math.round(h.connect_timeout * 1000)),
        keepaliveIntervalMs: h.server_alive_interval !== undefined && h.server_alive_interval > 0 ? h.server_alive_interval * 1000 : 5000,
        keepaliveCountMax: h.server_alive_count_max ?? 3,
        ...(h.identity_agent !== undefined ? { agentSocket: h.identity_agent } : {}),
        addressFamily: h.address_family,
        compression: h.compression,
        connectionAttempts: h.connection_attempts,
      },
    };
  }
  return {
    target: { label: server.name, host: server.ssh_host, port: server.ssh_port, user: server.ssh_user },
    options: {
      identityFile: ssh.identity_file,
      knownHostsFile: ssh.known_hosts,
      fingerprints: { ...ssh.host_key_fingerprints },
      insecureSkipHostKeyCheck: ssh.insecure_skip_host_key_check,
      connectTimeoutMs: Math.max(1, Math.round(ssh.connect_timeout * 1000)),
      keepaliveIntervalMs: 5000,
    },
  };
}
