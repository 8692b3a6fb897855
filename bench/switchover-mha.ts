/**
 * Benchmark: a planned switchover through a VIP moved by a USER'S MHA script,
 * real MHA 0.58 against mhats, on the same hosts, with the same app1.cnf and
 * the same script, unchanged (issue 11: "with a user's MHA script, never
 * worse than MHA").
 *
 *  - Hosts: a netns sandbox (each MariaDB server in its own network namespace
 *    with its own sshd), 1 master + 2 replicas, binlog positions.
 *  - The script: bench/mha/master_ip_online_change.pl, MHA's sample
 *    master_ip_online_change with the widely copied VIP lines (stop: read_only
 *    and kill on the old master, then `ip addr del` over ssh; start: read_only
 *    = 0 on the new master, then `ip addr add` + arping over ssh).
 *  - The same command line for both tools:
 *      masterha_master_switch --conf=app1.cnf --master_state=alive
 *        --new_master_host=H --new_master_port=3306 --orig_master_is_new_slave
 *        --interactive=0
 *    MHA's is /usr/bin/masterha_master_switch (Debian's mha4mysql-manager);
 *    mhats' is its own masterha_master_switch (dist/cli/mha-bin/).
 *  - An application writes through the VIP only (200 writes/s, reconnecting on
 *    any error). The number: the longest gap between two writes acknowledged
 *    through the VIP across each switchover (the write block as the
 *    application sees it), and the command's wall time.
 *  - Runs alternate A B B A ... so drift on the machine hits both tools alike;
 *    the master moves db1 → db2 → db1 ... so each tool goes both ways.
 *  - At the end: every acknowledged write is on the last master; after each
 *    run the VIP is on exactly one host, the new master.
 *
 *   apt-get install mha4mysql-manager mha4mysql-node     (once; not part of the test suite)
 *   flock -o /run/lock/mhats-test.lock node --import tsx bench/switchover-mha.ts [--runs 5] [--readme]
 *
 * MHA 0.58 as packaged dies on this machine's perl (5.36) with MariaDB's
 * version string ("Redundant argument in sprintf at MHA/NodeUtil.pm",
 * mha4mysql-node issue 35, open since 2018). The bench applies its users'
 * usual workaround (`no warnings qw(redundant);` in NodeUtil.pm) to a private
 * copy first on PERL5LIB, for both tools' runs; the system's files are not
 * changed.
 *
 * Needs root, iproute2, arping, openssh; netns tag lmha, 10.213.61.0/24
 * (VIP 10.213.61.100), ssh port 2361. Writes bench/results/switchover-mha.json;
 * --readme replaces the table between the README's switchover-mha markers.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { execa } from 'execa';
import { rootSql, sandboxDown, sandboxUp, type SandboxServer } from '../src/sandbox/index.js';
import { DrillWriter } from '../src/adapters/drill/writer.js';
import { percentile } from './trial.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, readme: { type: 'boolean', default: false } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
const MHA_SWITCH = '/usr/bin/masterha_master_switch';
if (!existsSync(MHA_SWITCH) || !existsSync('/usr/share/perl5/MHA/DBHelper.pm')) {
  console.error(`${MHA_SWITCH} or MHA::DBHelper not found: install MHA 0.58 first (apt-get install mha4mysql-manager mha4mysql-node). Nothing was started.`);
  process.exit(2);
}
if (!existsSync('dist/cli/mha-bin/masterha_master_switch.js')) {
  console.error('dist/cli/mha-bin/masterha_master_switch.js not found: run `npm run build` first. Nothing was started.');
  process.exit(2);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const SUBNET = '10.213.61';
const VIP = `${SUBNET}.100`;
const dir = `/var/tmp/mhats-bench-switchover-mha-${process.pid}`;
type Tool = 'MHA 0.58' | 'mhats';
interface Run {
  run: number;
  tool: Tool;
  from: string;
  to: string;
  viaVipGapMs: number;
  commandMs: number;
}
const out: Run[] = [];
let w: DrillWriter | undefined;
let exit = 0;
try {
  const sb = await sandboxUp({ dir, replicas: 2, sshPort: 2361, netns: { tag: 'lmha', subnet: SUBNET }, extraServerOptions: ['bind_address=0.0.0.0'] });
  // MHA 0.58 dies on perl ≥ 5.22 with any version string of more than 3 numbers ("Redundant argument in
  // sprintf" in MHA::NodeUtil, mha4mysql-node issue 35; Debian's 10.11.x-MariaDB-0+deb12u1 has 6). Its users
  // add `no warnings qw(redundant);` to NodeUtil.pm: here a patched copy, first on PERL5LIB, for both tools
  // (the script loads MHA::NodeUtil too). The system's MHA is not touched.
  const perlLib = join(dir, 'perl5');
  mkdirSync(join(perlLib, 'MHA'), { recursive: true });
  const nodeUtil = readFileSync('/usr/share/perl5/MHA/NodeUtil.pm', 'utf8');
  if (!nodeUtil.includes("use warnings FATAL => 'all';")) throw new Error('/usr/share/perl5/MHA/NodeUtil.pm is not the one this bench knows (MHA 0.58)');
  writeFileSync(join(perlLib, 'MHA', 'NodeUtil.pm'), nodeUtil.replace("use warnings FATAL => 'all';", "use warnings FATAL => 'all';\nno warnings qw( redundant );"));
  const env = { PERL5LIB: perlLib };
  const [s1, s2, s3] = sb.servers as [SandboxServer, SandboxServer, SandboxServer];
  const ssh = sb.ssh;
  if (!ssh) throw new Error('the sandbox has no sshd');
  await rootSql(s1, "CREATE DATABASE mhats_test; CREATE TABLE mhats_test.w (id INT AUTO_INCREMENT PRIMARY KEY, run VARCHAR(64), seq INT, at DATETIME(6)) ENGINE=InnoDB; CREATE USER 'app'@'%' IDENTIFIED BY 'app-pw'; GRANT SELECT, INSERT ON mhats_test.* TO 'app'@'%'");
  // The replicas are read_only, as MHA expects of its slaves (the sample script sets it too).
  for (const s of [s2, s3]) await rootSql(s, 'SET GLOBAL read_only = ON');

  // The user's script, with the variables at its top filled in.
  const script = join(dir, 'master_ip_online_change');
  writeFileSync(
    script,
    readFileSync('bench/mha/master_ip_online_change.pl', 'utf8')
      .replace('@@VIP@@', VIP)
      .replace('@@IFACE@@', 'eth0')
      .replace('@@SSH_PORT@@', String(ssh.port))
      .replace('@@SSH_KEY@@', ssh.identityFile)
      .replace('@@KNOWN_HOSTS@@', ssh.knownHostsFile),
  );
  chmodSync(script, 0o755);
  // The user's app1.cnf: MHA's own keys only (MHA refuses any other), the script named.
  const cnf = join(dir, 'app1-mha.cnf');
  const lines = readFileSync(sb.mhaConfigFile, 'utf8')
    .split('\n')
    .filter((l) => !/^ssh_(known_hosts|identity_file)=/.test(l));
  lines.splice(lines.indexOf('[server default]') + 1, 0, `master_ip_online_change_script=${script}`);
  writeFileSync(cnf, lines.join('\n'), { mode: 0o600 });
  mkdirSync(join(dir, 'work'), { recursive: true });

  const add = spawnSync('ip', ['-n', s1.netns!.ns, 'addr', 'add', `${VIP}/32`, 'dev', 'eth0'], { encoding: 'utf8', timeout: 5000 });
  if (add.status !== 0) throw new Error(`VIP on ${s1.name}: ${add.stderr}`);
  const vipHolders = (): string[] =>
    [s1, s2, s3].filter((s) => spawnSync('ip', ['-n', s.netns!.ns, '-o', 'addr', 'show', 'dev', 'eth0'], { encoding: 'utf8', timeout: 5000 }).stdout.includes(`${VIP}/32`)).map((s) => s.name);

  const ids = new Map<string, string>();
  for (const s of [s1, s2, s3]) ids.set(s.name, (await rootSql(s, 'SELECT @@server_id')).trim());
  const runId = `mha-${process.pid}`;
  w = new DrillWriter({ resolve: () => Promise.resolve({ host: VIP, port: 3306 }), user: 'app', password: 'app-pw', localAddress: sb.netns?.appAddress, rate: 200, table: 'mhats_test.w', run: runId, gtids: false, now: () => performance.now(), connectTimeoutMs: 1000, queryTimeoutMs: 2000 });
  w.start();
  await w.waitFor(100, 20_000);

  let master = s1;
  const total = runs * 2;
  for (let i = 0; i < total; i++) {
    // A B B A A B B A ...
    const tool: Tool = [0, 3].includes(i % 4) ? 'MHA 0.58' : 'mhats';
    const next = master === s1 ? s2 : s1;
    await sleep(1500);
    const from = w.acked.length;
    const t0 = performance.now();
    const bin = tool === 'mhats' ? [process.execPath, ['dist/cli/mha-bin/masterha_master_switch.js']] as const : [MHA_SWITCH, []] as const;
    const r = await execa(bin[0], [...bin[1], `--conf=${cnf}`, '--master_state=alive', `--new_master_host=${next.address}`, '--new_master_port=3306', '--orig_master_is_new_slave', '--interactive=0'], { reject: false, timeout: 120_000, all: true, env });
    const commandMs = Math.round(performance.now() - t0);
    if (r.exitCode !== 0) throw new Error(`${tool} switchover ${i + 1} (${master.name} → ${next.name}) exited ${r.exitCode}:\n${String(r.all).slice(-4000)}`);
    const end = performance.now() + 30_000;
    while (!w.acked.slice(from).some((a) => a.by === ids.get(next.name))) {
      if (performance.now() > end) throw new Error(`no write through ${VIP} reached ${next.name} within 30 s of the ${tool} switchover${w.errors.length ? ` (last error: ${w.errors.at(-1)?.message})` : ''}; the VIP is on ${vipHolders().join(', ') || 'no host'}; the command printed:\n${String(r.all).slice(-6000)}`);
      await sleep(20);
    }
    await sleep(300);
    const holders = vipHolders();
    if (holders.length !== 1 || holders[0] !== next.name) throw new Error(`after the ${tool} switchover ${i + 1} the VIP is on ${holders.join(', ') || 'no host'}, not on ${next.name} alone`);
    const acks = w.acked.slice(Math.max(0, from - 1)).filter((a) => a.at >= t0 - 1000);
    let gap = 0;
    for (let k = 1; k < acks.length; k++) gap = Math.max(gap, acks[k]!.at - acks[k - 1]!.at);
    out.push({ run: i + 1, tool, from: master.name, to: next.name, viaVipGapMs: Math.round(gap), commandMs });
    console.log(`run ${i + 1}/${total} ${tool.padEnd(8)} ${master.name} → ${next.name}: write block through the VIP ${Math.round(gap)} ms; command ${commandMs} ms`);
    master = next;
  }
  await w.stop();
  const have = new Set((await rootSql(master, `SELECT seq FROM mhats_test.w WHERE run = '${runId}'`)).split('\n').filter(Boolean).map(Number));
  const lost = w.acked.filter((a) => !have.has(a.seq)).length;

  const stat = (xs: number[]) => ({ p50: percentile(xs, 50), p95: percentile(xs, 95), min: Math.min(...xs), max: Math.max(...xs) });
  const by = (t: Tool) => ({ gap: stat(out.filter((x) => x.tool === t).map((x) => x.viaVipGapMs)), cmd: stat(out.filter((x) => x.tool === t).map((x) => x.commandMs)) });
  const mha = by('MHA 0.58');
  const ours = by('mhats');
  const verdict = ours.gap.p50 <= mha.gap.p50 ? 'not worse than MHA' : 'WORSE than MHA';
  console.log(`\nswitchover through a VIP moved by a user's MHA script (MHA's sample master_ip_online_change + ssh VIP lines), ${runs} runs per tool, same hosts, app1.cnf and script; 200 writes/s through the VIP`);
  for (const [t, s] of [['MHA 0.58', mha], ['mhats', ours]] as const) console.log(`  ${t.padEnd(8)} write block through the VIP p50 ${s.gap.p50} ms, p95 ${s.gap.p95} ms (min ${s.gap.min}, max ${s.gap.max}); command p50 ${s.cmd.p50} ms`);
  console.log(`  mhats is ${verdict} (p50); acknowledged writes: ${w.acked.length}, lost: ${lost}`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/switchover-mha.json', JSON.stringify({ at: new Date().toISOString(), runs, mha, mhats: ours, acked: w.acked.length, lost, results: out }, null, 2));
  if (values.readme) writeReadme(mha, ours, lost, w.acked.length);
  if (lost > 0) exit = 1;
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  exit = 1;
} finally {
  await w?.stop().catch(() => undefined);
  await sandboxDown(dir).catch((err: unknown) => console.error(`sandbox down: ${String(err)}`));
  rmSync(dir, { recursive: true, force: true });
}
// Writer and SSH sockets may keep the event loop alive: never hold the test lock past the end.
process.exit(exit);

function writeReadme(mha: { gap: Stat; cmd: Stat }, ours: { gap: Stat; cmd: Stat }, lost: number, acked: number): void {
  const begin = '<!-- bench:switchover-mha:begin -->';
  const stop = '<!-- bench:switchover-mha:end -->';
  const readme = readFileSync('README.md', 'utf8');
  const a = readme.indexOf(begin);
  const b = readme.indexOf(stop);
  if (a < 0 || b < a) throw new Error(`README.md has no ${begin} … ${stop} markers`);
  const row = (t: string, s: { gap: Stat; cmd: Stat }): string => `| ${t} | ${s.gap.p50} ms | ${s.gap.p95} ms | ${s.gap.min}–${s.gap.max} ms | ${(s.cmd.p50 / 1000).toFixed(2)} s |`;
  const table = [
    begin,
    `Measured ${new Date().toISOString().slice(0, 10)} by \`bench/switchover-mha.ts --runs ${runs}\` (${runs} switchovers per tool, alternating, db1 ⇄ db2, 200 writes/s through the VIP; ${acked} acknowledged, ${lost} lost):`,
    '',
    '| tool | write block through the VIP, p50 | p95 | min–max | whole command, p50 |',
    '|---|---|---|---|---|',
    row('MHA 0.58 (`/usr/bin/masterha_master_switch`)', mha),
    row('mhats (its `masterha_master_switch`)', ours),
    stop,
  ].join('\n');
  writeFileSync('README.md', readme.slice(0, a) + table + readme.slice(b + stop.length));
}
type Stat = { p50: number; p95: number; min: number; max: number };
