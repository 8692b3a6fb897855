/**
 * A real etcd for a test: its own data directory under the test root,
 * loopback only, its PID recorded for the cleanup script, killed by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { EtcdClient } from '../../src/adapters/leader/etcd-client.js';
import { TEST_ROOT } from './sandbox.js';
import { recordPid } from './manager.js';
import { until } from './cluster.js';

export interface TestEtcd {
  /** http://HOST:2379 */
  url: string;
  client: EtcdClient;
  stop(): Promise<void>;
}

/** Starts etcd on host:2379 (peer 2380); `pidDir` is a sandbox directory the cleanup script reads. */
export async function startEtcd(name: string, host: string, pidDir: string): Promise<TestEtcd> {
  const url = `http://${host}:2379`;
  const dir = join(TEST_ROOT, `${name}-etcd-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const log = openSync(join(dir, 'etcd.log'), 'a');
  const etcd: ChildProcess = spawn('/usr/bin/etcd', [
    '--name', name, '--data-dir', join(dir, 'data'),
    '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', `http://${host}:2380`, '--initial-advertise-peer-urls', `http://${host}:2380`,
    '--initial-cluster', `${name}=http://${host}:2380`, '--initial-cluster-state', 'new',
  ], { stdio: ['ignore', log, log] });
  if (etcd.pid) recordPid(pidDir, etcd.pid, '/usr/bin/etcd');
  const stop = async (): Promise<void> => {
    if (etcd.pid !== undefined && etcd.exitCode === null) {
      const exited = new Promise((r) => etcd.once('exit', r));
      process.kill(etcd.pid, 'SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const client = new EtcdClient({ endpoints: [url], timeoutMs: 1000 });
  try {
    await until('etcd to answer', async () => (await client.get('/probe')) === undefined, 20_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, client, stop };
}
