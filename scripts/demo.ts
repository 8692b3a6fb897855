/**
 * The main job of the README's Quick start: a local cluster of real MariaDB
 * servers (a master and two replicas on their own loopback addresses, plus
 * an sshd), the mhats manager watching it, an application writing
 * continuously, then kill -9 of the master. Prints the failover timeline and
 * the count of acknowledged writes lost, then the new topology.
 */
import { spawnSync } from 'node:child_process';
import { failoverTrial } from '../bench/trial.js';

const dir = process.env.MHATS_DEMO_DIR ?? '/var/tmp/mhats-demo';
const t0 = Date.now();
const stamp = (): string => `+${((Date.now() - t0) / 1000).toFixed(3).padStart(7)}s`;
const say = (s: string): void => console.log(`${stamp()}  ${s}`);
const SHOW = /^(watching |health check of .* failed|MASTER .* IS DEAD|Phase .* (completed|failed)|new master:|not choosing|fence |.*is the new master|repointed|Master failover|now watching)/;

say(`starting a sandbox in ${dir}: 1 master + 2 replicas (MariaDB, semi-sync AFTER_SYNC), and the manager`);
const r = await failoverTrial({
  dir,
  baseAddress: '127.0.0.11',
  sshPort: 2222,
  gtid: false,
  keep: true,
  say,
  onManagerLine: (l) => {
    const msg = String(l.msg);
    if (SHOW.test(msg)) say(`  manager: ${msg}`);
  },
});
console.log('');
console.log(`Failover timeline: master declared dead ${r.detectMs} ms after the kill; failover took ${r.failoverMs} ms;`);
console.log(`the application's first write was acknowledged by the new master ${r.newMaster} ${r.downtimeMs} ms after the kill.`);
console.log(`Acknowledged writes: ${r.acked}; lost: ${r.lost}${r.lost === 0 ? ' (expected 0)' : '  <-- NOT EXPECTED'}`);
console.log('');
console.log('== mhats status (the new topology; the old master is left out until it rejoins)');
spawnSync(process.execPath, ['dist/cli/bin.js', 'status', '--conf', r.configFile], { stdio: 'inherit' });
console.log('== mhats check-repl');
spawnSync(process.execPath, ['dist/cli/bin.js', 'check-repl', '--conf', r.configFile], { stdio: 'inherit' });
console.log(`The sandbox keeps running (the manager was stopped). Config: ${r.configFile}`);
console.log(`Look around:  mhats status --conf ${r.configFile}`);
console.log(`              masterha_check_repl --conf ${dir}/app1.cnf   (MHA's commands work too)`);
console.log(`Stop it:      mhats sandbox down --dir ${dir}`);
console.log('(scripts/setup.sh put mhats and masterha_* on the PATH; else: node dist/cli/bin.js ...)');
process.exitCode = r.lost === 0 ? 0 : 1;
