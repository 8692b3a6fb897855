/**
 * Puts a sandbox back to its starting topology between the cases of one test
 * file (cheaper than a new sandbox): every server running, db1 the writable
 * master with empty binlogs and GTID state, the others its read-only replicas
 * (delayed ones delayed again once the schema is everywhere), a fresh test
 * database, and a fresh state directory for the journal.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { rootSql, serverAlive, startServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { changeMasterSql, detectFlavor, masterCoordinates, waitReplicating } from '../../src/sandbox/mysqld.js';
import { until } from './cluster.js';

export interface ResetOptions {
  gtid: boolean;
  /** SQL run on db1 once replication is set up (the test's schema). */
  schema: string;
  /** A query every replica must answer with something before the delays are set (the schema arrived). */
  ready: string;
  /** MASTER_DELAY per replica (default: the sandbox's settings). */
  delays?: Record<string, number>;
}

export async function resetSandbox(sb: SandboxInfo, o: ResetOptions): Promise<string> {
  const flavor = await detectFlavor();
  // Every server up (a killed one restarted), with its new PID in sb.
  await Promise.all(
    sb.servers.map(async (s, i) => {
      if (!serverAlive(s)) sb.servers[i] = await startServer(s);
    }),
  );
  const [db1, ...replicas] = sb.servers as [SandboxServer, ...SandboxServer[]];
  const replPassword = readFileSync(sb.replPasswordFile, 'utf8').trim();
  await Promise.all(
    sb.servers.map((s) =>
      rootSql(
        s,
        [
          'STOP SLAVE;',
          'RESET SLAVE ALL;',
          'SET GLOBAL read_only=ON;',
          'SET GLOBAL slave_max_allowed_packet=1073741824;',
          "SET GLOBAL gtid_slave_pos='';",
          'SET SESSION sql_log_bin=0;',
          'DROP DATABASE IF EXISTS t;',
          ...(s.settings?.logBin === false ? [] : ['RESET MASTER;']),
        ].join('\n'),
        30_000,
      ),
    ),
  );
  await rootSql(db1, 'SET GLOBAL read_only=OFF');
  const coords = o.gtid ? undefined : await masterCoordinates(flavor, db1);
  await Promise.all(
    replicas.map(async (r) => {
      await rootSql(r, changeMasterSql(flavor, { master: db1, replUser: sb.replUser, replPassword, gtid: o.gtid, coords, heartbeat: sb.profile === 'production' ? null : 1 }));
      await waitReplicating(flavor, r);
    }),
  );
  await rootSql(db1, o.schema);
  for (const r of replicas) await until(`${r.name} has the schema`, async () => (await rootSql(r, o.ready)).trim() !== '', 20_000);
  for (const r of replicas) {
    const delay = o.delays?.[r.name] ?? r.settings?.delay ?? 0;
    if (delay > 0) await rootSql(r, `STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=${delay}; START SLAVE;`);
  }
  const state = join(sb.dir, 'state');
  rmSync(state, { recursive: true, force: true });
  mkdirSync(state, { recursive: true });
  return state;
}

/** The servers whose read_only is OFF. */
export async function writable(sb: SandboxInfo): Promise<string[]> {
  const out: string[] = [];
  for (const s of sb.servers) {
    if (!serverAlive(s)) continue;
    if ((await rootSql(s, 'SELECT @@global.read_only').catch(() => '1')).trim() === '0') out.push(s.name);
  }
  return out;
}

/** The ids in table t.t on a server. */
export async function ids(s: SandboxServer, table = 't.t'): Promise<Set<number>> {
  const out = await rootSql(s, `SELECT id FROM ${table}`, 30_000);
  return new Set(out.split('\n').filter((l) => l.trim() !== '').map(Number));
}
