/**
 * A VIP on a netns sandbox (each server in its own namespace, eth0, its own
 * sshd) moved by the built-in vip hook: the lab (1 master + 2 replicas, the
 * VIP on db1, an application writing through the VIP only), the switchover
 * CLI's JSON report, which hosts hold the VIP, every address event while a
 * switch runs (the most hosts it was on at once), and a host whose `ip`
 * fails for one subcommand inside its sshd only (what the vip hook runs there).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse, stringify } from 'yaml';
import { netnsPids, rootSql, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { DrillWriter } from '../../src/adapters/drill/writer.js';
import { withSandbox } from './sandbox.js';
import { cliArgs } from './cli.js';

export interface VipLab {
  sb: SandboxInfo;
  servers: SandboxServer[];
  /** The VIP, without prefix (S.100). */
  vip: string;
  /** A config with the vip hook (verify on) in both online-change phases. */
  conf: string;
  /** Writes through the VIP only, from the application address, 200/s, reconnecting on any error. */
  writer: DrillWriter;
  /** Each server's server_id. */
  ids: Map<string, string>;
  /** Resolves once a write acknowledged after `from` came from server s. */
  landsOn: (s: SandboxServer, from: number) => Promise<void>;
}

/** Up: the sandbox (netns tag, subnet S), mhats_test.w and the app user, the VIP S.100 on db1, the writer running. */
export async function vipLab(o: { name: string; tag: string; subnet: string; sshPort: number; runId: string }): Promise<VipLab> {
  const vip = `${o.subnet}.100`;
  const sb = await withSandbox(undefined, { name: o.name, replicas: 2, sshPort: o.sshPort, netns: { tag: o.tag, subnet: o.subnet }, extraServerOptions: ['bind_address=0.0.0.0'] });
  const servers = sb.servers;
  const db1 = servers[0]!;
  await rootSql(db1, "CREATE DATABASE mhats_test; CREATE TABLE mhats_test.w (id INT AUTO_INCREMENT PRIMARY KEY, run VARCHAR(64), seq INT, at DATETIME(6)) ENGINE=InnoDB; CREATE USER 'app'@'%' IDENTIFIED BY 'app-pw'; GRANT SELECT, INSERT ON mhats_test.* TO 'app'@'%'");
  const doc = parse(readFileSync(sb.configFile, 'utf8')) as { state_dir: string; clusters: Record<string, Record<string, unknown>> };
  doc.state_dir = join(sb.dir, 'state');
  Object.assign(doc.clusters[sb.clusterName]!, { connect_timeout: 2, query_timeout: 5 });
  doc.clusters[sb.clusterName]!.hooks = { environment: 't', sets: { t: [{ name: 'vip', type: 'vip', address: `${vip}/32`, interface: 'eth0', arping_count: 2, verify: true, timeout: 10 }] } };
  const conf = join(sb.dir, `${o.name}.yaml`);
  writeFileSync(conf, stringify(doc), { mode: 0o600 });
  const add = spawnSync('ip', ['-n', db1.netns!.ns, 'addr', 'add', `${vip}/32`, 'dev', 'eth0'], { encoding: 'utf8', timeout: 5000 });
  if (add.status !== 0) throw new Error(`${vip} on db1: ${add.stderr}`);
  const ids = new Map<string, string>();
  for (const s of servers) ids.set(s.name, (await rootSql(s, 'SELECT @@server_id')).trim());
  const writer = new DrillWriter({ resolve: () => Promise.resolve({ host: vip, port: 3306 }), user: 'app', password: 'app-pw', localAddress: sb.netns?.appAddress, rate: 200, table: 'mhats_test.w', run: o.runId, gtids: false, now: () => performance.now(), connectTimeoutMs: 1000, queryTimeoutMs: 2000 });
  writer.start();
  await writer.waitFor(50, 20_000);
  const landsOn = async (s: SandboxServer, from: number): Promise<void> => {
    const end = Date.now() + 20_000;
    while (!writer.acked.slice(from).some((a) => a.by === ids.get(s.name))) {
      if (Date.now() > end) throw new Error(`timed out waiting for a write through ${vip} on ${s.name}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { sb, servers, vip, conf, writer, ids, landsOn };
}

export interface SwitchoverJson {
  outcome: string;
  reason: string;
  writeBlockedMs?: number;
  vipBlockedMs?: number;
  steps: Array<{ step: string; ok: boolean; durationMs: number; detail?: string }>;
  rollback?: { complete: boolean; actions: string[]; problems: string[] };
}

/** `mhats switchover --json --yes` (the CLI from source), without blocking the event loop: its exit code and report. */
export async function switchoverJson(conf: string, ...args: string[]): Promise<{ code: number; stderr: string; report: SwitchoverJson }> {
  const r = await execa(process.execPath, [...cliArgs(), 'switchover', '--conf', conf, '--json', '--yes', ...args], { reject: false, timeout: 90_000, env: { NO_COLOR: '1' }, stdin: 'ignore' });
  let report: SwitchoverJson;
  try {
    report = JSON.parse(String(r.stdout)) as SwitchoverJson;
  } catch {
    throw new Error(`no JSON report (exit ${r.exitCode}):\n${String(r.stdout)}\n${String(r.stderr)}`);
  }
  return { code: r.exitCode ?? -1, stderr: String(r.stderr), report };
}

/** The servers whose namespace holds vip (an address without prefix) on eth0 now. */
export function vipHolders(servers: SandboxServer[], vip: string): string[] {
  return servers.filter((s) => spawnSync('ip', ['-n', s.netns!.ns, '-o', '-4', 'addr', 'show', 'dev', 'eth0'], { encoding: 'utf8', timeout: 5000 }).stdout.includes(` ${vip}/`)).map((s) => s.name);
}

/**
 * Watches every namespace's address events (ip -ts monitor: one wall clock for all) until stopped,
 * then replays them from the holders at the start: the most hosts the VIP was on at once.
 */
export function watchVip(servers: SandboxServer[], vip: string): { stop: () => Promise<{ most: number; events: string[] }> } {
  const start = new Set(vipHolders(servers, vip));
  const events: Array<{ at: string; host: string; added: boolean }> = [];
  const procs = servers.map((s) => {
    const p = spawn('ip', ['-n', s.netns!.ns, '-ts', 'monitor', 'address'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let buf = '';
    p.stdout.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) {
        const m = /^\[([^\]]+)\] (Deleted )?.* inet (\S+) /.exec(l);
        if (m && m[3] === `${vip}/32`) events.push({ at: m[1]!, host: s.name, added: m[2] === undefined });
      }
    });
    return p;
  });
  return {
    stop: async () => {
      await new Promise((r) => setTimeout(r, 300));
      for (const p of procs) p.kill();
      const on = new Set(start);
      let most = on.size;
      const sorted = [...events].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
      for (const e of sorted) {
        if (e.added) on.add(e.host);
        else on.delete(e.host);
        most = Math.max(most, on.size);
      }
      return { most, events: sorted.map((e) => `${e.at} ${e.added ? 'added on' : 'deleted from'} ${e.host}`) };
    },
  };
}

/** The events of watchVip without their time stamps: "deleted from db1", "added on db2", ... */
export const eventNames = (events: string[]): string[] => events.map((e) => e.replace(/^\S+ /, ''));

/**
 * `ip addr <sub>` fails ("Operation not permitted") in server's sshd only: a fake ip bind-mounted over
 * the real one in that sshd's mount namespace (its sessions, hence the vip hook's commands, see it; the
 * test's own `ip -n` does not). Returns the undo.
 */
export function failIpInSshd(dir: string, server: SandboxServer, sub: 'add' | 'del'): () => void {
  const realIp = join(dir, 'real-ip');
  copyFileSync('/usr/bin/ip', realIp);
  chmodSync(realIp, 0o755);
  const fakeIp = join(dir, `fake-ip-${sub}`);
  writeFileSync(fakeIp, `#!/bin/sh\nif [ "$1 $2" = "addr ${sub}" ]; then echo "RTNETLINK answers: Operation not permitted" >&2; exit 2; fi\nexec ${realIp} "$@"\n`);
  chmodSync(fakeIp, 0o755);
  const sshd = netnsPids(server.netns!.ns).find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sshd';
    } catch {
      return false;
    }
  });
  if (sshd === undefined) throw new Error(`no sshd in ${server.netns!.ns}`);
  const mount = spawnSync('nsenter', ['-t', String(sshd), '-m', '--', 'mount', '--bind', fakeIp, '/usr/bin/ip'], { encoding: 'utf8', timeout: 5000 });
  if (mount.status !== 0) throw new Error(`bind-mount a failing ip in ${server.name}'s sshd: ${mount.stderr}`);
  return () => {
    spawnSync('nsenter', ['-t', String(sshd), '-m', '--', 'umount', '/usr/bin/ip'], { encoding: 'utf8', timeout: 5000 });
  };
}
