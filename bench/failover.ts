/**
 * Benchmark: time from kill -9 of the master to the first acknowledged write
 * on the new master, under continuous writes, with default manager settings.
 * Each run uses a fresh sandbox. Prints p50/p95 and the phase breakdown and
 * writes bench/results/failover.json.
 *
 *   npm run build && node --import tsx bench/failover.ts [--runs 5] [--gtid]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { failoverTrial, percentile, type TrialResult } from './trial.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, gtid: { type: 'boolean', default: false }, rate: { type: 'string', default: '200' } } });
const runs = Number(values.runs);
const results: TrialResult[] = [];
for (let i = 0; i < runs; i++) {
  const r = await failoverTrial({ dir: `/var/tmp/mhats-bench-${process.pid}`, baseAddress: '127.0.7.11', sshPort: 2271, gtid: values.gtid, rate: Number(values.rate) });
  results.push(r);
  console.log(`run ${i + 1}/${runs}: kill→first write ${r.downtimeMs} ms (detect ${r.detectMs} ms, failover ${r.failoverMs} ms), new master ${r.newMaster}, acked ${r.acked}, lost ${r.lost}`);
}
const stat = (xs: number[]) => ({ p50: percentile(xs, 50), p95: percentile(xs, 95), min: Math.min(...xs), max: Math.max(...xs) });
const down = stat(results.map((r) => r.downtimeMs));
const detect = stat(results.map((r) => r.detectMs));
const fo = stat(results.map((r) => r.failoverMs));
const phaseNames = [...new Set(results.flatMap((r) => r.phases.map((p) => p.phase)))];
const phases = phaseNames.map((name) => ({ phase: name, ...stat(results.map((r) => r.phases.find((p) => p.phase === name)?.ms ?? 0)) }));
const mode = values.gtid ? 'GTID' : 'binlog positions';
console.log(`\nmhats failover benchmark: ${runs} runs, ${mode}, ${values.rate} writes/s, MariaDB sandbox on loopback, default settings`);
console.log(`kill -9 → first acknowledged write on the new master: p50 ${down.p50} ms, p95 ${down.p95} ms (min ${down.min}, max ${down.max})`);
console.log(`  detection (kill → master declared dead): p50 ${detect.p50} ms, p95 ${detect.p95} ms`);
console.log(`  failover (Phase 1 → done):               p50 ${fo.p50} ms, p95 ${fo.p95} ms`);
for (const p of phases) console.log(`    ${p.phase.padEnd(45)} p50 ${String(p.p50).padStart(5)} ms  p95 ${String(p.p95).padStart(5)} ms`);
console.log(`acknowledged writes lost: ${results.reduce((a, r) => a + r.lost, 0)} of ${results.reduce((a, r) => a + r.acked, 0)}`);
mkdirSync('bench/results', { recursive: true });
writeFileSync(`bench/results/failover${values.gtid ? '-gtid' : ''}.json`, JSON.stringify({ runs, mode, rate: Number(values.rate), downtime: down, detect, failover: fo, phases, results: results.map(({ sandbox: _s, ...r }) => r) }, null, 2));
