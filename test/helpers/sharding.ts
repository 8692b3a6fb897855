/**
 * Clusters spread over several managers (etcd.sharding) for the integration tests: small sandboxes (a master
 * and one replica each), one manager configuration per instance listing every cluster, and what etcd says
 * about the clusters (their owners, their failover journals).
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { SandboxInfo } from '../../src/sandbox/index.js';
import type { EtcdClient } from '../../src/adapters/leader/etcd-client.js';
import { readOwners } from '../../src/adapters/leader/shards.js';
import type { JournalRecord } from '../../src/domain/guard.js';
import { withSandbox } from './sandbox.js';
import { FAST_DETECTION } from './cluster.js';

/**
 * One sandbox per cluster name: sandbox `${name}-N` at 127.0.(firstOctet+N-1).11 with sshd on port sshPort+N-1.
 * Two at a time: more sshd key logins at once time out on a busy 2-core machine.
 */
export async function clusterSandboxes(name: string, clusterNames: string[], firstOctet: number, sshPort: number): Promise<SandboxInfo[]> {
  const sbs: SandboxInfo[] = [];
  for (let i = 0; i < clusterNames.length; i += 2) {
    sbs.push(...(await Promise.all(clusterNames.slice(i, i + 2).map((clusterName, j) => withSandbox(undefined, { name: `${name}-${i + j + 1}`, clusterName, baseAddress: `127.0.${firstOctet + i + j}.11`, replicas: 1, sshPort: sshPort + i + j })))));
  }
  return sbs;
}

/**
 * One configuration per manager instance (in the first sandbox's directory; instance -> file), each with every
 * cluster (fast detection, no flapping guard) and sharding on etcd. Each cluster gets a master_ip_failover_script
 * ipfail.sh in its sandbox's directory, with the text `hook(sb)`.
 */
export function writeShardedConfigs(sbs: SandboxInfo[], instances: string[], etcd: { endpoint: string; prefix: string; leaseTtl: number }, hook: (sb: SandboxInfo) => string): Map<string, string> {
  const clusters: Record<string, unknown> = {};
  for (const sb of sbs) {
    const c = (parse(readFileSync(sb.configFile, 'utf8')) as { clusters: Record<string, Record<string, unknown>> }).clusters[sb.clusterName]!;
    const script = join(sb.dir, 'ipfail.sh');
    writeFileSync(script, hook(sb));
    chmodSync(script, 0o755);
    clusters[sb.clusterName] = { ...c, ...FAST_DETECTION, last_failover_minute: 0, master_ip_failover_script: script };
  }
  const dir = sbs[0]!.dir;
  const confs = new Map<string, string>();
  for (const name of instances) {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, stringify({ state_dir: join(dir, `state-${name}`), etcd: { endpoints: [etcd.endpoint], prefix: etcd.prefix, lease_ttl: etcd.leaseTtl, request_timeout: 1, instance: name, sharding: true }, clusters }), { mode: 0o600 });
    confs.set(name, file);
  }
  return confs;
}

/** Each cluster's owner (instance name), as etcd says. */
export async function ownerNames(client: EtcdClient, prefix: string): Promise<Map<string, string>> {
  return new Map([...(await readOwners(client, prefix))].map(([c, o]) => [c, o.instance]));
}

/** A cluster's failover journal in etcd. */
export async function etcdJournal(client: EtcdClient, prefix: string, cluster: string): Promise<JournalRecord[]> {
  return (await client.range(`${prefix}/journal/${cluster}/`)).map((kv) => JSON.parse(kv.value) as JournalRecord);
}
