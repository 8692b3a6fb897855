/**
 * Detection benchmark (issue 11): fault → first acknowledged write through a
 * VIP moved by the built-in vip hook, for a crash (kill -9), a hung mysqld
 * (SIGSTOP) and a host that drops off the network (netdown, fenced by power:
 * shutdown_script), at ping_interval 1 and 3, with production replication
 * timing (slave_net_timeout=60, so heartbeats every 30 s). Each cell is a
 * netns sandbox (3 MariaDB hosts, each in its own namespace with its own
 * sshd), a fresh one for each of `--rounds` drills, driven by the drill (src/app/drill): a writer at 100 writes/s through the
 * VIP, the manager as a child process.
 *
 * Phases (medians): detect = fault → failover begun (journal); failover =
 * begun → new master writable; route = writable → first acknowledged write
 * through the VIP; total = fault → first acknowledged write.
 *
 *   npm run build && flock -o /run/lock/mhats-test.lock node --import tsx bench/detection.ts [--rounds 5] [--intervals 1,3] [--faults crash,hang,netdown] [--readme]
 * Needs root, iproute2, arping, MariaDB, sshd. Uses netns tag mhats-t-d,
 * 10.213.41.0/24 (VIP 10.213.41.100), ssh port 2323. Writes
 * bench/results/detection.json; --readme replaces the table between the
 * detection-bench markers in README.md.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { drillOn, matrixDir, matrixSetup, type MatrixEnv } from '../src/app/drill/matrix.js';
import { builtinFault } from '../src/app/drill/faults.js';
import type { DrillRunResult } from '../src/domain/drill/types.js';

const FAULTS = ['crash', 'hang', 'netdown'] as const;
type Fault = (typeof FAULTS)[number];

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, intervals: { type: 'string', default: '1,3' }, faults: { type: 'string' }, readme: { type: 'boolean', default: false }, verbose: { type: 'boolean', default: false } } });
const rounds = Number(values.rounds);
const intervals = values.intervals.split(',').map(Number);
const faults = (values.faults?.split(',').map((s) => s.trim()) ?? [...FAULTS]) as Fault[];
for (const f of faults) if (!FAULTS.includes(f)) throw new Error(`unknown fault ${f} (faults: ${FAULTS.join(', ')})`);
for (const i of intervals) if (!(i > 0)) throw new Error(`bad ping interval ${i}`);

const SUBNET = '10.213.41';
const VIP = `${SUBNET}.100`;
const env: MatrixEnv = {
  root: `/var/tmp/mhats-bench-detection-${process.pid}`,
  tag: 'mhats-t-d',
  subnet: SUBNET,
  sshPort: 2323,
  etcdClient: 'http://127.0.41.1:2379',
  etcdPeer: 'http://127.0.41.1:2380',
  cli: [process.execPath, 'dist/cli/bin.js'],
  rate: 100,
  log: (l: string) => {
    if (values.verbose) console.error(l);
  },
};

interface Cell { fault: Fault; interval: number; runs: DrillRunResult[]; errors: string[] }
const cells: Cell[] = [];
const started = new Date();

for (const interval of intervals) {
  for (const fault of faults) {
    const cell: Cell = { fault, interval, runs: [], errors: [] };
    cells.push(cell);
    const t0 = performance.now();
    // A fresh sandbox per run: the drill's own rejoin between runs (by GTID) would leave replicas repointed by
    // position beside it, and the drill refuses a mixed topology.
    for (let round = 1; round <= rounds; round++) {
      const name = `det-${fault}-${String(interval).replace('.', '_')}-${round}`;
      try {
        const setup = await matrixSetup(env, name, {
          // The VIP moves with the master; the servers listen on every address of their host (the VIP too).
          hooks: { environment: 'bench', sets: { bench: [{ name: 'vip', type: 'vip', address: `${VIP}/32`, interface: 'eth0', arping_count: 2, verify: true, timeout: 10 }] } },
          extraServerOptions: ['slave_net_timeout=60', 'bind_address=0.0.0.0'],
          stonith: fault === 'netdown',
          // MHA's app1.cnf with ping_interval=N: the other detection settings at their defaults.
          cluster: { ping_interval: interval, ping_timeout: Math.min(interval, 2), ping_retry_interval: Math.min(interval, 0.2), ping_failures: 3, ping_type: 'CONNECT' },
        });
        try {
          const master = setup.sb.servers[0]!;
          const add = spawnSync('ip', ['-n', master.netns!.ns, 'addr', 'add', `${VIP}/32`, 'dev', 'eth0'], { encoding: 'utf8', timeout: 5000 });
          if (add.status !== 0) throw new Error(`VIP on ${master.name}: ${add.stderr}`);
          const report = await drillOn(setup, env, () => builtinFault(fault), 1);
          cell.runs.push(...report.results.map((r) => ({ ...r, run: round })));
        } finally {
          await setup.close();
          rmSync(matrixDir(env, name), { recursive: true, force: true });
        }
      } catch (err) {
        cell.errors.push(`run ${round}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    const ok = cell.runs.filter((r) => r.ok).length;
    console.log(`ping_interval ${interval} ${fault.padEnd(8)} ${ok}/${cell.runs.length} runs held every invariant (${Math.round((performance.now() - t0) / 1000)} s)${cell.errors.length ? ` ERRORS ${cell.errors.join(' | ')}` : ''}`);
    for (const r of cell.runs) {
      const t = r.timings;
      const broken = r.verdicts.filter((v) => !v.ok).map((v) => `${v.name}: ${v.detail}`);
      console.log(`  run ${r.run}: detect ${t.detectMs ?? '-'} ms, writable ${t.writableMs ?? '-'} ms, first ack ${t.writesResumedMs ?? '-'} ms${broken.length ? `; BROKEN ${broken.join(' | ')}` : ''}`);
    }
  }
}
rmSync(env.root, { recursive: true, force: true });

const median = (xs: number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
};
const secs = (ms: number | undefined): string => (ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`);
const pick = (c: Cell, f: (r: DrillRunResult) => number | undefined): number | undefined => median(c.runs.flatMap((r) => { const v = f(r); return v === undefined ? [] : [v]; }));
const rows = cells.map((c) => ({
  fault: c.fault,
  interval: c.interval,
  runs: c.runs.length,
  held: c.runs.filter((r) => r.ok).length,
  detect: pick(c, (r) => r.timings.detectMs),
  failover: pick(c, (r) => (r.timings.writableMs !== undefined && r.timings.detectMs !== undefined ? r.timings.writableMs - r.timings.detectMs : undefined)),
  route: pick(c, (r) => (r.timings.writesResumedMs !== undefined && r.timings.writableMs !== undefined ? r.timings.writesResumedMs - r.timings.writableMs : undefined)),
  total: pick(c, (r) => r.timings.writesResumedMs),
  broken: [...new Set(c.runs.flatMap((r) => r.verdicts.filter((v) => !v.ok).map((v): string => v.name)))].concat(c.errors.length ? [`${c.errors.length} run(s) not started: ${c.errors[0]}`] : []),
}));
const table = [
  `Last run: ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${rounds} run(s) per cell, MariaDB netns sandbox (3 hosts), slave_net_timeout=60, VIP moved by the built-in vip hook, 100 writes/s through it; \`node --import tsx bench/detection.ts --rounds ${rounds} --intervals ${intervals.join(',')}\`. Medians.`,
  '',
  '| fault | ping_interval | runs | invariants held | detect | failover | VIP → first write | fault → first acknowledged write | broken |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.fault} | ${r.interval} | ${r.runs} | ${r.held} | ${secs(r.detect)} | ${secs(r.failover)} | ${secs(r.route)} | ${secs(r.total)} | ${r.broken.join(', ') || '-'} |`),
].join('\n');
console.log(`\n${table}`);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/detection.json', `${JSON.stringify({ started: started.toISOString(), rounds, intervals, rows, cells }, null, 2)}\n`);
if (values.readme) {
  const readme = readFileSync('README.md', 'utf8');
  const begin = '<!-- detection-bench:begin -->';
  const end = '<!-- detection-bench:end -->';
  const a = readme.indexOf(begin);
  const b = readme.indexOf(end);
  if (a < 0 || b < a) throw new Error(`README.md has no ${begin} ... ${end} markers`);
  writeFileSync('README.md', `${readme.slice(0, a + begin.length)}\n${table}\n${readme.slice(b)}`);
}
