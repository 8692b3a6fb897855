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
 *   npm run build && flock -o /run/lock/mhats-test.lock node --import tsx bench/detection.ts [--rounds 5] [--intervals 1,3] [--faults crash,hang,netdown] [--readme] [--profile]
 * Needs root, iproute2, arping, MariaDB, sshd. Uses netns tag i11bench,
 * 10.213.40.0/24 (VIP 10.213.40.100), ssh port 2330. Each cell run replaces
 * that cell in bench/results/detection.json (the others are kept), so the
 * matrix can be run a cell or two at a time (each invocation holds the test
 * lock for its whole run: about a minute per drill); --readme writes the table of every
 * stored cell between the detection-bench markers in README.md. --profile
 * prints each failover's journal as a timeline (phases, steps, hooks).
 * --readme-only --readme: no runs, the README table from the stored cells. --keep copies each
 * run's manager log to /tmp/mhats-bench-<run>-manager.log.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { drillOn, matrixDir, matrixSetup, type MatrixEnv } from '../src/app/drill/matrix.js';
import { builtinFault } from '../src/app/drill/faults.js';
import { sandboxDown } from '../src/sandbox/index.js';
import { onInterrupt } from './interrupt.js';
import type { DrillRunResult } from '../src/domain/drill/types.js';

const FAULTS = ['crash', 'hang', 'netdown'] as const;
type Fault = (typeof FAULTS)[number];

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, intervals: { type: 'string', default: '1,3' }, faults: { type: 'string' }, readme: { type: 'boolean', default: false }, profile: { type: 'boolean', default: false }, 'readme-only': { type: 'boolean', default: false }, verbose: { type: 'boolean', default: false }, keep: { type: 'boolean', default: false } } });
const rounds = Number(values.rounds);
const intervals = values.intervals.split(',').map(Number);
const faults = (values.faults?.split(',').map((s) => s.trim()) ?? [...FAULTS]) as Fault[];
for (const f of faults) if (!FAULTS.includes(f)) throw new Error(`unknown fault ${f} (faults: ${FAULTS.join(', ')})`);
for (const i of intervals) if (!(i > 0)) throw new Error(`bad ping interval ${i}`);

const SUBNET = '10.213.40';
const VIP = `${SUBNET}.100`;
const env: MatrixEnv = {
  root: `/var/tmp/mhats-bench-detection-${process.pid}`,
  tag: 'i11bench',
  subnet: SUBNET,
  sshPort: 2330,
  etcdClient: 'http://127.0.41.1:2379',
  etcdPeer: 'http://127.0.41.1:2380',
  cli: [process.execPath, 'dist/cli/bin.js'],
  rate: 100,
  log: (l: string) => {
    if (values.verbose) console.error(l);
  },
};

interface Cell { fault: Fault; interval: number; at?: string; runs: DrillRunResult[]; errors: string[] }

/** The failover's journal records as a timeline, ms from its begin record. */
function timeline(setup: { conf: string; sb: { clusterName: string } }, id: string | undefined): string[] {
  if (id === undefined) return ['  (no failover id)'];
  const doc = parse(readFileSync(setup.conf, 'utf8')) as { state_dir: string };
  const file = join(doc.state_dir, setup.sb.clusterName, 'failovers.jsonl');
  if (!existsSync(file)) return [`  (no journal at ${file})`];
  const recs = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, string | number | boolean | undefined>).filter((r) => r.id === id);
  const t0 = Number(recs.find((r) => r.type === 'begin')?.at ?? recs[0]?.at ?? 0);
  return recs.map((r) => {
    const at = `${String(Number(r.at) - t0).padStart(6)} ms`;
    const dur = r.durationMs !== undefined ? ` (${String(r.durationMs)} ms)` : '';
    switch (String(r.type)) {
      case 'phase': return `  ${at} phase ${String(r.phase)} done${dur}${r.ok === false ? ' FAILED' : ''}`;
      case 'step': return `  ${at}   step ${String(r.server)} ${String(r.step)}${dur}${r.ok === false ? ` FAILED ${String(r.detail)}` : ''}`;
      case 'event': return `  ${at}   ${String(r.message).slice(0, 160)}`;
      default: return `  ${at} ${String(r.type)}${r.server ? ` ${String(r.server)}` : ''}${dur}`;
    }
  });
}
const cells: Cell[] = [];
const started = new Date();

