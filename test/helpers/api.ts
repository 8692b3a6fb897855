/**
 * For the API and console tests: a manager over a sandbox with its HTTP
 * endpoint on a given loopback address and a token file, HTTP calls with a
 * deadline, and a check of every answer against the OpenAPI document's
 * response schema.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { SandboxInfo } from '../../src/sandbox/index.js';
import { writeManagerConfig } from './cluster.js';
import { ManagerProcess } from './manager.js';
import type { Answer } from './http.js';

export const API_TOKEN = '7d0c2f6b9a1e4d3c8b5a6f7e1d2c3b4a';

export interface ApiManager {
  mgr: ManagerProcess;
  url: string;
  conf: string;
  tokenFile: string;
}

/**
 * Starts `mhats manager` over the sandbox, its HTTP endpoint on `listen` (port 0) and, unless
 * `token` is false, the token file. `slowStart` adds a command hook in the start phase that sleeps
 * that many seconds (a failover that lasts long enough to be caught running).
 */
export async function startApiManager(sb: SandboxInfo, opts: { listen: string; token?: boolean; slowStart?: number; cluster?: Record<string, unknown> }): Promise<ApiManager> {
  const tokenFile = join(sb.dir, 'api.token');
  writeFileSync(tokenFile, `${API_TOKEN}\n`, { mode: 0o600 });
  const base = writeManagerConfig(sb, { cluster: opts.cluster });
  const doc = parse(readFileSync(base, 'utf8')) as Record<string, unknown> & { clusters: Record<string, Record<string, unknown>> };
  doc.http = { listen: opts.listen, ...(opts.token === false ? {} : { token_file: tokenFile }) };
  if (opts.slowStart) {
    doc.clusters[sb.clusterName]!.hooks = { environment: 'test', sets: { test: [{ name: 'slow-start', type: 'command', phases: ['start'], timeout: opts.slowStart + 10, command: ['/bin/sleep', String(opts.slowStart)] }] } };
  }
  writeFileSync(base, stringify(doc), { mode: 0o600 });
  const mgr = new ManagerProcess(base, [], sb.dir);
  const line = await mgr.waitFor(/^HTTP endpoint on /, 60_000);
  await mgr.waitFor(new RegExp(`^watching ${sb.clusterName}: master`), 60_000);
  return { mgr, url: String(line.url), conf: base, tokenFile };
}

export { call, type Answer } from './http.js';

type OpenApi = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>> };

/** Checks answers against the response schemas of the OpenAPI document. */
export class SchemaChecker {
  readonly #doc: OpenApi;
  readonly #ajv = new Ajv2020({ strict: false, allErrors: true });
  constructor(doc: unknown) {
    this.#doc = doc as OpenApi;
  }
  check(method: string, path: string, a: Answer): void {
    if (a.json === undefined) return;
    const route = Object.keys(this.#doc.paths).find((p) => new RegExp(`^${p.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path.split('?')[0]!));
    const op = route ? this.#doc.paths[route]?.[method.toLowerCase()] : undefined;
    if (!op) return;
    const schema = op.responses[String(a.status)]?.content?.['application/json']?.schema;
    assert.ok(schema, `${method} ${route} answered ${a.status}, which its OpenAPI entry does not list: ${a.body.slice(0, 300)}`);
    assert.ok(this.#ajv.validate(schema, a.json), `${method} ${path} ${a.status} does not match its schema: ${this.#ajv.errorsText(this.#ajv.errors)}\n${a.body.slice(0, 500)}`);
  }
}

/** Polls fn until it returns a value (not undefined); errors count as not yet. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}
