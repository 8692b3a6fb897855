import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  compareGtidPositions,
  errantGtids,
  formatMariadbGtidList,
  formatMysqlGtidSet,
  gtidContains,
  mysqlGtidCount,
  mysqlGtidEquals,
  mysqlGtidIntersect,
  mysqlGtidIsSubset,
  mysqlGtidSubtract,
  mysqlGtidUnion,
  parseMariadbGtidList,
  parseMysqlGtidSet,
  validateGtidText,
} from '../../src/domain/gtid.js';
import type { GtidState } from '../../src/domain/types.js';

const A = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const B = 'b5d7a1c2-0000-11ef-8a1b-0242ac120002';
const C = '00000000-0000-0000-0000-000000000001';

const canon = (s: string): string => formatMysqlGtidSet(parseMysqlGtidSet(s));

describe('MySQL GTID sets: parse/format', () => {
  it('empty', () => {
    assert.equal(parseMysqlGtidSet('').size, 0);
    assert.equal(parseMysqlGtidSet('  \n ').size, 0);
    assert.equal(formatMysqlGtidSet(new Map()), '');
  });
  it('round-trips canonical text', () => {
    for (const s of [`${A}:1-5`, `${A}:1-5:7:9-12`, `${C}:3,${A}:1,${B}:1-1000000`]) {
      const once = canon(s);
      assert.equal(canon(once), once);
    }
    assert.equal(canon(`${A}:1-5:7:9-12`), `${A}:1-5:7:9-12`);
  });
  it('sorts UUIDs, lower-cases them, merges and sorts intervals, drops whitespace', () => {
    const s = `${B}:10-20:1-3,\n  ${A.toUpperCase()}:4-6:1-3:7 ,${B}:4-9:21`;
    assert.equal(canon(s), `${A}:1-7,${B}:1-21`);
  });
  it('merges overlapping and adjacent intervals but keeps gaps', () => {
    assert.equal(canon(`${A}:1-5:3-8:10:11:13-14`), `${A}:1-8:10-11:13-14`);
  });
  it('accepts a UUID without dashes', () => {
    assert.equal(canon(`${A.replace(/-/g, '')}:1-2`), `${A}:1-2`);
  });
  it('tagged GTIDs (MySQL 8.4): uuid:tag:n', () => {
    const s = parseMysqlGtidSet(`${A}:1-5:Blue:1-3:red:7,${A}:blue:4`);
    assert.deepEqual([...s.keys()].sort(), [A, `${A}:blue`, `${A}:red`]);
    assert.deepEqual(s.get(`${A}:blue`), [[1, 4]]);
    assert.equal(formatMysqlGtidSet(s), `${A}:1-5:blue:1-4:red:7`);
    assert.equal(canon(`${A}:t1:1-2`), `${A}:t1:1-2`);
    assert.equal(mysqlGtidCount(s), 5 + 4 + 1);
  });
  const junk = [
    'garbage',
    `${A}`,
    `${A}:`,
    `${A}:0`,
    `${A}:5-3`,
    `${A}:1-`,
    `${A}:-1`,
    `${A}:1-2,`,
    `,${A}:1`,
    `${A}:1,,${B}:1`,
    `${A}:tag`,
    `${A}:tag:other:1`,
    `${A}:1:9tag:2`,
    `${A}:1-2-3`,
    `zzzzzzzz-71ca-11e1-9e33-c80aa9429562:1`,
    `${A}:1:${'x'.repeat(33)}:1`,
    `${A}:99999999999999999999`,
    '0-1-100',
  ];
  for (const j of junk) {
    it(`rejects ${JSON.stringify(j)}`, () => {
      assert.throws(() => parseMysqlGtidSet(j), /invalid GTID set/);
    });
  }
});