// Interrupted: the current case's managers and sandbox go (setup.close), then the root.
let current: { name: string; setup?: Awaited<ReturnType<typeof matrixSetup>> } | undefined;
onInterrupt(async () => {
  if (current?.setup) await current.setup.close();
  else if (current) await sandboxDown(matrixDir(env, current.name));
  rmSync(env.root, { recursive: true, force: true });
});

// --readme-only: no runs; the README table from the stored cells.
for (const interval of values['readme-only'] ? [] : intervals) {
  for (const fault of faults) {
    const cell: Cell = { fault, interval, at: new Date().toISOString(), runs: [], errors: [] };
    cells.push(cell);
    const t0 = performance.now();
    // A fresh sandbox per run: the drill's own rejoin between runs (by GTID) would leave replicas repointed by
    // position beside it, and the drill refuses a mixed topology.
    for (let round = 1; round <= rounds; round++) {
      const name = `det-${fault}-${String(interval).replace('.', '_')}-${round}`;
      current = { name };
      try {
        const setup = await matrixSetup(env, name, {
          // The VIP moves with the master; the servers listen on every address of their host (the VIP too).
          hooks: { environment: 'bench', sets: { bench: [{ name: 'vip', type: 'vip', address: `${VIP}/32`, interface: 'eth0', arping_count: 2, verify: true, timeout: 10 }] } },
          extraServerOptions: ['slave_net_timeout=60', 'bind_address=0.0.0.0'],
          stonith: fault === 'netdown',
          // MHA's app1.cnf with ping_interval=N: the other detection settings at their defaults.
          cluster: { ping_interval: interval, ping_timeout: Math.min(interval, 2), ping_retry_interval: Math.min(interval, 0.2), ping_failures: 3, ping_type: 'CONNECT' },
        });
        current.setup = setup;
        try {
          const master = setup.sb.servers[0]!;
          const add = spawnSync('ip', ['-n', master.netns!.ns, 'addr', 'add', `${VIP}/32`, 'dev', 'eth0'], { encoding: 'utf8', timeout: 5000 });
          if (add.status !== 0) throw new Error(`VIP on ${master.name}: ${add.stderr}`);
          const report = await drillOn(setup, env, () => builtinFault(fault), 1);
          cell.runs.push(...report.results.map((r) => ({ ...r, run: round })));
          if (values.profile) for (const r of report.results) console.log([`${name}: ${JSON.stringify(r.timings)}`, ...timeline(setup, r.failoverId)].join('\n'));
        } finally {
          if (values.keep) {
            // The sandbox's teardown removes its directory: the manager's log is copied out first.
            const log = join(matrixDir(env, name), 'manager-1.log');
            if (existsSync(log)) copyFileSync(log, `/tmp/mhats-bench-${name}-manager.log`);
            console.log(`${name}: manager log kept in /tmp/mhats-bench-${name}-manager.log`);
          }
          await setup.close();
          rmSync(matrixDir(env, name), { recursive: true, force: true });
        }
      } catch (err) {
        cell.errors.push(`run ${round}: ${(err as Error).message.split('\n')[0]}`);
      }
      current = undefined;
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

// Every stored cell, this run's replacing the same fault × interval of an earlier one.
const RESULTS = 'bench/results/detection.json';
const stored: Cell[] = (() => {
  try {
    const d = JSON.parse(readFileSync(RESULTS, 'utf8')) as { cells?: Cell[]; version?: number };
    return d.version === 2 ? (d.cells ?? []) : [];
  } catch {
    return [];
  }
})();
const all: Cell[] = [...stored.filter((c) => !cells.some((n) => n.fault === c.fault && n.interval === c.interval)), ...cells].sort((x, y) => x.interval - y.interval || FAULTS.indexOf(x.fault) - FAULTS.indexOf(y.fault));

const median = (xs: number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1]! + s[m]!) / 2;
};
const secs = (ms: number | undefined): string => (ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`);
const pick = (c: Cell, f: (r: DrillRunResult) => number | undefined): number | undefined => median(c.runs.flatMap((r) => { const v = f(r); return v === undefined ? [] : [v]; }));
/** The issue's targets (ping_interval 1, p50 of fault → first acknowledged write). */
const TARGET_MS: Record<Fault, number> = { crash: 1500, hang: 5000, netdown: 4000 };
const rows = all.map((c) => {
  const total = pick(c, (r) => r.timings.writesResumedMs);
  return {
    fault: c.fault,
    interval: c.interval,
    at: c.at,
    runs: c.runs.length,
    held: c.runs.filter((r) => r.ok).length,
    detect: pick(c, (r) => r.timings.detectMs),
    failover: pick(c, (r) => (r.timings.writableMs !== undefined && r.timings.detectMs !== undefined ? r.timings.writableMs - r.timings.detectMs : undefined)),
    route: pick(c, (r) => (r.timings.writesResumedMs !== undefined && r.timings.writableMs !== undefined ? r.timings.writesResumedMs - r.timings.writableMs : undefined)),
    total,
    range: (() => { const t = c.runs.flatMap((r) => (r.timings.writesResumedMs === undefined ? [] : [r.timings.writesResumedMs])); return t.length ? `${secs(Math.min(...t))}–${secs(Math.max(...t))}` : '-'; })(),
    target: c.interval === 1 ? (total === undefined ? 'no data' : `≤ ${secs(TARGET_MS[c.fault])}: ${total <= TARGET_MS[c.fault] ? 'met' : 'NOT met'}`) : '(none)',
    broken: [...new Set(c.runs.flatMap((r) => r.verdicts.filter((v) => !v.ok).map((v): string => v.name)))].concat(c.errors.length ? [`${c.errors.length} run(s) not started: ${c.errors[0]}`] : []),
  };
});
const dates = [...new Set(all.map((c) => (c.at ?? started.toISOString()).slice(0, 10)))].join(', ');
const table = [
  `Runs of ${dates} (UTC), MariaDB netns sandbox (3 hosts) on a shared 2-core machine, slave_net_timeout=60, VIP moved by the built-in vip hook, 100 writes/s through it; \`node --import tsx bench/detection.ts --rounds N --intervals I --faults F\` a cell or two at a time. Medians (p50) of the runs per cell; "range" is fault → first acknowledged write, fastest–slowest.`,
  '',
  '| fault | ping_interval | runs | invariants held | detect | failover | VIP → first write | fault → first acknowledged write | range | target (p50) | broken |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.fault} | ${r.interval} | ${r.runs} | ${r.held} | ${secs(r.detect)} | ${secs(r.failover)} | ${secs(r.route)} | ${secs(r.total)} | ${r.range} | ${r.target} | ${r.broken.join(', ') || '-'} |`),
].join('\n');
console.log(`\n${table}`);
mkdirSync('bench/results', { recursive: true });
writeFileSync(RESULTS, `${JSON.stringify({ version: 2, updated: started.toISOString(), rows, cells: all }, null, 2)}\n`);
if (values.readme || values['readme-only']) {
  const readme = readFileSync('README.md', 'utf8');
  const begin = '<!-- detection-bench:begin -->';
  const end = '<!-- detection-bench:end -->';
  const a = readme.indexOf(begin);
  const b = readme.indexOf(end);
  if (a < 0 || b < a) throw new Error(`README.md has no ${begin} ... ${end} markers`);
  writeFileSync('README.md', `${readme.slice(0, a + begin.length)}\n${table}\n${readme.slice(b)}`);
}
// Drill connections may keep the event loop alive after every sandbox is down: never hold the test lock past the end.
process.exit(values['readme-only'] ? 0 : cells.every((c) => c.errors.length === 0 && c.runs.length > 0 && c.runs.every((r) => r.ok)) ? 0 : 1);
