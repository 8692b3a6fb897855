/**
 * One failover trial on a fresh sandbox, as an application sees it:
 * continuous writes to the master, kill -9 of the master's mariadbd, then
 * the writer looks for a writable server until one acknowledges a write.
 * Measures the time from the kill to the first acknowledged write on the new
 * master, the manager's detection time and phase breakdown (from its JSON
 * log), and the acknowledged writes lost. Used by bench/failover.ts and the
 * demo (scripts/demo.ts).
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { parse, stringify } from 'yaml';
import { rootSql, sandboxDown, sandboxUp, stopServer, type SandboxInfo } from '../src/sandbox/index.js';
import { onInterrupt } from './interrupt.js';

export const SEMI_SYNC = ['rpl_semi_sync_master_enabled=ON', 'rpl_semi_sync_slave_enabled=ON', 'rpl_semi_sync_master_wait_point=AFTER_SYNC', 'rpl_semi_sync_master_timeout=10000', 'rpl_semi_sync_master_wait_no_slave=OFF'];

export interface TrialOptions {
  dir: string;
  baseAddress: string;
  sshPort: number;
  gtid: boolean;
  replicas?: number;
  /** ms of writes before the kill. */
  warmupMs?: number;
  /** Writes per second (a steady application load); 0 = as fast as one connection goes. */
  rate?: number;
  /** Called with each line of narrative (the demo prints them). */
  say?: (line: string) => void;
  /** The manager's own log lines (the demo shows them). */
  onManagerLine?: (obj: Record<string, unknown>) => void;
  /** Keep the sandbox running afterwards (the demo). */
  keep?: boolean;
}