describe('MySQL GTID arithmetic', () => {
  const p = parseMysqlGtidSet;
  it('subtract', () => {
    assert.equal(formatMysqlGtidSet(mysqlGtidSubtract(p(`${A}:1-10`), p(`${A}:3-4:8`))), `${A}:1-2:5-7:9-10`);
    assert.equal(formatMysqlGtidSet(mysqlGtidSubtract(p(`${A}:1-10,${B}:1-5`), p(`${A}:1-10`))), `${B}:1-5`);
    assert.equal(formatMysqlGtidSet(mysqlGtidSubtract(p(`${A}:1-10`), p(`${A}:1-20,${B}:1`))), '');
    assert.equal(formatMysqlGtidSet(mysqlGtidSubtract(p(`${A}:5-10`), p(`${A}:1-6:9-30`))), `${A}:7-8`);
    assert.equal(formatMysqlGtidSet(mysqlGtidSubtract(p(`${A}:1-5:tag:1-5`), p(`${A}:tag:1-5`))), `${A}:1-5`);
    assert.equal(formatMysqlGtidSet(mysqlGtidSubtract(p(''), p(`${A}:1`))), '');
  });
  it('union', () => {
    assert.equal(formatMysqlGtidSet(mysqlGtidUnion(p(`${A}:1-5`), p(`${A}:6-9,${B}:2`))), `${A}:1-9,${B}:2`);
    assert.equal(formatMysqlGtidSet(mysqlGtidUnion(p(''), p(''))), '');
  });
  it('intersect and equals', () => {
    assert.equal(formatMysqlGtidSet(mysqlGtidIntersect(p(`${A}:1-10,${B}:1-3`), p(`${A}:5-20`))), `${A}:5-10`);
    assert.equal(mysqlGtidEquals(p(`${A}:1-3:4-5`), p(`${A}:1-5`)), true);
    assert.equal(mysqlGtidEquals(p(`${A}:1-5`), p(`${A}:1-6`)), false);
  });
  it('subset', () => {
    assert.equal(mysqlGtidIsSubset(p(`${A}:2-3`), p(`${A}:1-5`)), true);
    assert.equal(mysqlGtidIsSubset(p(''), p(`${A}:1-5`)), true);
    assert.equal(mysqlGtidIsSubset(p(`${A}:1-5`), p(`${A}:1-5`)), true);
    assert.equal(mysqlGtidIsSubset(p(`${A}:1-6`), p(`${A}:1-5`)), false);
    assert.equal(mysqlGtidIsSubset(p(`${B}:1`), p(`${A}:1-5`)), false);
    assert.equal(mysqlGtidIsSubset(p(`${A}:1-5`), p('')), false);
  });
  it('count', () => {
    assert.equal(mysqlGtidCount(p(`${A}:1-10:20,${B}:5-6`)), 13);
    assert.equal(mysqlGtidCount(p('')), 0);
    assert.equal(mysqlGtidCount(p(`${A}:1-4294967296`)), 4294967296);
  });
  it('functions do not mutate their inputs', () => {
    const a = p(`${A}:1-10`);
    const b = p(`${A}:3-4`);
    mysqlGtidSubtract(a, b);
    mysqlGtidUnion(a, b);
    assert.equal(formatMysqlGtidSet(a), `${A}:1-10`);
    assert.equal(formatMysqlGtidSet(b), `${A}:3-4`);
  });
});

describe('MariaDB GTID lists', () => {
  it('parse/format round-trip, whitespace allowed, bigint seq', () => {
    const l = parseMariadbGtidList(' 0-1-100,\n1-2-18446744073709551615 ');
    assert.deepEqual(l, [
      { domain: 0, serverId: 1, seq: 100n },
      { domain: 1, serverId: 2, seq: 18446744073709551615n },
    ]);
    assert.equal(formatMariadbGtidList(l), '0-1-100,1-2-18446744073709551615');
    assert.deepEqual(parseMariadbGtidList(''), []);
    assert.equal(formatMariadbGtidList([]), '');
  });
  for (const j of ['x', '0-1', '0-1-', '-1-2', '0-1-2-3', '0-1-2,', `${A}:1-5`, '0-4294967296-1', '0-1-18446744073709551616', '0_1_2']) {
    it(`rejects ${JSON.stringify(j)}`, () => {
      assert.throws(() => parseMariadbGtidList(j), /invalid MariaDB GTID/);
    });
  }
  it('validateGtidText', () => {
    validateGtidText('mariadb', '0-1-1');
    validateGtidText('mysql', `${A}:1`);
    assert.throws(() => validateGtidText('mysql', '0-1-1'));
    assert.throws(() => validateGtidText('mariadb', `${A}:1`));
  });
});

