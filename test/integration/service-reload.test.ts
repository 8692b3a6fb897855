/**
 * SIGHUP reloads the configuration of a running manager (real sandbox: db1 master, db2 replica):
 *  - a config that adds a cluster starts watching it, and a changed cluster restarts its monitor;
 *  - a broken config is rejected with the reason (file:line) and the old one stays in force;
 *  - a removed cluster stops being watched (its metrics go away);
 *  - a change that arrives during a failover waits for the failover to finish.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { stopServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { ManagerProcess } from '../helpers/manager.js';
import { getJson, httpGet, parsePrometheusText } from '../helpers/service.js';

type Doc = { state_dir: string; http?: unknown; clusters: Record<string, Record<string, unknown>> };

describe('manager: SIGHUP reload', () => {
  let sb: SandboxInfo;
  let db1: SandboxServer;
  let mgr: ManagerProcess;
  let conf: string;
  let url: string;
  let base: Record<string, unknown>;
  let stateDir: string;

  const write = (clusters: Record<string, Record<string, unknown>>, extra = ''): void => {
    const doc: Doc = { state_dir: stateDir, http: { listen: '127.0.14.1:0' }, clusters };
    writeFileSync(conf, stringify(doc) + extra, { mode: 0o600 });
  };
  const hup = (): void => void mgr.child.kill('SIGHUP');
  const count = (re: RegExp): number => mgr.lines.filter((l) => re.test(l.msg)).length;
  async function waitCount(re: RegExp, n: number, timeoutMs = 20_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (count(re) < n) {
      assert.ok(Date.now() < end, `waiting for ${n}× ${re}\n${mgr.tail()}`);
      assert.equal(mgr.exited, undefined, mgr.tail());
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  const clusters = async (): Promise<Array<{ name: string; state: string; master?: string; ticks: number }>> => (await getJson<{ clusters: Array<{ name: string; state: string; master?: string; ticks: number }> }>(`${url}/status`)).clusters;

  before(async () => {
    sb = await withSandbox(undefined, { name: 'service-reload', baseAddress: '127.0.14.11', replicas: 1, ssh: false });
    [db1] = sb.servers as [SandboxServer, SandboxServer];
    const doc = parse(readFileSync(sb.configFile, 'utf8')) as Doc;
    stateDir = join(sb.dir, 'state');
    // A slow master_ip_failover_script keeps the failover running while the reload arrives.
    const hook = join(sb.dir, 'slow-hook.sh');
    writeFileSync(hook, '#!/bin/sh\nsleep 1.5\nexit 0\n');
    chmodSync(hook, 0o755);
    base = { ...doc.clusters[sb.clusterName]!, ping_interval: 0.3, ping_failures: 3, ping_timeout: 0.3, connect_timeout: 1, query_timeout: 3, master_ip_failover_script: hook };
    conf = join(sb.dir, 'service.yaml');
    write({ one: base });
    mgr = new ManagerProcess(conf, [], sb.dir);
    url = String((await mgr.waitFor(/^HTTP endpoint on /, 30_000)).url);
    await mgr.waitFor(/^watching one: master db1/, 30_000);
  });

  after(async () => {
    await mgr?.stop();
  });

  test('a config that adds a cluster starts watching it; a changed cluster restarts with its new settings', async () => {
    write({ one: { ...base, ping_interval: 0.4 }, two: base });
    hup();
    await mgr.waitFor(/^configuration reloaded: added two; changed one/);
    await mgr.waitFor(/^watching two: master db1/);
    await mgr.waitFor(/^watching one again with its new settings/);
    const cs = await clusters();
    assert.deepEqual(cs.map((c) => c.name).sort(), ['one', 'two']);
    const end = Date.now() + 10_000;
    while (!(await clusters()).every((c) => c.state === 'watching')) {
      assert.ok(Date.now() < end, JSON.stringify(await clusters()));
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal((await httpGet(`${url}/readyz`)).status, 200);
    assert.equal(mgr.exited, undefined);
  });

  test('a broken config is rejected with its file:line, and the old one stays in force', async () => {
    const ticksBefore = Object.fromEntries((await clusters()).map((c) => [c.name, c.ticks]));
    writeFileSync(conf, `${readFileSync(conf, 'utf8')}bogus_key: 1\n`);
    const badLine = readFileSync(conf, 'utf8').split('\n').findIndex((l) => l.startsWith('bogus_key')) + 1;
    hup();
    const l = await mgr.waitFor(/^configuration reload REJECTED/);
    assert.match(l.msg, new RegExp(`service\\.yaml:${badLine}: unknown key "bogus_key" in the top level`));
    assert.match(l.msg, /the running configuration stays in force/);
    // Both clusters still watched, their loops still turning.
    await new Promise((r) => setTimeout(r, 1500));
    const cs = await clusters();
    assert.deepEqual(cs.map((c) => c.name).sort(), ['one', 'two']);
    for (const c of cs) assert.ok(c.ticks > (ticksBefore[c.name] ?? 0), `${c.name} still ticks`);
    const m = parsePrometheusText((await httpGet(`${url}/metrics`)).body);
    assert.equal(m.get('mhats_config_reloads_total{result="rejected"}'), 1);
    // A config that does not even parse is rejected too.
    writeFileSync(conf, 'clusters: [\n');
    hup();
    await waitCount(/^configuration reload REJECTED/, 2);
    assert.match(mgr.lines.filter((x) => /REJECTED/.test(x.msg))[1]!.msg, /service\.yaml:\d+: YAML syntax error/);
    assert.deepEqual((await clusters()).map((c) => c.name).sort(), ['one', 'two']);
  });

  test('a removed cluster is no longer watched, and its metrics go', async () => {
    write({ two: base });
    hup();
    await mgr.waitFor(/^configuration reloaded: removed one/);
    await mgr.waitFor(/^stopped watching one \(removed from the configuration\)/);
    assert.deepEqual((await clusters()).map((c) => c.name), ['two']);
    const body = (await httpGet(`${url}/metrics`)).body;
    assert.equal(/cluster="one"/.test(body), false, 'no series of the removed cluster');
    assert.match(body, /mhats_monitor_ticks_total\{cluster="two"\}/);
  });

  test('a change during a failover waits until the failover has finished', async () => {
    await stopServer(db1, 'SIGKILL');
    await mgr.waitFor(/Phase 1: Configuration Check Phase started/, 30_000);
    write({ two: { ...base, ping_interval: 0.5 } });
    hup();
    await mgr.waitFor(/^cluster two changed: its monitor restarts with the new settings when the failover in progress has finished/, 10_000);
    await mgr.waitFor(/^now watching the new master db2/, 60_000);
    await mgr.waitFor(/^watching two again with its new settings/, 20_000);
    const msgs = mgr.lines.map((x) => x.msg);
    const promoted = msgs.findIndex((m) => /^now watching the new master db2/.test(m));
    const restarted = msgs.findIndex((m) => /^watching two again/.test(m));
    assert.ok(promoted < restarted, mgr.tail());
    // The failover was not cut short: it ended in the journal with success.
    const ends = readFileSync(join(stateDir, 'two', 'failovers.jsonl'), 'utf8').trim().split('\n').map((x) => JSON.parse(x) as { type: string; outcome?: string }).filter((r) => r.type === 'end');
    assert.deepEqual(ends.map((e) => e.outcome), ['success']);
    // The restarted monitor watches the new master (db1 stays failed).
    await mgr.waitFor(/^watching two: master db2/, 20_000);
    const [c] = await clusters();
    assert.equal(c?.master, 'db2');
  });
});
