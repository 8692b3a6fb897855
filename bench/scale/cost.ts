// CPU per CONNECT health check and per inspection (keeper), in-process, against the simulator.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createHealthChecker } from '../../src/adapters/mysql/health.js';
import { dialectFor, parseVersion } from '../../src/adapters/mysql/dialect.js';
import { inspectServer } from '../../src/adapters/mysql/inspect.js';
import { SessionKeeper } from '../../src/adapters/mysql/keeper.js';
import { Secret } from '../../src/domain/secret.js';

const N = 30;
const servers = Array.from({ length: N }, (_, i) => ({ name: `s${i}`, host: `127.1.9.${i + 1}`, port: 3306, serverId: i + 1, master: i % 3 === 0 ? undefined : `s${i - (i % 3)}` }));
const sim = fork(new URL('./sim.ts', import.meta.url).pathname, [], { execArgv: ['--import', 'tsx'] });
await new Promise<void>((r) => { sim.once('message', () => r()); sim.send({ type: 'start', servers, rate: 50, maxLagMs: 20 }); });
const target = (s: (typeof servers)[number]) => ({ name: s.name, host: s.host, port: s.port, user: 'mhats', password: new Secret('bench') });
const mode = process.argv[2] ?? 'check';
const secs = Number(process.argv[3] ?? 8);
const dialect = dialectFor(parseVersion('10.11.6-MariaDB-log'));
const checkers = servers.map((s) => createHealthChecker('CONNECT', target(s), { timeoutMs: 5000, now: () => performance.now(), dialect }));
const keeper = new SessionKeeper();
let ops = 0, fails = 0;
async function worker(i: number): Promise<void> {
  const end = performance.now() + secs * 1000;
  while (performance.now() < end) {
    if (mode === 'check') { const r = await checkers[i]!.check(); if (!r.ok) { fails++; if (fails < 3) console.log(r); } }
    else { const r = await inspectServer(target(servers[i]!), { connectTimeoutMs: 5000, queryTimeoutMs: 5000, now: Date.now }, keeper); if (!r.ok) fails++; }
    ops++;
  }
}
// warm-up
await Promise.all(servers.map((_, i) => (mode === 'check' ? checkers[i]!.check() : inspectServer(target(servers[i]!), { connectTimeoutMs: 5000, queryTimeoutMs: 5000, now: Date.now }, keeper))));
const c0 = process.cpuUsage(); const t0 = performance.now(); const s0 = readFileSync(`/proc/${sim.pid}/stat`, 'utf8');
await Promise.all(servers.map((_, i) => worker(i)));
const c1 = process.cpuUsage(c0); const dt = performance.now() - t0;
const simTicks = (): number => { const f = readFileSync(`/proc/${sim.pid}/stat`, 'utf8'); const x = f.slice(f.lastIndexOf(')') + 2).split(' '); return Number(x[11]) + Number(x[12]); };
const stats = await new Promise<unknown>((r) => { sim.once('message', r); sim.send({ type: 'stats' }); });
console.log(`${mode}: ${ops} ops in ${(dt / 1000).toFixed(1)} s, ${fails} failed; CPU per op: user ${(c1.user / ops).toFixed(0)} us, sys ${(c1.system / ops).toFixed(0)} us, total ${((c1.user + c1.system) / ops).toFixed(0)} us`);
const s0t = ((x) => Number(x[11]) + Number(x[12]))(s0.slice(s0.lastIndexOf(')') + 2).split(' '));
console.log(`simulator: CPU per op ${(((simTicks() - s0t) * 10_000) / ops).toFixed(0)} us (process, incl. its idle work); ${JSON.stringify(stats)}`);
keeper.close();
sim.kill('SIGKILL');
process.exit(0);
