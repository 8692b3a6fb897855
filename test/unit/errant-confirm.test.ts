import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeTopology } from '../../src/domain/topology.js';
import { errantToConfirm, withMasterGtid } from '../../src/domain/errant-confirm.js';
import type { GtidState, ServerProbe } from '../../src/domain/types.js';
import { healthy, obs, ok, replicaStatus } from '../helpers/observations.js';

const opts = { secondsBehindMaster: 30, checkReplFilter: true, multiTierSlave: false, replUser: 'repl' };
const specs = healthy().specs;

/** The master writes one transaction per ms; it is read at tMaster, each replica at its own time, `behind` ms behind its master. */
function skewed(tMaster: number, replicas: Array<{ t: number; behind: number }>, errantOn?: string): ServerProbe[] {
  const master = (t: number): GtidState => ({ enabled: true, executed: `0-1-${t}`, binlogPos: `0-1-${t}`, slavePos: '', binlogState: `0-1-${t}` });
  const replica = (name: string, t: number): GtidState => {
    const state = `0-1-${t}${name === errantOn ? `,0-${name === 'db2' ? 2 : 3}-5` : ''}`;
    return { enabled: true, executed: `0-1-${t}`, slavePos: `0-1-${t}`, binlogPos: name === errantOn ? `0-${name === 'db2' ? 2 : 3}-5` : '', binlogState: name === errantOn ? state : '' };
  };
  return [
    ok(obs('db1', '127.0.0.11', 1, { readOnly: false, gtid: master(tMaster) })),
    ok(obs('db2', '127.0.0.12', 2, { gtid: replica('db2', replicas[0]!.t - replicas[0]!.behind), replica: replicaStatus('127.0.0.11', { gtidAutoPosition: true }) })),
    ok(obs('db3', '127.0.0.13', 3, { gtid: replica('db3', replicas[1]!.t - replicas[1]!.behind), replica: replicaStatus('127.0.0.11', { gtidAutoPosition: true }) })),
  ];
}

const masterAt = (t: number): GtidState => ({ enabled: true, executed: `0-1-${t}`, binlogPos: `0-1-${t}`, slavePos: '', binlogState: `0-1-${t}` });

test('skewed reads: replicas read after the master look ahead of it; the master read again after them clears it', () => {
  // Master read at t=1000; the replicas 8 and 12 ms later, 3 ms behind their master: they hold 1005 and 1009.
  const probes = skewed(1000, [
    { t: 1008, behind: 3 },
    { t: 1012, behind: 3 },
  ]);
  const first = analyzeTopology(specs, probes, opts);
  assert.equal(first.healthy, false, 'the race shows up as errant GTIDs in the first read');
  assert.deepEqual(first.findings.filter((f) => f.code === 'errant_gtid').map((f) => f.server), ['db2', 'db3']);
  assert.equal(errantToConfirm(first), 'db1');
  // Read again after both replicas (t=1013): it has everything they have.
  const confirmed = analyzeTopology(specs, withMasterGtid(probes, 'db1', masterAt(1013)), opts);
  assert.equal(confirmed.healthy, true, JSON.stringify(confirmed.findings));
  assert.equal(errantToConfirm(confirmed), undefined);
});

test('a real errant transaction (written on the replica) stays errant after the re-read', () => {
  const probes = skewed(
    1000,
    [
      { t: 1008, behind: 3 },
      { t: 990, behind: 3 },
    ],
    'db3',
  );
  const first = analyzeTopology(specs, probes, opts);
  assert.deepEqual(first.findings.filter((f) => f.code === 'errant_gtid').map((f) => f.server), ['db2', 'db3']);
  const confirmed = analyzeTopology(specs, withMasterGtid(probes, 'db1', masterAt(1013)), opts);
  const errant = confirmed.findings.filter((f) => f.code === 'errant_gtid' && f.severity === 'error');
  assert.deepEqual(errant.map((f) => f.server), ['db3']);
  assert.match(errant[0]!.message, /0-3-5/);
});

test('the re-read keeps what the first read said about GTID being in use', () => {
  const probes = skewed(1000, [
    { t: 1000, behind: 0 },
    { t: 1000, behind: 0 },
  ]);
  const out = withMasterGtid(probes, 'db1', { ...masterAt(1001), enabled: false });
  const m = out[0]!;
  assert.ok(m.ok && m.obs.gtid.enabled && m.obs.gtid.executed === '0-1-1001');
  assert.strictEqual(out[1], probes[1], 'the replicas are untouched');
});

test('no master observed, or no errant finding: nothing to confirm', () => {
  const { probes } = healthy();
  assert.equal(errantToConfirm(analyzeTopology(specs, probes, opts)), undefined);
  const down = probes.map((p): ServerProbe => (p.ok && p.obs.name === 'db1' ? { ok: false, failure: { name: 'db1', host: '127.0.0.11', port: 3306, kind: 'refused', message: 'refused', elapsedMs: 1 } } : p));
  assert.equal(errantToConfirm(analyzeTopology(specs, down, opts)), undefined);
});
