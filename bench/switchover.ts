/**
 * Benchmark: write-blocked time of `mhats switchover` under continuous writes.
 * One sandbox (1 master + 2 replicas, MariaDB on loopback); a writer that
 * follows whichever server is writable inserts as fast as one connection
 * goes; N switchovers back and forth (db1 → db2 → db1 ..., each with
 * --orig-master-is-new-slave), each run by the CLI as a separate process.
 *
 * Two numbers per run:
 *  - write-blocked: read_only sent to the old master → read_only=OFF
 *    acknowledged by the new master, as measured by mhats (an upper bound of
 *    the server-side window);
 *  - application gap: the longest time between two acknowledged writes as the
 *    writer saw it, which adds the writer's own reconnect (killed session,
 *    look for the writable server, connect).
 * At the end: every acknowledged write is on every server, checksums equal.
 *
 *   node --import tsx bench/switchover.ts [--runs 7] [--gtid]
 *
 * --vip: the issue-11 setting instead. A netns sandbox (each server in its
 * own namespace with its own sshd), a VIP moved by the built-in vip hook
 * (inside the database switch, over the switchover's kept SSH sessions: see
 * the README's "Through a VIP"), and an application that writes through the VIP only (200
 * writes/s, reconnecting on any error). The number that counts is then the
 * write block THROUGH THE VIP: the longest time between two writes
 * acknowledged through it across the switchover. Needs root, iproute2,
 * arping; netns tag i11swo, 10.213.40.0/24 (VIP 10.213.40.100), ssh port 2331.
 * Writes bench/results/switchover-vip.json.
 *
 * Both modes start real servers: run under the machine's test lock
 * (flock -o /run/lock/mhats-test.lock ...).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { parse, stringify } from 'yaml';
import { rootSql, sandboxDown, sandboxUp, type SandboxServer } from '../src/sandbox/index.js';
import { DrillWriter } from '../src/adapters/drill/writer.js';
import { spawnSync } from 'node:child_process';
import { FollowingWriter } from '../test/helpers/writer.js';
import { percentile } from './trial.js';
import { onInterrupt } from './interrupt.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' }, gtid: { type: 'boolean', default: false }, vip: { type: 'boolean', default: false } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
if (values.vip) {
  await vipBench();
  // Writer and SSH sockets may keep the event loop alive: never hold the test lock past the end.
  process.exit(process.exitCode ?? 0);
}
const dir = `/var/tmp/mhats-bench-switchover-${process.pid}`;

onInterrupt(() => sandboxDown(dir));
const sb = await sandboxUp({ dir, baseAddress: '127.0.10.31', ssh: false, gtid: values.gtid, replicas: 2 });
const results: Array<{ run: number; from: string; to: string; writeBlockedMs: number; appGapMs: number; killed: number; steps: Array<{ step: string; ms: number }> }> = [];
let writer: FollowingWriter | undefined;
try {
  const [db1, db2, db3] = sb.servers as [SandboxServer, SandboxServer, SandboxServer];
  await rootSql(db1, "CREATE DATABASE mhats_test; CREATE TABLE mhats_test.t (id INT AUTO_INCREMENT PRIMARY KEY, val VARCHAR(64)) ENGINE=InnoDB; CREATE USER 'app'@'127.%' IDENTIFIED BY 'app-pw'; GRANT SELECT, INSERT ON mhats_test.* TO 'app'@'127.%'");
  const doc = parse(readFileSync(sb.configFile, 'utf8')) as { state_dir: string };
  doc.state_dir = join(sb.dir, 'state');
  const conf = join(sb.dir, 'bench.yaml');
  writeFileSync(conf, stringify(doc), { mode: 0o600 });

  writer = new FollowingWriter(sb.servers.map((s) => ({ host: s.address, port: 3306, user: 'app', password: 'app-pw' })));
  writer.start();
  await writer.waitFor(500);
  let master = db1;
  for (let i = 0; i < runs; i++) {
    const next = master === db1 ? db2 : db1;
    await sleep(500);
    writer.maxGapMs = 0;
    const r = await execa(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'switchover', '--conf', conf, '--yes', '--json', '--orig-master-is-new-slave', '--new-master', next.name], { reject: false, timeout: 120_000 });
    if (r.exitCode !== 0) throw new Error(`switchover ${i + 1} exited ${r.exitCode}:\n${String(r.stderr)}`);
    const rep = JSON.parse(String(r.stdout)) as { writeBlockedMs: number; killedConnections: number; steps: Array<{ step: string; durationMs: number }> };
    await writer.waitForOn(next.address, 200);
    results.push({ run: i + 1, from: master.name, to: next.name, writeBlockedMs: rep.writeBlockedMs, appGapMs: Math.round(writer.maxGapMs), killed: rep.killedConnections, steps: rep.steps.map((s) => ({ step: s.step, ms: s.durationMs })) });
    console.log(`run ${i + 1}/${runs}: ${master.name} → ${next.name}: writes blocked ${rep.writeBlockedMs} ms; longest gap between two acknowledged writes ${Math.round(writer.maxGapMs)} ms; ${rep.killedConnections} session(s) killed`);
    master = next;
  }
  await writer.stop();

  // Nothing lost, everything equal.
  const others = [db1, db2, db3].filter((s) => s !== master);
  const sum = async (s: SandboxServer): Promise<string> => (await rootSql(s, 'CHECKSUM TABLE mhats_test.t')).trim().split('\t')[1] ?? '';
  for (let t = 0; t < 100; t++) {
    const m = await sum(master);
    if ((await Promise.all(others.map(sum))).every((x) => x === m)) break;
    await sleep(100);
  }
  const sums = await Promise.all([master, ...others].map(sum));
  let lost = 0;
  for (const s of [master, ...others]) {
    const have = new Set((await rootSql(s, 'SELECT id FROM mhats_test.t')).split('\n').filter(Boolean).map(Number));
    lost += writer.acked.filter((id) => !have.has(id)).length;
  }
  const stat = (xs: number[]) => ({ p50: percentile(xs, 50), p95: percentile(xs, 95), min: Math.min(...xs), max: Math.max(...xs) });
  const blocked = stat(results.map((r) => r.writeBlockedMs));
  const gap = stat(results.map((r) => r.appGapMs));
  const mode = values.gtid ? 'GTID' : 'binlog positions';
  console.log(`\nmhats switchover benchmark: ${runs} switchovers, ${mode}, MariaDB sandbox on loopback, writer as fast as one connection goes`);
  console.log(`write-blocked time (read_only on old master → new master writable): p50 ${blocked.p50} ms, p95 ${blocked.p95} ms (min ${blocked.min}, max ${blocked.max})`);
  console.log(`longest gap between two acknowledged writes (incl. the writer's reconnect): p50 ${gap.p50} ms, p95 ${gap.p95} ms`);
  const stepNames = [...new Set(results.flatMap((r) => r.steps.map((s) => s.step.replace(/\bdb\d\b/g, 'X'))))];
  for (const n of stepNames) {
    const xs = results.map((r) => r.steps.find((s) => s.step.replace(/\bdb\d\b/g, 'X') === n)?.ms ?? 0);
    console.log(`    ${n.padEnd(62)} p50 ${String(percentile(xs, 50)).padStart(4)} ms  p95 ${String(percentile(xs, 95)).padStart(4)} ms`);
  }
  console.log(`acknowledged writes: ${writer.acked.length}, lost: ${lost}; checksums ${new Set(sums).size === 1 ? 'equal on all servers' : `DIFFER: ${sums.join(' ')}`}`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(`bench/results/switchover${values.gtid ? '-gtid' : ''}.json`, JSON.stringify({ runs, mode, writeBlocked: blocked, appGap: gap, acked: writer.acked.length, lost, checksumsEqual: new Set(sums).size === 1, results }, null, 2));
  if (lost > 0 || new Set(sums).size !== 1) process.exitCode = 1;
} finally {
  await writer?.stop();
  await sandboxDown(dir);
}

/** --vip: the write block through a VIP moved by the built-in vip hook. */
async function vipBench(): Promise<void> {
  const SUBNET = '10.213.40';
  const VIP = `${SUBNET}.100`;
  const vdir = `/var/tmp/mhats-bench-switchover-vip-${process.pid}`;
  onInterrupt(() => sandboxDown(vdir));
  const vsb = await sandboxUp({ dir: vdir, replicas: 2, sshPort: 2331, gtid: values.gtid, netns: { tag: 'i11swo', subnet: SUBNET }, extraServerOptions: ['bind_address=0.0.0.0'] });
  const out: Array<{ run: number; from: string; to: string; viaVipGapMs: number; writeBlockedMs: number; vipBlockedMs?: number | undefined; steps: Array<{ step: string; ms: number }> }> = [];
  let w: DrillWriter | undefined;
  try {
    const [s1, s2, s3] = vsb.servers as [SandboxServer, SandboxServer, SandboxServer];
    await rootSql(s1, "CREATE DATABASE mhats_test; CREATE TABLE mhats_test.w (id INT AUTO_INCREMENT PRIMARY KEY, run VARCHAR(64), seq INT, at DATETIME(6)) ENGINE=InnoDB; CREATE USER 'app'@'%' IDENTIFIED BY 'app-pw'; GRANT SELECT, INSERT ON mhats_test.* TO 'app'@'%'");
    const doc = parse(readFileSync(vsb.configFile, 'utf8')) as { state_dir: string; clusters: Record<string, Record<string, unknown>> };
    doc.state_dir = join(vsb.dir, 'state');
    doc.clusters[vsb.clusterName]!.hooks = { environment: 'bench', sets: { bench: [{ name: 'vip', type: 'vip', address: `${VIP}/32`, interface: 'eth0', arping_count: 2, verify: true, timeout: 10 }] } };
    const conf = join(vsb.dir, 'bench.yaml');
    writeFileSync(conf, stringify(doc), { mode: 0o600 });
    const add = spawnSync('ip', ['-n', s1.netns!.ns, 'addr', 'add', `${VIP}/32`, 'dev', 'eth0'], { encoding: 'utf8', timeout: 5000 });
    if (add.status !== 0) throw new Error(`VIP on ${s1.name}: ${add.stderr}`);
    const ids = new Map<string, string>();
    for (const s of [s1, s2, s3]) ids.set(s.name, (await rootSql(s, 'SELECT @@server_id')).trim());
    const runId = `vip-${process.pid}`;
    w = new DrillWriter({ resolve: () => Promise.resolve({ host: VIP, port: 3306 }), user: 'app', password: 'app-pw', localAddress: vsb.netns?.appAddress, rate: 200, table: 'mhats_test.w', run: runId, gtids: false, now: () => performance.now(), connectTimeoutMs: 1000, queryTimeoutMs: 2000 });
    w.start();
    await w.waitFor(100, 20_000);
    let master = s1;
    for (let i = 0; i < runs; i++) {
      const next = master === s1 ? s2 : s1;
      await sleep(1000);
      const from = w.acked.length;
      const t0 = performance.now();
      const r = await execa(process.execPath, ['dist/cli/bin.js', 'switchover', '--conf', conf, '--yes', '--json', '--orig-master-is-new-slave', '--new-master', next.name], { reject: false, timeout: 120_000 });
      if (r.exitCode !== 0) throw new Error(`switchover ${i + 1} exited ${r.exitCode}:\n${String(r.stderr)}\n${String(r.stdout).slice(0, 2000)}`);
      const rep = JSON.parse(String(r.stdout)) as { writeBlockedMs: number; vipBlockedMs?: number; steps: Array<{ step: string; durationMs: number }> };
      // Writes through the VIP land on the new master again.
      const end = performance.now() + 30_000;
      while (!w.acked.slice(from).some((a) => a.by === ids.get(next.name))) {
        if (performance.now() > end) throw new Error(`no write through ${VIP} reached ${next.name} within 30 s of the switchover${w.errors.length ? ` (last error: ${w.errors.at(-1)?.message})` : ''}`);
        await sleep(20);
      }
      await sleep(300);
      const acks = w.acked.slice(Math.max(0, from - 1)).filter((a) => a.at >= t0 - 1000);
      let gap = 0;
      for (let k = 1; k < acks.length; k++) gap = Math.max(gap, acks[k]!.at - acks[k - 1]!.at);
      out.push({ run: i + 1, from: master.name, to: next.name, viaVipGapMs: Math.round(gap), writeBlockedMs: rep.writeBlockedMs, vipBlockedMs: rep.vipBlockedMs, steps: rep.steps.map((x) => ({ step: x.step, ms: x.durationMs })) });
      console.log(`run ${i + 1}/${runs}: ${master.name} → ${next.name}: longest gap between two writes acknowledged through the VIP ${Math.round(gap)} ms; mhats' own write block ${rep.writeBlockedMs} ms${rep.vipBlockedMs !== undefined ? `, VIP release → new master writable with it ${rep.vipBlockedMs} ms` : ''}`);
      master = next;
    }
    await w.stop();
    const have = new Set((await rootSql(master, `SELECT seq FROM mhats_test.w WHERE run = '${runId}'`)).split('\n').filter(Boolean).map(Number));
    const lost = w.acked.filter((a) => !have.has(a.seq)).length;
    const stat = (xs: number[]) => ({ p50: percentile(xs, 50), p95: percentile(xs, 95), min: Math.min(...xs), max: Math.max(...xs) });
    const gap = stat(out.map((x) => x.viaVipGapMs));
    const blocked = stat(out.map((x) => x.writeBlockedMs));
    console.log(`\nmhats switchover through a VIP (built-in vip hook, arping_count 2, verify): ${runs} switchovers, ${values.gtid ? 'GTID' : 'binlog positions'}, MariaDB netns sandbox, 200 writes/s through the VIP`);
    console.log(`write block through the VIP (longest gap between two acknowledged writes): p50 ${gap.p50} ms, p95 ${gap.p95} ms (min ${gap.min}, max ${gap.max}); target ≤ 300 ms p50: ${gap.p50 <= 300 ? 'met' : 'NOT met'}`);
    console.log(`mhats' own write block (read_only on the old master → new master writable): p50 ${blocked.p50} ms, p95 ${blocked.p95} ms`);
    const vipXs = out.map((x) => x.vipBlockedMs).filter((x): x is number => x !== undefined);
    const vipBlocked = vipXs.length > 0 ? stat(vipXs) : undefined;
    if (vipBlocked) console.log(`VIP released on the old host → new master writable with the VIP (mhats' clock): p50 ${vipBlocked.p50} ms, p95 ${vipBlocked.p95} ms`);
    const names = [...new Set(out.flatMap((x) => x.steps.map((st) => st.step.replace(/\bdb\d\b/g, 'X'))))];
    for (const n of names) {
      const xs = out.map((x) => x.steps.find((st) => st.step.replace(/\bdb\d\b/g, 'X') === n)?.ms ?? 0);
      console.log(`    ${n.padEnd(62)} p50 ${String(percentile(xs, 50)).padStart(4)} ms  p95 ${String(percentile(xs, 95)).padStart(4)} ms`);
    }
    console.log(`acknowledged writes: ${w.acked.length}, lost: ${lost}`);
    mkdirSync('bench/results', { recursive: true });
    writeFileSync('bench/results/switchover-vip.json', JSON.stringify({ at: new Date().toISOString(), runs, viaVipGap: gap, writeBlocked: blocked, vipBlocked, acked: w.acked.length, lost, results: out }, null, 2));
    if (lost > 0) process.exitCode = 1;
  } finally {
    await w?.stop();
    await sandboxDown(vdir);
  }
}
