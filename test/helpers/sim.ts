/**
 * One simulated MySQL server, db1 (bench/scale/sim.ts: a hand-written protocol
 * loop in a child process), for the unit tests of the connections the monitor
 * keeps: started before the file's tests, killed after them (resumed first,
 * in case a test left it stopped).
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import type { DbTarget } from '../../src/adapters/mysql/connection.js';
import { Secret } from '../../src/domain/secret.js';
import type { SimReply, SimRequest } from '../../bench/scale/sim.js';

export interface SimDb1 {
  /** How to reach it: db1 on host:3306, user mhats (the simulator takes any password). */
  target: DbTarget;
  /** One request to the simulator, its reply. */
  ask: (req: SimRequest) => Promise<SimReply>;
  /** The server closes every connection it has; how many that was. */
  drop: () => Promise<number>;
  /** SIGSTOP: the server hangs (reads nothing, answers nothing); SIGCONT: it goes on. */
  signal: (sig: 'SIGSTOP' | 'SIGCONT') => void;
}

/** Registers the before/after hooks of the calling test file; host: a loopback address of the file's own. */
export function simDb1(host: string): SimDb1 {
  let sim: ChildProcess | undefined;
  const waiters: Array<(r: SimReply) => void> = [];
  const target: DbTarget = { name: 'db1', host, port: 3306, user: 'mhats', password: new Secret('x') };
  const ask = (req: SimRequest): Promise<SimReply> =>
    new Promise((resolve, reject) => {
      if (sim === undefined) return reject(new Error('the simulator is not running'));
      waiters.push(resolve);
      sim.send(req);
    });
  before(async () => {
    sim = spawn(process.execPath, ['--import', 'tsx', 'bench/scale/sim.ts'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    sim.on('message', (r: SimReply) => waiters.shift()?.(r));
    const r = await ask({ type: 'start', servers: [{ name: 'db1', host, port: target.port, serverId: 1 }], rate: 10, maxLagMs: 0 });
    assert.equal(r.type, 'started');
  });
  after(() => {
    sim?.kill('SIGCONT');
    sim?.kill('SIGKILL');
  });
  return {
    target,
    ask,
    drop: async () => {
      const d = await ask({ type: 'drop', name: 'db1' });
      return d.type === 'dropped' ? d.connections : -1;
    },
    signal: (sig) => {
      sim?.kill(sig);
    },
  };
}
