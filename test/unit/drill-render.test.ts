import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderDrill } from '../../src/render/drill.js';
import { chooseEndpoint, parseHostPort } from '../../src/app/drill/endpoint.js';
import { refusal } from '../../src/app/drill/run.js';
import type { ClusterConfig } from '../../src/config/types.js';
import type { HookSpec } from '../../src/config/hooks.js';
import type { DrillRunResult } from '../../src/domain/drill/types.js';
import type { SandboxInfo } from '../../src/sandbox/index.js';

const run = (over: Partial<DrillRunResult> = {}): DrillRunResult => ({
  run: 1,
  fault: 'crash',
  oldMaster: 'db1',
  newMaster: 'db2',
  failoverId: 'sb-1',
  outcome: 'success',
  timings: { detectMs: 1234, writableMs: 2345, doneMs: 3456 },
  acked: 500,
  inDoubt: 1,
  missing: 0,
  reportedLost: 'none',
  verdicts: [
    { name: 'outcome', ok: true, detail: 'failover sb-1 to db2 succeeded' },
    { name: 'one-writable-master', ok: true, detail: 'at most one writable master in all 40 sampling rounds' },
  ],
  ok: true,
  notes: [],
  ...over,
});

test('report: the table (fault → detect → writable → done), each run\'s verdicts, the summary', () => {
  const text = renderDrill({ cluster: 'sb', fault: 'crash', endpoint: 'the VIP 10.0.0.100 of hook vip', results: [run()], ok: true });
  assert.match(text, /^drill of sb: fault crash, 1 run\(s\); writes through the VIP 10\.0\.0\.100 of hook vip$/m);
  assert.match(text, /^RUN +FAULT +MASTER +DETECT +WRITABLE +DONE +WRITES +LOST +REPORTED LOST +VERDICT$/m);
  assert.match(text, /^1 +crash +db1 → db2 +1\.2 s +2\.3 s +3\.5 s +500 \(\+1 in doubt\) +0 +none +ok$/m);
  assert.match(text, /^ {2}ok {6}one-writable-master {2}at most one writable master/m);
  assert.match(text, /^every invariant holds in 1 of 1 run\(s\)$/m);
});

test('report: a broken invariant is named in the run and in the summary', () => {
  const bad = run({ run: 2, ok: false, newMaster: undefined, outcome: 'none', timings: {}, verdicts: [{ name: 'old-master-fenced', ok: false, detail: 'db1 is WRITABLE (read_only=OFF) after healing' }], notes: ['something'] });
  const text = renderDrill({ cluster: 'sb', fault: 'hang', endpoint: 'x', results: [run(), bad], ok: false });
  assert.match(text, /^2 +crash +db1 \(none\) +- +- +- +500/m);
  assert.match(text, /^ {2}BROKEN {2}old-master-fenced {2}db1 is WRITABLE/m);
  assert.match(text, /^ {2}note {4}something$/m);
  assert.match(text, /^BROKEN invariant\(s\): old-master-fenced \(1 of 2 run\(s\)\)$/m);
});

const cluster = (over: Partial<ClusterConfig> = {}): ClusterConfig => ({ name: 'c1', servers: [{ port: 3307 }], source_file: '/etc/mhats/mhats.yaml', ...over }) as unknown as ClusterConfig;
const hook = (h: Record<string, unknown>): HookSpec => ({ phases: ['start'], timeout: 30, on_failure: 'abort', ...h }) as unknown as HookSpec;

