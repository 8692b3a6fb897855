/**
 * <state_dir>/manager.json: the running manager's PID and HTTP address, so
 * that masterha_check_status and masterha_stop (and people) find it whatever
 * --http said. Written after start, removed on a clean stop.
 */
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const MANAGER_INFO = 'manager.json';

export interface ManagerInfo {
  pid: number;
  /** http://HOST:PORT, or undefined when the endpoint is off. */
  url?: string | undefined;
  startedAt: number;
}

export function writeManagerInfo(stateDir: string, url: string | undefined): void {
  const f = join(stateDir, MANAGER_INFO);
  try {
    writeFileSync(`${f}.${process.pid}.tmp`, `${JSON.stringify({ pid: process.pid, url, startedAt: Date.now() } satisfies ManagerInfo)}\n`, { mode: 0o644 });
    renameSync(`${f}.${process.pid}.tmp`, f);
  } catch {
    // informational only: check_status falls back to the lock file and the configured endpoint
  }
}

export function readManagerInfo(stateDir: string): ManagerInfo | undefined {
  try {
    const v = JSON.parse(readFileSync(join(stateDir, MANAGER_INFO), 'utf8')) as Partial<ManagerInfo>;
    return typeof v.pid === 'number' ? { pid: v.pid, url: typeof v.url === 'string' ? v.url : undefined, startedAt: typeof v.startedAt === 'number' ? v.startedAt : 0 } : undefined;
  } catch {
    return undefined;
  }
}

export function removeManagerInfo(stateDir: string): void {
  const info = readManagerInfo(stateDir);
  if (info && info.pid !== process.pid) return;
  try {
    unlinkSync(join(stateDir, MANAGER_INFO));
  } catch {
    // gone
  }
}
