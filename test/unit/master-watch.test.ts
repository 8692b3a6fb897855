/**
 * The monitor's idle connection to the master (src/engine/master-watch.ts) against a MySQL-protocol
 * simulator in a child process (bench/scale/sim.ts): the server closing it calls onLost once; it is
 * opened again by ensure(); closing the watch itself calls nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import type { DbTarget } from '../../src/adapters/mysql/connection.js';
import { Secret } from '../../src/domain/secret.js';
import { MasterWatch } from '../../src/engine/master-watch.js';
import type { SimReply, SimRequest } from '../../bench/scale/sim.js';

let sim: ChildProcess;
const waiters: Array<(r: SimReply) => void> = [];
const ask = (req: SimRequest): Promise<SimReply> =>
  new Promise((resolve) => {
    waiters.push(resolve);
    sim.send(req);
  });
const target: DbTarget = { name: 'db1', host: '127.0.42.1', port: 3306, user: 'mhats', password: new Secret('x') };
const until = async (cond: () => boolean, ms = 3000): Promise<void> => {
  const end = performance.now() + ms;
  while (!cond() && performance.now() < end) await new Promise((r) => setTimeout(r, 10));
};

before(async () => {
  sim = spawn(process.execPath, ['--import', 'tsx', 'bench/scale/sim.ts'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  sim.on('message', (r: SimReply) => waiters.shift()?.(r));
  const r = await ask({ type: 'start', servers: [{ name: 'db1', host: target.host, port: target.port, serverId: 1 }], rate: 10, maxLagMs: 0 });
  assert.equal(r.type, 'started');
});

after(() => {
  sim.kill('SIGKILL');
});

test('the server closing the idle connection calls onLost at once; ensure() opens it again; close() calls nothing', async () => {
  let lost = 0;
  const w = new MasterWatch(target, () => lost++, 1000);
  const connections = async (): Promise<number> => {
    // 'drop' closes every connection of the server and says how many it had.
    const d = await ask({ type: 'drop', name: 'db1' });
    return d.type === 'dropped' ? d.connections : -1;
  };
  w.ensure();
  w.ensure(); // one opening at a time
  await new Promise((r) => setTimeout(r, 200));
  const t0 = performance.now();
  assert.equal(await connections(), 1, 'one idle connection');
  await until(() => lost === 1);
  assert.equal(lost, 1);
  assert.ok(performance.now() - t0 < 1000, 'noticed at once');
  w.ensure();
  await new Promise((r) => setTimeout(r, 200));
  w.close();
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(await connections(), 0, 'closed by the watch');
  assert.equal(lost, 1, 'its own close is no loss');
  w.ensure();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(await connections(), 0, 'a closed watch opens nothing');
});
