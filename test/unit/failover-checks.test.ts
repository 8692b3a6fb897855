import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errantAmongSurvivors } from '../../src/domain/failover-checks.js';

const U1 = '11111111-1111-1111-1111-111111111111'; // the dead master
const U2 = '22222222-2222-2222-2222-222222222222';
const U3 = '33333333-3333-3333-3333-333333333333';

test('MariaDB, dead master unknown (manual failover): the replica that received more of its binlog is not errant', () => {
  const survivors = [
    { name: 'db2', serverId: 2, gtid: { enabled: true, executed: '0-1-3', binlogState: '0-1-3' } },
    { name: 'db3', serverId: 3, gtid: { enabled: true, executed: '0-1-2', binlogState: '0-1-2' } },
  ];
  assert.deepEqual(errantAmongSurvivors('mariadb', survivors, { serverId: -1 }), []);
});

test('MariaDB, dead master unknown: a transaction written on a survivor is still errant', () => {
  const survivors = [
    { name: 'db2', serverId: 2, gtid: { enabled: true, executed: '0-2-4', binlogState: '0-1-3,0-2-4' } },
    { name: 'db3', serverId: 3, gtid: { enabled: true, executed: '0-1-3', binlogState: '0-1-3' } },
  ];
  assert.deepEqual(errantAmongSurvivors('mariadb', survivors, { serverId: -1 }), [{ name: 'db2', errant: '0-2-4' }]);
});

test('MySQL, dead master unknown: more of the master UUID is not errant; the survivor own UUID is', () => {
  const survivors = [
    { name: 'db2', serverId: 2, serverUuid: U2, gtid: { enabled: true, executed: `${U1}:1-10,${U2}:1` } },
    { name: 'db3', serverId: 3, serverUuid: U3, gtid: { enabled: true, executed: `${U1}:1-9` } },
  ];
  assert.deepEqual(errantAmongSurvivors('mysql', survivors, { serverId: -1 }), [{ name: 'db2', errant: `${U2}:1` }]);
});

test('dead master known: unchanged behaviour', () => {
  const survivors = [
    { name: 'db2', serverId: 2, gtid: { enabled: true, executed: '0-1-3', binlogState: '0-1-3' } },
    { name: 'db3', serverId: 3, gtid: { enabled: true, executed: '0-1-2', binlogState: '0-1-2' } },
  ];
  assert.deepEqual(errantAmongSurvivors('mariadb', survivors, { serverId: 1 }), []);
  // An unknown server_id (9) that only db2 has, with the dead master known as 1: errant, as before.
  const odd = [{ ...survivors[0]!, gtid: { enabled: true, executed: '0-9-1', binlogState: '0-1-3,0-9-1' } }, survivors[1]!];
  assert.deepEqual(errantAmongSurvivors('mariadb', odd, { serverId: 1 }), [{ name: 'db2', errant: '0-9-1' }]);
});
