import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  binlogBasename,
  binlogFileIndex,
  compareCoords,
  formatCoord,
  maxCoord,
  minCoord,
  parseCoord,
  sameBinlogSeries,
} from '../../src/domain/binlog-coord.js';

describe('binlogFileIndex', () => {
  it('reads the numeric suffix', () => {
    assert.equal(binlogFileIndex('mysql-bin.000123'), 123);
    assert.equal(binlogFileIndex('binlog.1000000'), 1000000);
    assert.equal(binlogFileIndex('/var/lib/mysql/host.name-bin.000001'), 1);
    assert.equal(binlogFileIndex('a.b.c.000009'), 9);
  });
  for (const bad of ['', 'mysql-bin', 'mysql-bin.', 'mysql-bin.00a1', 'mysql-bin.000123 ', '000123']) {
    it(`throws on ${JSON.stringify(bad)}`, () => {
      assert.throws(() => binlogFileIndex(bad), /no numeric suffix/);
    });
  }
  it('basename', () => {
    assert.equal(binlogBasename('mysql-bin.000123'), 'mysql-bin');
    assert.equal(sameBinlogSeries({ file: 'a.000001', pos: 4 }, { file: 'a.000009', pos: 4 }), true);
    assert.equal(sameBinlogSeries({ file: 'a.000001', pos: 4 }, { file: 'b.000001', pos: 4 }), false);
  });
});

describe('compareCoords', () => {
  it('orders by file index numerically across the 999999 → 1000000 rotation', () => {
    const a = { file: 'mysql-bin.999999', pos: 999_999_999 };
    const b = { file: 'mysql-bin.1000000', pos: 4 };
    assert.ok('mysql-bin.999999' > 'mysql-bin.1000000', 'a string compare would get this wrong');
    assert.equal(compareCoords(a, b), -1);
    assert.equal(compareCoords(b, a), 1);
  });
  it('equal files compare by position', () => {
    assert.equal(compareCoords({ file: 'mysql-bin.000010', pos: 100 }, { file: 'mysql-bin.000010', pos: 200 }), -1);
    assert.equal(compareCoords({ file: 'mysql-bin.000010', pos: 200 }, { file: 'mysql-bin.000010', pos: 100 }), 1);
    assert.equal(compareCoords({ file: 'mysql-bin.000010', pos: 100 }, { file: 'mysql-bin.000010', pos: 100 }), 0);
  });
  it('a later file wins regardless of position', () => {
    assert.equal(compareCoords({ file: 'mysql-bin.000011', pos: 4 }, { file: 'mysql-bin.000010', pos: 1_000_000 }), 1);
  });
  it('zero padding does not matter', () => {
    assert.equal(compareCoords({ file: 'mysql-bin.10', pos: 4 }, { file: 'mysql-bin.000010', pos: 4 }), 0);
  });
  it('different basenames compare by index and position only (documented)', () => {
    assert.equal(compareCoords({ file: 'a-bin.000002', pos: 4 }, { file: 'b-bin.000001', pos: 900 }), 1);
  });
  it('an empty file name (nothing read yet) sorts first; other junk throws', () => {
    assert.equal(compareCoords({ file: '', pos: 4 }, { file: 'mysql-bin.000001', pos: 4 }), -1);
    assert.equal(compareCoords({ file: '', pos: 4 }, { file: '', pos: 4 }), 0);
    assert.throws(() => compareCoords({ file: 'junk', pos: 4 }, { file: 'mysql-bin.000001', pos: 4 }), /no numeric suffix/);
  });
});

describe('maxCoord / minCoord', () => {
  const coords = [
    { file: 'mysql-bin.999999', pos: 500 },
    { file: 'mysql-bin.1000000', pos: 120 },
    { file: 'mysql-bin.1000000', pos: 4 },
    { file: 'mysql-bin.000001', pos: 99999 },
  ];
  it('max and min', () => {
    assert.deepEqual(maxCoord(coords), { file: 'mysql-bin.1000000', pos: 120 });
    assert.deepEqual(minCoord(coords), { file: 'mysql-bin.000001', pos: 99999 });
  });
  it('empty → undefined; ties → the first', () => {
    assert.equal(maxCoord([]), undefined);
    assert.equal(minCoord([]), undefined);
    const x = { file: 'b.000001', pos: 4 };
    const y = { file: 'b.000001', pos: 4 };
    assert.equal(maxCoord([x, y]), x);
    assert.equal(minCoord([x, y]), x);
  });
});

describe('formatCoord / parseCoord', () => {
  it('round-trips', () => {
    const c = { file: 'mysql-bin.000123', pos: 4567 };
    assert.equal(formatCoord(c), 'mysql-bin.000123:4567');
    assert.deepEqual(parseCoord(formatCoord(c)), c);
    assert.deepEqual(parseCoord(' /var/lib/mysql/bin.000002:4 '), { file: '/var/lib/mysql/bin.000002', pos: 4 });
  });
  it('formats an unread replica coordinate without throwing', () => {
    assert.equal(formatCoord({ file: '', pos: 4 }), ':4');
  });
  for (const bad of ['', 'mysql-bin.000123', ':4', 'mysql-bin.000123:', 'mysql-bin.000123:-1', 'mysql-bin.000123:1.5', 'mysql-bin:4', 'mysql-bin.000123:99999999999999999999']) {
    it(`parseCoord rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseCoord(bad), /binlog/);
    });
  }
});
