/**
 * MHA's state files in manager_workdir: <app>.failover.complete and
 * <app>.failover.error. mhats honours them at start as MHA's guard window
 * (src/domain/guard.ts), and `mhats ack` removes them.
 */
import { statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { MhaStateFiles } from '../../domain/guard.js';

export function mhaStateFilePaths(workdir: string, app: string): { complete: string; error: string } {
  return { complete: join(workdir, `${app}.failover.complete`), error: join(workdir, `${app}.failover.error`) };
}

function stat(path: string): { path: string; mtime: number } | undefined {
  try {
    const st = statSync(path);
    return st.isFile() ? { path, mtime: st.mtimeMs } : undefined;
  } catch {
    return undefined;
  }
}

export function readMhaStateFiles(workdir: string, app: string): MhaStateFiles {
  const p = mhaStateFilePaths(workdir, app);
  return { complete: stat(p.complete), error: stat(p.error) };
}

/** Removes both files; returns the ones that were there. Throws (with the path) when one cannot be removed. */
export function removeMhaStateFiles(workdir: string, app: string): string[] {
  const removed: string[] = [];
  for (const path of Object.values(mhaStateFilePaths(workdir, app))) {
    try {
      unlinkSync(path);
      removed.push(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw new Error(`cannot remove ${path}: ${code ?? (err as Error).message}`, { cause: err });
    }
  }
  return removed;
}
