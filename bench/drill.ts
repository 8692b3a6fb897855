/**
 * The fault matrix as a benchmark: every case of src/app/drill/matrix.ts on a
 * fresh netns sandbox, --rounds times in a row; prints the matrix (runs,
 * passes, fault → detect → writable → done medians) and writes
 * bench/results/drill-matrix.json. With --readme, the table replaces the one
 * between the drill-matrix markers in README.md.
 *
 *   npm run build && node --import tsx bench/drill.ts [--rounds 3] [--cases crash,hang] [--readme]
 * Needs root, iproute2, MariaDB, sshd, etcd; uses netns tag mhats-t-xg, 10.213.57.0/24, ssh port 2346, etcd 127.0.51.1
 * (--netns-tag, --subnet, --ssh-port, --etcd-ip to run elsewhere). Its root /var/tmp/mhats-bench-drill-PID is removed
 * at the end, also after Ctrl-C (which lets the current case tear its sandbox down first).
 */
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { MATRIX_CASES, MATRIX_EXPECTED, runMatrixCase, type MatrixCase } from '../src/app/drill/matrix.js';
import type { DrillRunResult } from '../src/domain/drill/types.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    cases: { type: 'string' },
    readme: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    // Where it runs (defaults: the matrix's own allotment, see above).
    'netns-tag': { type: 'string', default: 'mhats-t-xg' },
    subnet: { type: 'string', default: '10.213.57' },
    'ssh-port': { type: 'string', default: '2346' },
    'etcd-ip': { type: 'string', default: '127.0.51.1' },
  },
});
const rounds = Number(values.rounds);
const cases = (values.cases?.split(',').map((s) => s.trim()) ?? [...MATRIX_CASES]) as MatrixCase[];
for (const c of cases) if (!MATRIX_CASES.includes(c)) throw new Error(`unknown case ${c} (cases: ${MATRIX_CASES.join(', ')})`);

interface CaseRun { round: number; ok: boolean; run?: DrillRunResult; error?: string; wallMs: number }
const byCase = new Map<MatrixCase, CaseRun[]>(cases.map((c) => [c, []]));
const env = {
  root: `/var/tmp/mhats-bench-drill-${process.pid}`,
  tag: values['netns-tag'],
  subnet: values.subnet,
  sshPort: Number(values['ssh-port']),
  etcdClient: `http://${values['etcd-ip']}:2379`,
  etcdPeer: `http://${values['etcd-ip']}:2380`,
  cli: [process.execPath, 'dist/cli/bin.js'],
  log: (l: string) => {
    if (values.verbose) console.error(l);
  },
};

/** The run's root holds only the cases' sandboxes, each removed by runMatrixCase: remove it once empty, never what a case left. */
function removeRoot(): void {
  let left: string[];
  try {
    left = readdirSync(env.root);
  } catch {
    return; // never made (or already gone)
  }
  if (left.length === 0) rmdirSync(env.root);
  else console.error(`left in ${env.root}: ${left.join(', ')} (a case's sandbox was not torn down; see \`mhats sandbox down --dir ...\`)`);
}

// Ctrl-C (or SIGTERM): the current case finishes and tears its sandbox down (servers, netns), no other
// case starts, the root goes; a second one quits at once (the current case's sandbox may then be left).
let stopping: NodeJS.Signals | undefined;
const onSignal = (sig: NodeJS.Signals): void => {
  if (stopping !== undefined) {
    removeRoot();
    process.exit(130);
  }
  stopping = sig;
  console.error(`${sig}: stopping after the current case (its sandbox is torn down); again to quit at once`);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const started = new Date();
try {
  await runAll();
} finally {
  removeRoot();
}
if (stopping !== undefined) {
  console.error(`stopped on ${stopping}: no results written`);
  process.exit(130);
}

async function runAll(): Promise<void> {
  for (let round = 1; round <= rounds && stopping === undefined; round++) {
    for (const c of cases) {
      if (stopping !== undefined) break;
      const t0 = performance.now();
      try {
        const r = await runMatrixCase(c, env);
        const run = r.results[0];
        byCase.get(c)!.push({ round, ok: r.ok, run, wallMs: Math.round(performance.now() - t0) });
        const broken = run?.verdicts.filter((v) => !v.ok).map((v) => `${v.name}: ${v.detail}`) ?? [];
        console.log(`round ${round} ${c.padEnd(17)} ${r.ok ? 'PASS' : 'FAIL'}  ${broken.join(' | ')}`);
      } catch (err) {
        byCase.get(c)!.push({ round, ok: false, error: (err as Error).message, wallMs: Math.round(performance.now() - t0) });
        console.log(`round ${round} ${c.padEnd(17)} ERROR ${(err as Error).message}`);
      }
    }
  }
}

const median = (xs: number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
};
const secs = (ms: number | undefined): string => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);
const rows = cases.map((c) => {
  const rs = byCase.get(c)!;
  const t = rs.map((r) => r.run?.timings).filter((x) => x !== undefined);
  const failing = [...new Set(rs.flatMap((r) => (r.error ? [`error: ${r.error.split('\n')[0]}`] : (r.run?.verdicts.filter((v) => !v.ok).map((v) => v.name) ?? []))))];
  return {
    case: c,
    expected: MATRIX_EXPECTED[c],
    runs: rs.length,
    passes: rs.filter((r) => r.ok).length,
    detect: median(t.flatMap((x) => (x.detectMs === undefined ? [] : [x.detectMs]))),
    writable: median(t.flatMap((x) => (x.writableMs === undefined ? [] : [x.writableMs]))),
    done: median(t.flatMap((x) => (x.doneMs === undefined ? [] : [x.doneMs]))),
    wall: median(rs.map((r) => r.wallMs)),
    failing,
  };
});
const table = [
  `Last full matrix: ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${rounds} round(s), MariaDB netns sandbox (3 servers), \`node --import tsx bench/drill.ts --rounds ${rounds}\`. Times are medians after the fault.`,
  '',
  '| case | expected | runs | passes | detect | writable | done | wall | broken invariants |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.case} | ${r.expected} | ${r.runs} | ${r.passes} | ${secs(r.detect)} | ${secs(r.writable)} | ${secs(r.done)} | ${secs(r.wall)} | ${r.failing.join(', ') || '-'} |`),
].join('\n');
console.log(`\n${table}`);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/drill-matrix.json', JSON.stringify({ started: started.toISOString(), rounds, rows, runs: Object.fromEntries([...byCase].map(([c, rs]) => [c, rs])) }, null, 2));
if (values.readme) {
  const readme = readFileSync('README.md', 'utf8');
  const begin = '<!-- drill-matrix:begin -->';
  const end = '<!-- drill-matrix:end -->';
  const i = readme.indexOf(begin);
  const j = readme.indexOf(end);
  if (i < 0 || j < i) throw new Error('README.md has no drill-matrix markers');
  writeFileSync('README.md', `${readme.slice(0, i + begin.length)}\n${table}\n${readme.slice(j)}`);
  console.log('README.md updated');
}
process.exitCode = rows.every((r) => r.passes === r.runs) ? 0 : 1;
