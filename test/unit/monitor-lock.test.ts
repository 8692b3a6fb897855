import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { conflictStillBlocks, isOwnOrphan } from '../../src/domain/monitor-lock.js';

describe("MHA's monitor lock decisions", () => {
  const mine = { id: 42, host: '10.0.0.5:51234' };

  test('the holder is this manager only with the same connection id and the same client ip:port', () => {
    assert.equal(isOwnOrphan(mine, 42, '10.0.0.5:51234'), true);
    assert.equal(isOwnOrphan(mine, 42, '10.0.0.5:51235'), false, 'same id after a restart, another client port: not ours');
    assert.equal(isOwnOrphan(mine, 42, '10.0.0.6:51234'), false);
    assert.equal(isOwnOrphan(mine, 43, '10.0.0.5:51234'), false);
    assert.equal(isOwnOrphan(mine, 42, undefined), false, 'the holder is gone from the process list');
    assert.equal(isOwnOrphan(mine, null, '10.0.0.5:51234'), false);
    assert.equal(isOwnOrphan(undefined, 42, '10.0.0.5:51234'), false, 'this manager never held it');
    assert.equal(isOwnOrphan({ id: 42, host: 'localhost' }, 42, 'localhost'), false, 'a socket client has no port to tell sessions apart');
  });

  test('a conflict stops blocking at once when the master refuses, else after staleMs unseen', () => {
    assert.equal(conflictStillBlocks(1000, 'refused', 1001, 5000), false);
    assert.equal(conflictStillBlocks(1000, 'timeout', 5999, 5000), true);
    assert.equal(conflictStillBlocks(1000, 'timeout', 6000, 5000), false);
    assert.equal(conflictStillBlocks(1000, 'auth', 2000, 5000), true);
  });
});