function mysqlState(executed: string): GtidState {
  return { enabled: true, executed };
}

function mariaState(p: { current?: string; binlogPos?: string; slavePos?: string; state?: string }): GtidState {
  return { enabled: true, executed: p.current ?? '', binlogPos: p.binlogPos, slavePos: p.slavePos, binlogState: p.state };
}

describe('errantGtids', () => {
  it('MySQL: replica.executed − master.executed, canonical', () => {
    assert.equal(errantGtids('mysql', mysqlState(`${A}:1-100`), mysqlState(`${A}:1-120`)), '');
    assert.equal(errantGtids('mysql', mysqlState(`${A}:1-100,\n${B}:1-3`), mysqlState(`${A}:1-120`)), `${B}:1-3`);
    assert.equal(errantGtids('mysql', mysqlState(`${A}:1-130`), mysqlState(`${A}:1-120`)), `${A}:121-130`);
    assert.equal(errantGtids('mysql', mysqlState(''), mysqlState('')), '');
  });
  it('MySQL: garbage throws (the caller reports "cannot compare")', () => {
    assert.throws(() => errantGtids('mysql', mysqlState('junk'), mysqlState('')), /invalid GTID set/);
  });
  it('MariaDB: master 0-1-100, replica wrote locally 0-2-5 → errant', () => {
    const master = mariaState({ current: '0-1-100', binlogPos: '0-1-100', state: '0-1-100' });
    const replica = mariaState({ current: '0-1-100', binlogPos: '0-1-100', slavePos: '0-1-100', state: '0-2-5,0-1-100' });
    const e = errantGtids('mariadb', replica, master);
    assert.match(e, /^0-2-5 \(master has nothing from server_id 2 in domain 0\)$/);
  });
  it('MariaDB: real sandbox capture (replica local write 0-2-6 collides with master seq 6)', () => {
    const master = mariaState({ current: '0-1-6', binlogPos: '0-1-6', slavePos: '', state: '0-1-6' });
    const replica = mariaState({ current: '0-1-6', binlogPos: '0-1-6', slavePos: '0-1-6', state: '0-2-6,0-1-6' });
    assert.equal(errantGtids('mariadb', replica, master), '0-2-6 (master has nothing from server_id 2 in domain 0)');
  });
  it('MariaDB: a replica that was once master, with entries the master also has → not errant', () => {
    const master = mariaState({ current: '0-1-300', binlogPos: '0-1-300', slavePos: '0-2-200', state: '0-2-200,0-1-300' });
    const replica = mariaState({ current: '0-1-300', binlogPos: '0-1-300', slavePos: '0-1-300', state: '0-2-200,0-1-300' });
    assert.equal(errantGtids('mariadb', replica, master), '');
  });
  it('MariaDB: master learned the old master`s GTIDs only via gtid_slave_pos (log_slave_updates off) → not errant', () => {
    const master = mariaState({ current: '0-1-300', binlogPos: '0-1-300', slavePos: '0-2-200', state: '0-1-300' });
    const replica = mariaState({ current: '0-1-300', state: '0-2-200,0-1-300' });
    assert.equal(errantGtids('mariadb', replica, master), '');
  });
  it('MariaDB: replica ahead of the master for the same origin, and in a domain the master lacks', () => {
    const master = mariaState({ current: '0-1-100', state: '0-1-100' });
    const replica = mariaState({ current: '0-1-101,5-2-1', state: '0-1-101,5-2-1' });
    assert.equal(errantGtids('mariadb', replica, master), '0-1-101 (master has only up to 0-1-100), 5-2-1 (master has nothing from server_id 2 in domain 5)');
  });
  it('MariaDB: lagging replica is not errant', () => {
    const master = mariaState({ current: '0-1-100,1-1-50', state: '0-1-100,1-1-50' });
    const replica = mariaState({ current: '0-1-90', state: '0-1-90' });
    assert.equal(errantGtids('mariadb', replica, master), '');
  });
  it('MariaDB: without a binlog state on the replica, its current position is checked', () => {
    const master = mariaState({ current: '0-1-100', state: '0-1-100' });
    assert.equal(errantGtids('mariadb', mariaState({ current: '0-1-99' }), master), '');
    assert.match(errantGtids('mariadb', mariaState({ current: '0-3-7' }), master), /^0-3-7 /);
  });
});

