/**
 * Without etcd, one manager per state directory: a lock file holding the
 * manager's PID, created atomically (link(2) of a temporary file). A lock
 * left by a process that is gone, or that is not an mhats manager any more
 * (its PID reused), is stale and taken over.
 */
import { linkSync, readFileSync, unlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE = 'manager.lock';

export class LockHeldError extends Error {
  readonly pid: number;
  readonly path: string;
  constructor(path: string, pid: number) {
    super(`another mhats manager (PID ${pid}) already runs on state directory ${path.replace(/\/[^/]+$/, '')} (lock file ${path}); stop it first, or give this one its own state_dir`);
    this.name = 'LockHeldError';
    this.pid = pid;
    this.path = path;
  }
}

export interface LocalLockDeps {
  pid?: number;
  /** Is PID a live mhats manager? (default: /proc/PID/cmdline names `manager`; alive when /proc cannot tell). */
  isManager?: (pid: number) => boolean;
}

export function isLiveManager(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: alive, someone else's; fall through to the command line.
  }
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    // mhats manager, or MHA's masterha_manager entry point (which runs the same manager).
    return argv.includes('manager') || argv.some((a) => /(^|\/)masterha_manager(\.[jt]s)?$/.test(a));
  } catch {
    return true; // no /proc: assume the worst
  }
}

export class LocalLock {
  readonly path: string;
  readonly pid: number;
  #held = false;
  #isManager: (pid: number) => boolean;

  constructor(stateDir: string, deps: LocalLockDeps = {}) {
    this.path = join(stateDir, LOCK_FILE);
    this.pid = deps.pid ?? process.pid;
    this.#isManager = deps.isManager ?? isLiveManager;
  }

  get held(): boolean {
    return this.#held;
  }

  /** Takes the lock or throws LockHeldError naming the PID that holds it. */
  acquire(): void {
    mkdirSync(join(this.path, '..'), { recursive: true, mode: 0o750 });
    for (let attempt = 0; attempt < 3; attempt++) {
      const tmp = `${this.path}.${this.pid}.tmp`;
      writeFileSync(tmp, `${this.pid}\n`, { mode: 0o640 });
      try {
        linkSync(tmp, this.path);
        this.#held = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      } finally {
        try {
          unlinkSync(tmp);
        } catch {
          // gone
        }
      }
      const holder = this.holder();
      if (holder === this.pid) {
        this.#held = true;
        return;
      }
      if (holder !== undefined && this.#isManager(holder)) throw new LockHeldError(this.path, holder);
      // Stale (dead PID, reused PID, or unreadable): remove and try again.
      try {
        unlinkSync(this.path);
      } catch {
        // someone else removed it
      }
    }
    const holder = this.holder();
    throw new LockHeldError(this.path, holder ?? -1);
  }

  /** The PID in the lock file, if any. */
  holder(): number | undefined {
    try {
      const n = Number(readFileSync(this.path, 'utf8').trim());
      return Number.isInteger(n) && n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  }

  release(): void {
    if (!this.#held) return;
    this.#held = false;
    if (this.holder() !== this.pid) return;
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
