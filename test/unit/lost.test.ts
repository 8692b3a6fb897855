import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lostTransactions } from '../../src/domain/lost.js';

const at = Date.UTC(2026, 10, 22, 3, 0, 0);

test('MariaDB: exactly the GTIDs no survivor has', () => {
  const r = lostTransactions('mariadb', { gtid: '0-1-200', at }, [{ gtids: ['0-1-150', '0-2-3'] }, { gtids: ['0-1-140'] }]);
  assert.equal(r.count, 50);
  assert.match(r.text, /^50 transaction\(s\): 0-1-151\.\.0-1-200 \(as of its last successful health check at 2026-11-22T03:00:00Z/);
});

test('MariaDB: nothing lost, and several domains', () => {
  assert.equal(lostTransactions('mariadb', { gtid: '0-1-200', at }, [{ gtids: ['0-1-200'] }]).count, 0);
  const r = lostTransactions('mariadb', { gtid: '0-1-10,1-1-5', at }, [{ gtids: ['0-1-10,1-1-4'] }]);
  assert.match(r.text, /^1 transaction\(s\): 1-1-5 /);
});

test('MySQL: GTID set difference', () => {
  const u = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
  const r = lostTransactions('mysql', { gtid: `${u}:1-100`, at }, [{ gtids: [`${u}:1-90`] }, { gtids: [`${u}:1-95`] }]);
  assert.equal(r.count, 5);
  assert.match(r.text, new RegExp(`5 transaction\\(s\\): ${u}:96-100`));
});

test('no GTID: a coordinate range, not exact', () => {
  const r = lostTransactions('mysql', { coord: { file: 'b.000007', pos: 900 }, at }, [{ gtids: [], exec: { file: 'b.000007', pos: 400 } }]);
  assert.equal(r.exact, false);
  assert.match(r.text, /from b\.000007:400 to b\.000007:900/);
});

test('never observed: unknown', () => {
  assert.match(lostTransactions('mariadb', undefined, []).text, /^unknown/);
});