describe('gtidContains', () => {
  it('MySQL set containment', () => {
    assert.equal(gtidContains('mysql', `${A}:1-10,${B}:1`, `${A}:1-5`), true);
    assert.equal(gtidContains('mysql', `${A}:1-10`, `${A}:1-5,${B}:1`), false);
    assert.equal(gtidContains('mysql', `${A}:1-10`, ''), true);
    assert.equal(gtidContains('mysql', '', `${A}:1`), false);
  });
  it('MariaDB per-domain positions', () => {
    assert.equal(gtidContains('mariadb', '0-1-100,1-2-5', '0-1-100'), true);
    assert.equal(gtidContains('mariadb', '0-1-100', '0-1-90'), true);
    assert.equal(gtidContains('mariadb', '0-1-100', '0-1-101'), false);
    assert.equal(gtidContains('mariadb', '0-1-100', '0-1-100,1-2-5'), false);
    assert.equal(gtidContains('mariadb', '0-1-100', '0-2-100'), false, 'same seq from another server: diverged');
    assert.equal(gtidContains('mariadb', '0-2-101', '0-1-100'), true, 'a higher seq is taken to contain (strict mode)');
    assert.equal(gtidContains('mariadb', '', ''), true);
  });
});

describe('compareGtidPositions', () => {
  it('MySQL', () => {
    assert.equal(compareGtidPositions('mysql', `${A}:1-10`, `${A}:1-10`), 0);
    assert.equal(compareGtidPositions('mysql', `${A}:1-10`, `${A}:1-9`), 1);
    assert.equal(compareGtidPositions('mysql', `${A}:1-9`, `${A}:1-10`), -1);
    assert.equal(compareGtidPositions('mysql', `${A}:1-10,${B}:1`, `${A}:1-11`), undefined);
    assert.equal(compareGtidPositions('mysql', '', ''), 0);
    assert.equal(compareGtidPositions('mysql', '', `${A}:1`), -1);
  });
  it('MariaDB', () => {
    assert.equal(compareGtidPositions('mariadb', '0-1-100', '0-1-100'), 0);
    assert.equal(compareGtidPositions('mariadb', '0-1-101', '0-1-100'), 1);
    assert.equal(compareGtidPositions('mariadb', '0-1-100,1-1-5', '0-1-100'), 1);
    assert.equal(compareGtidPositions('mariadb', '0-1-100', '0-1-100,1-1-5'), -1);
    assert.equal(compareGtidPositions('mariadb', '0-1-101,1-1-4', '0-1-100,1-1-5'), undefined);
    assert.equal(compareGtidPositions('mariadb', '0-1-100', '0-2-100'), undefined);
    assert.equal(compareGtidPositions('mariadb', '', '0-1-1'), -1);
    assert.equal(compareGtidPositions('mariadb', '1-1-5, 0-1-100', '0-1-100,1-1-5'), 0);
  });
  it('sorts candidates by position', () => {
    const positions = ['0-1-98', '0-1-100', '0-1-99'];
    const sorted = [...positions].sort((a, b) => compareGtidPositions('mariadb', b, a) ?? 0);
    assert.deepEqual(sorted, ['0-1-100', '0-1-99', '0-1-98']);
  });
});
