/**
 * The monitor's idle connection to the master (src/engine/master-watch.ts) against a MySQL-protocol
 * simulator in a child process (bench/scale/sim.ts): the server closing it calls onLost once; it is
 * opened again by ensure(); closing the watch itself calls nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MasterWatch } from '../../src/engine/master-watch.js';
import { simDb1 } from '../helpers/sim.js';

const sim = simDb1('127.0.42.1');
const until = async (cond: () => boolean, ms = 3000): Promise<void> => {
  const end = performance.now() + ms;
  while (!cond() && performance.now() < end) await new Promise((r) => setTimeout(r, 10));
};

test('the server closing the idle connection calls onLost at once; ensure() opens it again; close() calls nothing', async () => {
  let lost = 0;
  const w = new MasterWatch(sim.target, () => lost++, 1000);
  // 'drop' closes every connection of the server and says how many it had.
  const connections = sim.drop;
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
