/**
 * withSandbox(): a real sandbox (mariadbd processes plus an sshd) for an
 * integration test, torn down when the test ends (t.after), or without a test
 * context when the test file's process ends ('beforeExit': node:test's
 * `after()` called from inside a `before` hook would belong to that hook and
 * run at once). Even on failure: a process 'exit'/signal handler kills
 * whatever is left if the runner dies first.
 */
import type { TestContext } from 'node:test';
import { join } from 'node:path';
import { sandboxDown, sandboxKillSync, sandboxUp, type SandboxInfo, type SandboxOptions } from '../../src/sandbox/index.js';

export const TEST_ROOT = process.env.MHATS_TEST_ROOT ?? '/var/tmp/mhats-test';

const live = new Set<string>();
const teardowns = new Map<string, () => Promise<void>>();
let netInstalled = false;

function installSafetyNet(): void {
  if (netInstalled) return;
  netInstalled = true;
  const killAll = (): void => {
    for (const dir of live) {
      try {
        sandboxKillSync(dir);
      } catch {
        // best effort while dying
      }
    }
    live.clear();
  };
  // End of the file's tests: a clean `down` of every sandbox still up.
  process.on('beforeExit', () => {
    const dirs = [...live];
    if (dirs.length === 0) return;
    void Promise.allSettled(dirs.map((d) => teardowns.get(d)?.() ?? Promise.resolve()));
  });
  process.on('exit', killAll);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(128 + (sig === 'SIGTERM' ? 15 : sig === 'SIGINT' ? 2 : 1));
    });
  }
}

/** A stable 127.0.N.11 per name, so files that pass no baseAddress rarely clash. */
function defaultBase(name: string): string {
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return `127.0.${100 + (h % 150)}.11`;
}

export async function withSandbox(t: TestContext | undefined, opts: Partial<SandboxOptions> & { name: string }): Promise<SandboxInfo> {
  installSafetyNet();
  const { name, ...rest } = opts;
  const dir = rest.dir ?? join(TEST_ROOT, `${name}-${process.pid}`);
  live.add(dir);
  const teardown = async (): Promise<void> => {
    try {
      await sandboxDown(dir);
    } catch (err) {
      sandboxKillSync(dir); // a failed clean stop still must not leave servers behind
      throw err;
    } finally {
      live.delete(dir);
      teardowns.delete(dir);
    }
  };
  teardowns.set(dir, teardown);
  if (t) t.after(teardown);
  return sandboxUp({ ...rest, dir, baseAddress: rest.baseAddress ?? defaultBase(name) });
}
