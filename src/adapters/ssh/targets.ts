/** Config to what the SSH adapter needs: the one place this mapping lives (check-ssh, failover, salvage, relay diff). */
import type { ClusterConfig, ServerConfig } from '../../config/types.js';
import type { SshClientOptions, SshTarget } from './client.js';

/** From config to what the SSH adapter needs; the one place this mapping lives (failover reuses it). */
export function sshOptionsFor(cluster: ClusterConfig, server: ServerConfig): { target: SshTarget; options: SshClientOptions } {
  const ssh = cluster.ssh;
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
