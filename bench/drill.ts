/**
 * The fault matrix as a benchmark: every case of src/app/drill/matrix.ts on a
 * fresh netns sandbox, --rounds times in a row; prints the matrix (runs,
 * passes, fault → detect → writable → done medians) and writes
 * bench/results/drill-matrix.json. With --readme, the table replaces the one
 * between the drill-matrix markers in README.md.
 *
 *   npm run build && node --import tsx bench/drill.ts [--rounds 3] [--cases crash,hang] [--readme]
 * Needs root, iproute2, MariaDB, sshd, etcd; uses netns tag mhats-t-xg, 10.213.57.0/24, ssh port 2346, etcd 127.0.51.1.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { MATRIX_CASES, MATRIX_EXPECTED, runMatrixCase, type MatrixCase } from '../src/app/drill/matrix.js';
import type { DrillRunResult } from '../src/domain/drill/types.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, cases: { type: 'string' }, readme: { type: 'boolean', default: false }, verbose: { type: 'boolean', default: false } } });
const rounds = Number(values.rounds);
const cases = (values.cases?.split(',').map((s) => s.trim()) ?? [...MATRIX_CASES]) as MatrixCase[];
for (const c of cases) if (!MATRIX_CASES.includes(c)) throw new Error(`unknown case ${c} (cases: ${MATRIX_CASES.join(', ')})`);

interface CaseRun { round: number; ok: boolean; run?: DrillRunResult; error?: string; wallMs: number }
const byCase = new Map<MatrixCase, CaseRun[]>(cases.map((c) => [c, []]));
const env = {
  root: `/var/tmp/mhats-bench-drill-${process.pid}`,
  tag: 'mhats-t-xg',
  subnet: '10.213.57',
  sshPort: 2346,
  etcdClient: 'http://127.0.51.1:2379',
  etcdPeer: 'http://127.0.51.1:2380',
  cli: [process.execPath, 'dist/cli/bin.js'],
  log: (l: string) => {
    if (values.verbose) console.error(l);
  },
};
const started = new Date();
for (let round = 1; round <= rounds; round++) {
  for (const c of cases) {
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
