/**
 * Shared pieces of the failover integration tests: polling with a deadline,
 * table checksums, and a manager config for a sandbox with fast detection.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { rootSql, type SandboxInfo, type SandboxServer } from '../../src/sandbox/index.js';

/** Detection settings that keep tests quick: a crashed master is declared dead in well under a second. */
export const FAST_DETECTION = { ping_interval: 0.3, ping_failures: 3, ping_timeout: 0.3, connect_timeout: 1, query_timeout: 3 };

/**
 * Polls fn every `everyMs` until it is true; errors count as "not yet". Fails after timeoutMs, naming
 * what it waited for (and the last error, if the last tries failed).
 */
export async function until(what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 30_000, everyMs = 200): Promise<void> {
  const end = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < end) {
    try {
      if (await fn()) return;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  const why = lastError instanceof Error ? lastError.message : JSON.stringify(lastError);
  throw new Error(`timed out waiting for ${what}${lastError === undefined ? '' : ` (last try: ${why})`}`);
}

export async function checksum(s: SandboxServer, table: string): Promise<string> {
  return (await rootSql(s, `CHECKSUM TABLE ${table}`)).trim().split('\t')[1] ?? '';
}

type Doc = { state_dir: string; clusters: Record<string, Record<string, unknown> & { servers: Array<Record<string, unknown>> }> };

/**
 * Writes a manager config for the sandbox: its own state_dir, fast detection,
 * then cluster-level and per-server (by name) overrides. Returns its path.
 */
export function writeManagerConfig(sb: SandboxInfo, opts: { cluster?: Record<string, unknown>; servers?: Record<string, Record<string, unknown>>; file?: string } = {}): string {
  const doc = parse(readFileSync(sb.configFile, 'utf8')) as Doc;
  doc.state_dir = join(sb.dir, 'state');
  const c = doc.clusters[sb.clusterName]!;
  Object.assign(c, FAST_DETECTION, opts.cluster);
  for (const s of c.servers) Object.assign(s, opts.servers?.[String(s.name)]);
  const file = join(sb.dir, opts.file ?? 'manager.yaml');
  writeFileSync(file, stringify(doc), { mode: 0o600 });
  return file;
}