test('endpoint: --endpoint, then the VIP, HAProxy, a hosts name, else read_only routing', () => {
  assert.deepEqual(chooseEndpoint(cluster(), [], '10.1.1.1:3310'), { kind: 'explicit', host: '10.1.1.1', port: 3310, why: '--endpoint 10.1.1.1:3310' });
  assert.equal(chooseEndpoint(cluster(), [], 'db.example').kind, 'explicit');
  assert.throws(() => chooseEndpoint(cluster(), [], 'a b'), /--endpoint "a b": give HOST or HOST:PORT/);
  const vip = hook({ name: 'vip', type: 'vip', address: '10.0.0.100/24' });
  const ha = hook({ name: 'lb', type: 'haproxy', verify: { host: '10.0.0.5', port: 3307 } });
  const hosts = hook({ name: 'names', type: 'hosts', names: ['db-master.example'] });
  assert.deepEqual(chooseEndpoint(cluster(), [hosts, ha, vip]), { kind: 'vip', host: '10.0.0.100', port: 3307, why: 'the VIP 10.0.0.100 of hook vip' });
  assert.equal(chooseEndpoint(cluster(), [hosts, ha]).kind, 'haproxy');
  assert.deepEqual(chooseEndpoint(cluster(), [hosts]), { kind: 'hosts', host: 'db-master.example', port: 3307, why: 'the name db-master.example of hook names, as this machine resolves it' });
  assert.equal(chooseEndpoint(cluster(), [hook({ name: 'lb', type: 'haproxy' })]).kind, 'read-only-routing', 'an HAProxy hook without a verify address gives no frontend');
  assert.deepEqual(parseHostPort('[::1]:3306', 1), { host: '::1', port: 3306 });
  assert.equal(parseHostPort('h:70000', 1), undefined);
});

test('refusal: a cluster without `drill: allowed` (not a sandbox), `drill: forbidden`, or no --yes; before anything is touched', () => {
  const sb = {} as SandboxInfo;
  const plain = refusal(cluster(), undefined, true);
  assert.match(plain?.message ?? '', /cluster c1 is not marked for drills/);
  assert.match(plain?.hint ?? '', /add `drill: allowed` to clusters\.c1 in \/etc\/mhats\/mhats\.yaml/);
  assert.equal(plain?.exitCode, 2);
  assert.equal(refusal(cluster({ drill: 'allowed' }), undefined, true), undefined);
  assert.equal(refusal(cluster(), sb, true), undefined, 'a sandbox needs no mark');
  assert.match(refusal(cluster({ drill: 'forbidden' }), sb, true)?.message ?? '', /marked `drill: forbidden`/);
  assert.match(refusal(cluster({ drill: 'allowed' }), undefined, false)?.message ?? '', /pass --yes to go ahead/);
});

test('faults: what each needs on the host, and why it is not possible there', async () => {
  const { faultImpossible } = await import('../../src/adapters/drill/faults.js');
  const ok = { pidFile: '/d/m.pid', pid: 42, cmdline: ['/usr/sbin/mariadbd', '--defaults-file=/d/my.cnf'], iface: 'eth0', address: '10.0.0.11', root: true, sudo: false, ip: true, problems: [] };
  assert.equal(faultImpossible('signal', ok, 'root@db1'), undefined);
  assert.equal(faultImpossible('netdown', ok, 'root@db1'), undefined);
  assert.match(faultImpossible('signal', { ...ok, root: false }, 'deploy@db1') ?? '', /deploy@db1 is not root and has no passwordless sudo: it cannot signal mysqld/);
  assert.equal(faultImpossible('signal', { ...ok, root: false, sudo: true }, 'deploy@db1'), undefined);
  assert.match(faultImpossible('signal', { ...ok, problems: ['PID 42 from /d/m.pid is not a mysqld/mariadbd (sleep)'] }, 'root@db1') ?? '', /is not a mysqld/);
  assert.match(faultImpossible('netdown', { ...ok, ip: false }, 'root@db1') ?? '', /no `ip` command/);
  assert.match(faultImpossible('netdown', { ...ok, iface: undefined }, 'root@db1') ?? '', /no interface on the host carries 10\.0\.0\.11/);
  assert.match(faultImpossible('netdown', { ...ok, iface: 'lo', address: '127.0.0.11' }, 'root@db1') ?? '', /loopback interface .* would cut off the whole machine/);
});