export interface TrialResult {
  newMaster: string;
  /** kill -9 → first write acknowledged by the new master. */
  downtimeMs: number;
  /** kill -9 → the manager declared the master dead. */
  detectMs: number;
  /** Phase 1 start → failover completed. */
  failoverMs: number;
  phases: Array<{ phase: string; ms: number }>;
  acked: number;
  lost: number;
  sandbox: SandboxInfo;
  configFile: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function failoverTrial(o: TrialOptions): Promise<TrialResult> {
  const say = o.say ?? (() => undefined);
  let mgr: ReturnType<typeof spawn> | undefined;
  const cleanUp = onInterrupt(async () => {
    mgr?.kill('SIGKILL');
    await sandboxDown(o.dir);
  });
  const sb = await sandboxUp({ dir: o.dir, baseAddress: o.baseAddress, sshPort: o.sshPort, gtid: o.gtid, replicas: o.replicas ?? 2, extraServerOptions: SEMI_SYNC }).catch((err: unknown) => {
    cleanUp();
    throw err;
  });
  try {
    const [master, ...replicas] = sb.servers;
    const password = readFileSync(sb.adminPasswordFile, 'utf8').trim();
    await rootSql(master!, 'CREATE DATABASE mhats_test; CREATE TABLE mhats_test.t (id INT AUTO_INCREMENT PRIMARY KEY, val VARCHAR(64)) ENGINE=InnoDB');
    const doc = parse(readFileSync(sb.configFile, 'utf8')) as { state_dir: string };
    doc.state_dir = join(sb.dir, 'state');
    const configFile = join(sb.dir, 'mhats.yaml');
    writeFileSync(configFile, stringify(doc), { mode: 0o600 });

    // The manager, as a real process, with default detection settings.
    const lines: Array<Record<string, unknown>> = [];
    mgr = spawn(process.execPath, ['dist/cli/bin.js', 'manager', '--conf', configFile, '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    mgr.stdout!.setEncoding('utf8');
    mgr.stdout!.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const obj = JSON.parse(line) as Record<string, unknown>;
          lines.push(obj);
          o.onManagerLine?.(obj);
        } catch {
          // not JSON
        }
      }
    });
    const waitLine = async (re: RegExp, ms: number): Promise<Record<string, unknown>> => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        const l = lines.find((x) => re.test(String(x.msg)));
        if (l) return l;
        await sleep(20);
      }
      throw new Error(`the manager did not log ${re} within ${ms} ms`);
    };
    await waitLine(/^watching /, 30_000);
    say(`manager is watching: master ${master!.name} (${master!.address}), replicas ${replicas.map((r) => r.name).join(', ')}`);

    // Continuous writes, as the application.
    const acked: number[] = [];
    let stop = false;
    const conn = await mysql.createConnection({ host: master!.address, port: 3306, user: sb.adminUser, password, connectTimeout: 2000 });
    const rate = o.rate ?? 200;
    const writer = (async () => {
      let n = 0;
      const t0 = performance.now();
      try {
        while (!stop) {
          const [r] = await conn.query({ sql: 'INSERT INTO mhats_test.t (val) VALUES (?)', values: [`w${n++}`], timeout: 3000 });
          acked.push((r as mysql.ResultSetHeader).insertId);
          if (rate > 0) {
            const due = t0 + (n * 1000) / rate;
            const wait = due - performance.now();
            if (wait > 0) await sleep(wait);
          }
        }
      } catch {
        // the master died
      } finally {
        conn.destroy();
      }
    })();
    await sleep(o.warmupMs ?? 1500);
    say(`writing continuously (${rate > 0 ? `${rate} writes/s` : 'as fast as possible'}): ${acked.length} writes acknowledged so far`);
    const killWall = Date.now();
    const killMono = performance.now();
    await stopServer(master!, 'SIGKILL');
    say(`kill -9 ${master!.name} (mariadbd pid ${master!.pid})`);
    await writer;
    stop = true;

    // The application looks for a writable server until one acknowledges a write.
    let firstWriteMono = 0;
    let newMasterName = '';
    while (firstWriteMono === 0) {
      if (performance.now() - killMono > 60_000) throw new Error('no writable master within 60 s');
      for (const r of replicas) {
        try {
          const c = await mysql.createConnection({ host: r.address, port: 3306, user: sb.adminUser, password, connectTimeout: 500 });
          try {
            const ro = (await c.query('SELECT @@read_only AS ro'))[0] as Array<{ ro: number }>;
            if (Number(ro[0]?.ro) === 0) {
              const [res] = await c.query({ sql: 'INSERT INTO mhats_test.t (val) VALUES (?)', values: ['first-on-new-master'], timeout: 3000 });
              acked.push((res as mysql.ResultSetHeader).insertId);
              firstWriteMono = performance.now();
              newMasterName = r.name;
              break;
            }
          } finally {
            c.destroy();
          }
        } catch {
          // not yet
        }
      }
      if (firstWriteMono === 0) await sleep(10);
    }
    const downtimeMs = Math.round(firstWriteMono - killMono);
    say(`first write acknowledged by the new master ${newMasterName} ${downtimeMs} ms after the kill`);
    const done = await waitLine(/^now watching the new master/, 60_000);
    const dead = await waitLine(/IS DEAD/, 1000);
    const p1 = lines.find((x) => /^Phase 1: .* started$/.test(String(x.msg)));
    const phases = lines.filter((x) => typeof x.phase === 'string' && typeof x.durationMs === 'number').map((x) => ({ phase: String(x.phase), ms: Number(x.durationMs) }));
    const detectMs = Number(dead.time) - killWall;
    const failoverMs = Number(done.time) - Number(p1?.time ?? done.time);

    // Every acknowledged write must be on the new master.
    const nm = sb.servers.find((s) => s.name === newMasterName)!;
    const have = new Set((await rootSql(nm, 'SELECT id FROM mhats_test.t')).split('\n').filter(Boolean).map(Number));
    const lost = acked.filter((id) => !have.has(id)).length;
    return { newMaster: newMasterName, downtimeMs, detectMs, failoverMs, phases, acked: acked.length, lost, sandbox: sb, configFile };
  } finally {
    if (mgr && mgr.exitCode === null) {
      mgr.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(() => {
          mgr?.kill('SIGKILL');
          r(undefined);
        }, 10_000);
        mgr!.once('exit', () => {
          clearTimeout(t);
          r(undefined);
        });
      });
    }
    if (!o.keep) await sandboxDown(o.dir);
    cleanUp();
  }
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i]!;
}
