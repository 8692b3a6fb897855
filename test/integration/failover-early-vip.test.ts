/**
 * The VIP taken early by the Phase 1 candidate (src/engine/failover-vip.ts), on real hosts: a netns
 * sandbox (each mariadbd and its sshd in a namespace of its own, on a bridge), a real manager, the
 * built-in vip hook. The VIP starts on db1; db2 is candidate_master, so the Phase 1 plan picks it and
 * it takes the VIP early, read_only, right after the stop hooks.
 *
 * Fault injection at a fixed point: a `command` hook in the stop phase (it runs after the IO threads
 * are stopped and the old master fenced, before Phase 3.1) SIGKILLs the candidate's mariadbd (and in
 * the failure case db3's too), as a crash of that server mid-failover. Its host and sshd stay up, so
 * the early add on db2's host succeeds; db2 then cannot apply its relay log (refused) and is left out.
 *  1. another server is promoted: the Phase 3.1 plan picks db3; the VIP is removed from db2 (the
 *     early holder) before the start phase adds it on db3.
 *  2. the failover fails before promotion (no survivor left): the VIP is given back, on no host.
 * Throughout, `ip monitor address` in each namespace records every add and delete of the VIP (and a
 * shell loop samples `ip addr` in each, one after the other): never on two hosts at once.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rootSql, stopServer, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';
import { withSandbox } from '../helpers/sandbox.js';
import { until, writeManagerConfig } from '../helpers/cluster.js';
import { ManagerProcess } from '../helpers/manager.js';
import { netnsAvailable } from '../helpers/netns.js';

interface Sample {
  t: number;
  host: string;
  has: boolean;
}

/**
 * Watches the VIP on every host during a failover, two ways:
 *  - events: `ip -ts monitor address` in each host's namespace (every add and delete as it happens,
 *    time-stamped on receipt: a hold too short for any sampling is still seen);
 *  - samples: a shell loop reading `ip addr` in each namespace in turn, as fast as it can.
 */
class VipWatch {
  readonly #procs: ChildProcess[] = [];
  readonly #events: Array<{ ts: string; host: string; has: boolean }> = [];
  #samples = '';

  constructor(
    readonly vip: string,
    hosts: SandboxServer[],
  ) {
    for (const h of hosts) {
      const p = spawn('ip', ['-ts', '-n', h.netns!.ns, 'monitor', 'address'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let buf = '';
      p.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          const m = /^\[([0-9T:.-]+)\] (Deleted )?\d+: \S+\s+inet (\S+) /.exec(line);
          if (m && m[3] === `${vip}/32`) this.#events.push({ ts: m[1]!, host: h.name, has: m[2] === undefined });
        }
      });
      this.#procs.push(p);
    }
    const pairs = hosts.map((h) => `${h.name}:${h.netns!.ns}`).join(' ');
    const script = `while :; do for p in ${pairs}; do n=\${p%%:*}; ns=\${p#*:}; o=$(ip -n "$ns" -o -4 addr show dev eth0); t=$EPOCHREALTIME; if [[ $o == *" ${vip}/32"* ]]; then h=1; else h=0; fi; echo "$t $n $h"; done; done`;
    const sampler = spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    sampler.stdout.on('data', (d: Buffer) => (this.#samples += d.toString()));
    this.#procs.push(sampler);
  }

  /** Stops the monitors and the loop (by their PIDs); returns the events in time order and the samples. */
  async stop(): Promise<{ events: Array<{ ts: string; host: string; has: boolean }>; samples: Sample[] }> {
    await Promise.all(
      this.#procs.map((p) => {
        if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
        const exited = new Promise((r) => p.once('exit', r));
        p.kill('SIGKILL');
        return exited;
      }),
    );
    const samples = this.#samples
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f.length === 3 && /^\d+\.\d+$/.test(f[0]!) && (f[2] === '0' || f[2] === '1'))
      .map(([t, host, has]) => ({ t: Number(t) * 1000, host: host!, has: has === '1' }));
    // ISO time stamps of one clock: their string order is their time order (a stable sort keeps each host's own order).
    const events = [...this.#events].sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
    return { events, samples };
  }

  kill(): void {
    for (const p of this.#procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }
}

/** From the events (and who held it when they began): the hosts in the order they took it, any moment two held it, who holds it at the end. */
function replay(initial: string[], events: Array<{ ts: string; host: string; has: boolean }>): { order: string[]; overlap?: string; last: string[] } {
  const held = new Set(initial);
  const order = [...initial];
  let overlap: string | undefined;
  for (const e of events) {
    if (e.has && !held.has(e.host)) order.push(e.host);
    if (e.has) held.add(e.host);
    else held.delete(e.host);
    if (held.size > 1 && overlap === undefined) overlap = `at ${e.ts}: ${[...held].join(' and ')}`;
  }
  return { order, overlap, last: [...held] };
}

/**
 * Two hosts at once: a reading of host Y holding it between two readings of host X that both hold it
 * (X had it throughout, as far as the readings can tell: the VIP never comes back to a host it left).
 */
function twoAtOnce(samples: Sample[]): string | undefined {
  const lastHeld = new Map<string, number>();
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    if (!s.has) {
      lastHeld.delete(s.host);
      continue;
    }
    for (const [host, j] of lastHeld) {
      if (host === s.host) continue;
      // host held it at j; is there a later reading of host, after i, still holding it with no "not held" in between?
      const next = samples.slice(i + 1).find((x) => x.host === host);
      if (next?.has) return `${s.host} held it at ${s.t} while ${host} held it at ${samples[j]!.t} and ${next.t}`;
    }
    lastHeld.set(s.host, i);
  }
  return undefined;
}

