/**
 * The drill matrix in tests: an environment on this worktree's allotment
 * (netns tag mhats-t-x*, subnets 10.213.5x, ssh ports 234x, etcd on
 * 127.0.51.1), and a safety net that kills a case's sandbox if the test
 * process dies.
 */
import { join } from 'node:path';
import { sandboxKillSync } from '../../src/sandbox/index.js';
import { matrixDir, type MatrixEnv } from '../../src/app/drill/matrix.js';
import { TEST_ROOT } from './sandbox.js';
import { cliArgs } from './cli.js';

export const CLI = [process.execPath, ...cliArgs()];

export function drillEnv(slot: { tag: string; subnet: string; sshPort: number }, lines: string[] = []): MatrixEnv {
  return {
    root: TEST_ROOT,
    tag: slot.tag,
    subnet: slot.subnet,
    sshPort: slot.sshPort,
    etcdClient: 'http://127.0.51.1:2379',
    etcdPeer: 'http://127.0.51.1:2380',
    cli: CLI,
    log: (l) => {
      lines.push(l);
      if (process.env.MHATS_DRILL_VERBOSE) process.stderr.write(`${l}\n`);
    },
  };
}

const live = new Set<string>();
let installed = false;

/** Kill the sandbox of this case if the process ends before it is down. */
export function guardCase(env: MatrixEnv, name: string): void {
  live.add(matrixDir(env, name));
  if (installed) return;
  installed = true;
  process.on('exit', () => {
    for (const d of live) {
      try {
        sandboxKillSync(d);
      } catch {
        // best effort while dying
      }
    }
  });
}

export function logFile(env: MatrixEnv, name: string): string {
  return join(matrixDir(env, name), 'drill.log');
}