const holds = (s: SandboxServer, vip: string): boolean => spawnSync('ip', ['-n', s.netns!.ns, '-o', '-4', 'addr', 'show', 'dev', 'eth0'], { encoding: 'utf8', timeout: 5000 }).stdout.includes(` ${vip}/32`);

async function setup(name: string, tag: string, subnet: string, sshPort: number, crash: (sb: SandboxInfo) => SandboxServer[]): Promise<{ sb: SandboxInfo; mgr: ManagerProcess; vip: string; conf: string }> {
  const sb = await withSandbox(undefined, { name, replicas: 2, sshPort, netns: { tag, subnet }, extraServerOptions: ['bind_address=0.0.0.0'] });
  const vip = `${subnet}.100`;
  const [db1] = sb.servers as [SandboxServer];
  await rootSql(db1, 'CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO app.t VALUES (1)');
  for (const s of sb.servers.slice(1)) await until(`${s.name} has the table`, async () => (await rootSql(s, 'SELECT COUNT(*) FROM app.t')).trim() === '1');
  const add = spawnSync('ip', ['-n', db1.netns!.ns, 'addr', 'add', `${vip}/32`, 'dev', 'eth0'], { encoding: 'utf8', timeout: 5000 });
  assert.equal(add.status, 0, add.stderr);
  const victims = crash(sb);
  const hooks = {
    environment: 't',
    sets: {
      t: [
        { name: 'vip', type: 'vip', address: `${vip}/32`, interface: 'eth0', arping_count: 1, timeout: 10, on_failure: 'abort' },
        // The fault: the candidate (and for the failure case every replica) crashes during Phase 2.
        { name: 'crash', type: 'command', phases: ['stop'], command: ['kill', '-9', ...victims.map((v) => String(v.pid))], timeout: 5, on_failure: 'continue' },
      ],
    },
  };
  const conf = writeManagerConfig(sb, { cluster: { last_failover_minute: 0, hooks }, servers: { db2: { candidate_master: true } } });
  const mgr = new ManagerProcess(conf, ['--http', 'off'], sb.dir);
  await mgr.waitFor(/^watching sandbox: master db1/, 60_000);
  return { sb, mgr, vip, conf };
}

describe('early VIP: another server is promoted than the candidate that took it', { skip: !netnsAvailable() && 'needs root and iproute2' }, () => {
  let sb: SandboxInfo;
  let mgr: ManagerProcess;
  let vip: string;
  let watch: VipWatch | undefined;

  before(async () => {
    ({ sb, mgr, vip } = await setup('early-vip-other', 'hfo-e', '10.213.85', 2620, (s) => [s.servers[1]!]));
  });

  after(async () => {
    watch?.kill();
    await mgr?.stop();
  });

  test('db2 (candidate) takes the VIP early, crashes; db3 is promoted: the VIP leaves db2 before db3 adds it, never on two hosts', { timeout: 180_000 }, async (t) => {
    const [db1, db2, db3] = sb.servers as [SandboxServer, SandboxServer, SandboxServer];
    assert.ok(holds(db1, vip), 'the VIP starts on db1');
    watch = new VipWatch(vip, sb.servers);
    await new Promise((r) => setTimeout(r, 500)); // the monitors are listening
    await stopServer(db1, 'SIGKILL');
    const done = await mgr.waitFor(/^now watching the new master|failover of db1 FAILED|stopped after/, 90_000);
    await new Promise((r) => setTimeout(r, 300));
    const { events, samples } = await watch.stop();
    watch = undefined;
    const msgs = mgr.lines.map((l) => l.msg);
    const trace = msgs.filter((m) => /vip|Phase|new master|left out|fence|crash|candidate/.test(m)).join('\n');
    assert.match(done.msg, /^now watching the new master db3/, trace);
    // Over time: db1, (none), db2, (none), db3; never two at once.
    const seq = replay(['db1'], events);
    const shown = `${seq.order.join(' -> ')}; events: ${JSON.stringify(events)}\n${trace}`;
    assert.equal(seq.overlap, undefined, `on two hosts at once (${seq.overlap ?? ''}): ${shown}`);
    assert.deepEqual(seq.order, ['db1', 'db2', 'db3'], shown);
    assert.deepEqual(seq.last, ['db3'], shown);
    assert.ok(samples.length > 30, `enough readings: ${samples.length}`);
    assert.equal(twoAtOnce(samples), undefined, `on two hosts at once in the readings (${samples.length})`);
    // The end state, read now: on db3 only.
    assert.equal(holds(db1, vip), false, 'not on db1');
    assert.equal(holds(db2, vip), false, 'not on db2 (the early holder)');
    assert.equal(holds(db3, vip), true, 'on db3 (the new master)');
    // What the manager said: the early add on db2 as the candidate, db2 left out, the VIP removed from db2 for db3.
    const earlyAt = msgs.findIndex((m) => /^vip vip: taken early by the candidate db2 \(read_only until promoted\): /.test(m));
    assert.ok(earlyAt >= 0, `db2 took the VIP early:\n${trace}`);
    assert.ok(!/FAILED/.test(msgs[earlyAt]!), msgs[earlyAt]);
    assert.ok(msgs.some((m) => /^db2 could not apply its relay log and is left out/.test(m)), trace);
    const handOver = msgs.findIndex((m) => /^vip vip: the new master is db3, not the candidate db2: /.test(m));
    assert.ok(handOver > earlyAt, `the VIP was removed from db2 for db3:\n${trace}`);
    assert.doesNotMatch(msgs[handOver]!, /could NOT remove/);
    // db3 writable; a client through the VIP reaches it.
    assert.equal((await rootSql(db3, 'SELECT @@read_only')).trim(), '0');
    const r = spawnSync('mariadb', [`--defaults-extra-file=${sb.clientConfigFile}`, '-h', vip, '-P', String(db3.port), '--connect-timeout=3', '-N', '-B', '-e', 'SELECT @@server_id'], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), String(db3.serverId));
    const at = (host: string, has: boolean): string | undefined => events.find((e) => e.host === host && e.has === has)?.ts;
    t.diagnostic(`VIP events: ${events.map((e) => `${e.ts.slice(11)} ${e.has ? '+' : '-'}${e.host}`).join(', ')}; ${samples.length} readings; held by db2 from ${at('db2', true)?.slice(11)} to ${at('db2', false)?.slice(11)}; db3 from ${at('db3', true)?.slice(11)}`);
  });
});

describe('early VIP: the failover fails after the candidate took it', { skip: !netnsAvailable() && 'needs root and iproute2' }, () => {
  let sb: SandboxInfo;
  let mgr: ManagerProcess;
  let vip: string;
  let watch: VipWatch | undefined;

  before(async () => {
    ({ sb, mgr, vip } = await setup('early-vip-fail', 'hfo-f', '10.213.86', 2621, (s) => [s.servers[1]!, s.servers[2]!]));
  });

  after(async () => {
    watch?.kill();
    await mgr?.stop();
  });

  test('every replica crashes in Phase 2: the failover fails before promotion, the VIP is given back by db2; on no host, never on two', { timeout: 180_000 }, async (t) => {
    const [db1, db2, db3] = sb.servers as [SandboxServer, SandboxServer, SandboxServer];
    assert.ok(holds(db1, vip), 'the VIP starts on db1');
    watch = new VipWatch(vip, sb.servers);
    await new Promise((r) => setTimeout(r, 500)); // the monitors are listening
    await stopServer(db1, 'SIGKILL');
    const done = await mgr.waitFor(/failover of db1 FAILED|^now watching the new master/, 90_000);
    // The give-back runs in the failure's cleanup (bounded by 10 s); the failover's end comes after it.
    await mgr.waitFor(/^vip vip: the failover stopped before promotion: /, 20_000).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    const { events, samples } = await watch.stop();
    watch = undefined;
    const msgs = mgr.lines.map((l) => l.msg);
    const trace = msgs.filter((m) => /vip|Phase|new master|left out|fence|FAILED|candidate/.test(m)).join('\n');
    assert.match(done.msg, /failover of db1 FAILED/, trace);
    const seq = replay(['db1'], events);
    const shown = `${seq.order.join(' -> ')}; events: ${JSON.stringify(events)}\n${trace}`;
    assert.equal(seq.overlap, undefined, `on two hosts at once (${seq.overlap ?? ''}): ${shown}`);
    assert.deepEqual(seq.order, ['db1', 'db2'], shown);
    assert.deepEqual(seq.last, [], `given back: on no host at the end: ${shown}`);
    assert.ok(samples.length > 30, `enough readings: ${samples.length}`);
    assert.equal(twoAtOnce(samples), undefined, `on two hosts at once in the readings (${samples.length})`);
    assert.equal(holds(db1, vip), false, 'not on db1');
    assert.equal(holds(db2, vip), false, 'given back by db2');
    assert.equal(holds(db3, vip), false, 'not on db3');
    assert.ok(msgs.some((m) => /^vip vip: taken early by the candidate db2 \(read_only until promoted\): /.test(m)), `db2 took the VIP early:\n${trace}`);
    const back = msgs.find((m) => /^vip vip: the failover stopped before promotion: /.test(m));
    assert.ok(back !== undefined && !/could NOT remove/.test(back), trace);
    t.diagnostic(`VIP events: ${events.map((e) => `${e.ts.slice(11)} ${e.has ? '+' : '-'}${e.host}`).join(', ')}; ${samples.length} readings`);
  });
});
