/**
 * The HTTP API v1 (/api/v1) and the console (/), on fastify.
 *
 * - Routing and validation by fastify; every request and response schema is
 *   a JSON Schema (api-schemas.ts), and the OpenAPI 3.1 document at
 *   /api/v1/openapi.json is generated from the same schemas by
 *   @fastify/swagger.
 * - Reads are open (keep the listener on loopback, or behind a proxy).
 *   Writes need `Authorization: Bearer TOKEN`, compared in constant time
 *   with the token from http.token_file. Without a token file every write
 *   answers 403 saying how to enable writes.
 * - 422 for invalid input, with every invalid field; 401 without or with a
 *   wrong token (never echoed, never logged); 404 for an unknown cluster or
 *   job; 409 when a failover or another action runs, or the guard refuses.
 * - Every authenticated write is journaled (by the backend) with the caller
 *   and the outcome.
 * - /api/v1/events is a server-sent event stream of the whole overview,
 *   sent when it changes (checked every 500 ms), for the console.
 *
 * The handlers' work is the backend's (src/app/api.ts): this module only
 * speaks HTTP.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv, type ErrorObject } from 'ajv';
import { Type } from 'typebox';
import type { Logger } from '../../ports/logger.js';
import type { Secret } from '../../domain/secret.js';
import {
  AckBody,
  AckResult,
  ClusterList,
  ClusterParams,
  ErrorBody,
  FailoverBody,
  Job,
  JobAccepted,
  JobList,
  JobParams,
  Journal,
  JournalQuery,
  MaintenanceList,
  MaintenanceQuery,
  MaintenanceStartBody,
  MaintenanceStarted,
  MaintenanceStopBody,
  MaintenanceStopped,
  RejoinBody,
  RejoinResult,
  ManagerHealth,
  Overview,
  Plan,
  SwitchoverBody,
  SwitchoverDryRun,
  Topology,
  type ClusterSummary,
} from './api-schemas.js';

export const API_PREFIX = '/api/v1';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A write route's action, for the journal. */
    action?: string;
  }
}

/** Who made a write: the peer address, and the operator name it gave (X-Mhats-Operator; self-declared). */
export interface ApiCaller {
  address: string;
  operator?: string | undefined;
  /** `api:ADDRESS` or `api:ADDRESS (operator NAME)`: what the journal records. */
  by: string;
}

export type Answer<T> = { status: 200 | 201 | 202; body: T } | { status: 404 | 409 | 422 | 503; body: ErrorBody };

export interface AuditEntry {
  cluster: string;
  action: string;
  caller: ApiCaller;
  status: number;
  outcome: string;
  detail?: string | undefined;
  job?: string | undefined;
}

export interface ApiBackend {
  clusters(): ClusterSummary[];
  topology(cluster: string): Topology | undefined;
  plan(cluster: string): Plan | undefined;
  journal(cluster: string, limit: number): Journal | undefined;
  manager(): ManagerHealth;
  jobs(): Job[];
  job(id: string): Job | undefined;
  overview(): Overview;
  /** The bearer token in force (re-read on reload); undefined: writes are off. */
  token(): Secret | undefined;
  hasCluster(cluster: string): boolean;
  switchover(cluster: string, body: SwitchoverBody, caller: ApiCaller): Promise<Answer<unknown>>;
  failover(cluster: string, body: FailoverBody, caller: ApiCaller): Promise<Answer<unknown>>;
  ack(cluster: string, body: AckBody, caller: ApiCaller): Promise<Answer<AckResult>>;
  /** Maintenance (downtime): the same code as `mhats maintenance list|start|stop`. */
  maintenanceList(cluster: string | undefined, endedWithinHours: number): Promise<Answer<MaintenanceList>>;
  maintenanceStart(body: MaintenanceStartBody, caller: ApiCaller): Promise<Answer<unknown>>;
  maintenanceStop(body: MaintenanceStopBody, caller: ApiCaller): Promise<Answer<unknown>>;
  /** Rejoin of an old master: the same code as `mhats rejoin`. */
  rejoin(cluster: string, body: RejoinBody, caller: ApiCaller): Promise<Answer<unknown>>;
  /** Journals an authenticated write (the cluster's journal). */
  audit(e: AuditEntry): void;
  /** The directory of the console's built assets (index.html, app.js, app.css); undefined: not built. */
  consoleDir(): string | undefined;
}

export interface ApiOptions {
  log: Logger;
  version: string;
  /** How often the event stream checks for a change (ms; default 500). */
  eventsEveryMs?: number | undefined;
  /** Most event-stream clients at once (default 32). */
  maxEventClients?: number | undefined;
}

export interface Api {
  /** Serves one request (the node:http server hands over everything that is not a legacy endpoint). */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Every route (method and URL), for the tests. */
  readonly routes: ReadonlyArray<{ method: string; url: string; hidden: boolean }>;
  readonly fastify: FastifyInstance;
  /** Ends the event streams and their timer. */
  close(): Promise<void>;
}

/** How long an authenticated write's connection may stay silent while it is prepared (its statements have their own deadlines). */
export const WRITE_SOCKET_TIMEOUT_MS = 120_000;

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time comparison of a presented bearer token with the configured one (hashed first: equal lengths, no early exit). */
export function tokenMatches(presented: string, expected: Secret): boolean {
  return timingSafeEqual(sha256(presented), sha256(expected.reveal()));
}

const ENABLE_HINT = 'put a random token in a file only mhats can read: (umask 077; openssl rand -hex 32 > /etc/mhats/api.token); set http.token_file: /etc/mhats/api.token in the configuration (or start mhats manager with --http-token-file); then reload: systemctl reload mhats (SIGHUP)';

/** A manual failover through the API is confirmed in its body, as the CLI's prompt or --yes confirms it. */
const CONFIRM_HINT = 'must be true: send "confirm": true to confirm the manual failover (the CLI asks, or takes --yes)';

function fieldErrors(errors: ErrorObject[], part: string): ErrorBody['fields'] {
  const where = (['body', 'params', 'querystring', 'headers'] as const).find((p) => p === part) ?? 'body';
  return errors.map((e) => {
    let field = e.instancePath.replace(/^\//, '');
    let message = e.message ?? 'is invalid';
    const p = e.params as Record<string, unknown>;
    if (e.keyword === 'additionalProperties' && typeof p.additionalProperty === 'string') {
      field = field ? `${field}/${p.additionalProperty}` : p.additionalProperty;
      message = 'unknown field';
    } else if (e.keyword === 'required' && typeof p.missingProperty === 'string') {
      field = field ? `${field}/${p.missingProperty}` : p.missingProperty;
      message = p.missingProperty === 'confirm' ? CONFIRM_HINT : 'is required';
    } else if (field === 'confirm') {
      message = CONFIRM_HINT;
    } else if (e.keyword === 'enum' && Array.isArray(p.allowedValues)) {
      message = `must be one of ${p.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    }
    return { in: where, field, message };
  }).filter((f, k, all) => all.findIndex((g) => g.field === f.field && g.message === f.message) === k);
}

function callerOf(req: FastifyRequest): ApiCaller {
  const address = req.socket.remoteAddress ?? 'unknown';
  const raw = req.headers['x-mhats-operator'];
  const op = typeof raw === 'string' ? raw.trim().slice(0, 64) : '';
  const operator = /^[\w.@+-]+$/.test(op) ? op : undefined;
  return { address, operator, by: `api:${address}${operator ? ` (operator ${operator})` : ''}` };
}

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
const CONSOLE_FILES: Record<string, string> = { 'app.js': 'text/javascript; charset=utf-8', 'app.css': 'text/css; charset=utf-8', 'app.js.map': 'application/json; charset=utf-8', 'app.css.map': 'application/json; charset=utf-8', 'favicon.svg': 'image/svg+xml' };

export async function createApi(backend: ApiBackend, opts: ApiOptions): Promise<Api> {
  const log = opts.log;
  const routes: Array<{ method: string; url: string; hidden: boolean }> = [];
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024, return503OnClosing: true }).withTypeProvider<TypeBoxTypeProvider>();

  // JSON bodies; an empty one is {} (POST .../ack needs none). "__proto__" keys are dropped.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, {});
    try {
      done(null, JSON.parse(text, (k, v: unknown) => (k === '__proto__' ? undefined : v)));
    } catch (e) {
      done(Object.assign(new Error(`the body is not valid JSON: ${(e as Error).message}`), { statusCode: 400 }), undefined);
    }
  });

  // Bodies are validated strictly (no coercion: "true" is not a boolean); query strings and path
  // parameters arrive as text and are coerced.
  const strict = new Ajv({ allErrors: true, coerceTypes: false, useDefaults: true, removeAdditional: false, strict: false });
  const coercing = new Ajv({ allErrors: true, coerceTypes: true, useDefaults: true, removeAdditional: false, strict: false });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema));
  // Responses are plain JSON.stringify (a Secret prints ***); their schemas document them, and the
  // tests check every answer against them.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    const hidden = Boolean(r.schema?.hide);
    for (const m of methods) routes.push({ method: String(m), url: r.url, hidden });
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'mhats manager API',
        version: opts.version,
        description:
          'Read the topology, the failover plan and the journal of every cluster a mhats manager watches; switch over, fail over a dead master, and acknowledge failovers. Reads need no authentication (keep the listener on loopback or behind a proxy). Writes need a bearer token (http.token_file); without one they answer 403.',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      servers: [{ url: '/' }],
      tags: [
        { name: 'read', description: 'open to every client that reaches the listener' },
        { name: 'write', description: 'need Authorization: Bearer TOKEN' },
      ],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'the token in http.token_file' } } },
    },
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.validation) {
      const fields = fieldErrors(err.validation as ErrorObject[], err.validationContext ?? 'body');
      return reply.code(422).send({ error: `invalid request: ${fields?.map((f) => `${f.field || f.in} ${f.message}`).join('; ')}`, fields });
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.code(status).send({ error: err.message });
    log.error({ err: err.message, url: req.url }, `HTTP ${req.method} ${req.url} failed: ${err.message}`);
    return reply.code(500).send({ error: 'internal error (see the manager log)' });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `not found: ${req.method} ${req.url.split('?')[0] ?? ''}` }));

  app.addHook('onSend', (req, reply, payload, done) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    done(null, payload);
  });

  // ---------------------------------------------------------------- auth for writes

  const audited = new WeakMap<FastifyRequest, { cluster?: string | undefined; action: string; caller: ApiCaller; outcome?: string; detail?: string | undefined; job?: string | undefined }>();
  const requireToken = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const token = backend.token();
    const caller = callerOf(req);
    if (token === undefined) {
      log.warn({ caller: caller.by, url: req.url }, `write refused (${req.method} ${req.url} from ${caller.by}): writes are off, no http.token_file`);
      return reply.code(403).send({ error: 'writes are disabled on this manager: no http.token_file is configured (reads, /metrics and the console work read-only)', hint: ENABLE_HINT });
    }
    const h = req.headers.authorization;
    const m = typeof h === 'string' ? /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i.exec(h) : null;
    if (!m?.[1]) {
      log.warn({ caller: caller.by, url: req.url }, `write refused (${req.method} ${req.url} from ${caller.by}): no bearer token`);
      reply.header('www-authenticate', 'Bearer realm="mhats"');
      return reply.code(401).send({ error: 'authentication required: send Authorization: Bearer TOKEN (the token in http.token_file)' });
    }
    if (!tokenMatches(m[1], token)) {
      log.warn({ caller: caller.by, url: req.url }, `write refused (${req.method} ${req.url} from ${caller.by}): wrong bearer token`);
      reply.header('www-authenticate', 'Bearer realm="mhats", error="invalid_token"');
      return reply.code(401).send({ error: 'wrong token' });
    }
    const cluster = (req.params as { cluster?: string } | undefined)?.cluster;
    audited.set(req, { cluster, action: req.routeOptions.config.action ?? req.url, caller });
    // An absent body is an empty one ({}): POST .../ack needs none.
    req.body ??= {};
    // A write may inspect every server before it answers (a switchover's pre-checks, each under its
    // own deadlines): more than the 10 s a connection may otherwise sit idle.
    req.raw.setTimeout(WRITE_SOCKET_TIMEOUT_MS);
  };
  app.addHook('onResponse', (req, reply, done) => {
    const a = audited.get(req);
    if (a?.cluster !== undefined && backend.hasCluster(a.cluster)) {
      try {
        backend.audit({ cluster: a.cluster, action: a.action, caller: a.caller, status: reply.statusCode, outcome: a.outcome ?? (reply.statusCode < 300 ? 'ok' : reply.statusCode === 422 ? 'invalid request' : 'refused'), detail: a.detail, job: a.job });
      } catch (err) {
        log.warn({ err: (err as Error).message }, `could not journal an API write: ${(err as Error).message}`);
      }
    }
    done();
  });
  const answer = <T>(req: FastifyRequest, reply: FastifyReply, a: Answer<T>): FastifyReply => {
    const rec = audited.get(req);
    if (rec) {
      const body = a.body as { error?: string; job?: { id?: string; state?: string }; dry_run?: boolean; entry?: { id?: string } };
      rec.outcome = a.status === 202 ? 'accepted' : a.status === 200 || a.status === 201 ? (body.dry_run ? 'dry run' : 'done') : a.status === 409 ? 'refused' : a.status === 422 ? 'invalid request' : a.status === 503 ? 'unavailable' : 'not found';
      rec.detail = body.error ?? (body.job?.id ? `job ${body.job.id}` : body.entry?.id ? `maintenance ${body.entry.id}` : undefined);
      rec.job = body.job?.id;
    }
    return reply.code(a.status).send(a.body);
  };

  const errors = { 404: ErrorBody, 409: ErrorBody, 422: ErrorBody };
  const writeErrors = { 401: ErrorBody, 403: ErrorBody, ...errors, 400: ErrorBody, 413: ErrorBody, 415: ErrorBody };
  const security = [{ bearer: [] as string[] }];

  // ---------------------------------------------------------------- reads

  await app.register(
    (api, _o, done) => {
      const r = api.withTypeProvider<TypeBoxTypeProvider>();
      r.get('/openapi.json', { schema: { tags: ['read'], summary: 'This document (OpenAPI 3.1)', response: { 200: Type.Object({}, { additionalProperties: true }) } } }, () => app.swagger());
      r.get('/manager', { schema: { tags: ['read'], summary: 'The manager itself: leader or follower, ready, writes on or off', response: { 200: ManagerHealth } } }, () => backend.manager());
      r.get('/clusters', { schema: { tags: ['read'], summary: 'Every cluster: master, state, whether automatic failover is allowed', response: { 200: ClusterList } } }, () => ({ clusters: backend.clusters() }));
      r.get('/overview', { schema: { tags: ['read'], summary: 'Everything the console shows, in one document (the manager, every cluster with its topology, plan and recent history, and the jobs)', response: { 200: Overview } } }, () => backend.overview());
      r.get('/clusters/:cluster/topology', { schema: { tags: ['read'], summary: "One cluster's servers: role, replication threads, lag, read_only, errors", params: ClusterParams, response: { 200: Topology, 404: ErrorBody } } }, (req, reply) => {
        const t = backend.topology(req.params.cluster);
        if (t) return t;
        void reply.code(404).send({ error: `unknown cluster ${req.params.cluster}` });
      });
      r.get('/clusters/:cluster/plan', { schema: { tags: ['read'], summary: 'The failover plan: which replica would be promoted if the master died now, and why; every rejected server with its reason', params: ClusterParams, response: { 200: Plan, 404: ErrorBody } } }, (req, reply) => {
        const p = backend.plan(req.params.cluster);
        if (p) return p;
        void reply.code(404).send({ error: `unknown cluster ${req.params.cluster}` });
      });
      r.get('/clusters/:cluster/journal', { schema: { tags: ['read'], summary: 'The journal, newest first: failovers and switchovers with their phases and timings, acknowledgements, API writes', params: ClusterParams, querystring: JournalQuery, response: { 200: Journal, 404: ErrorBody, 422: ErrorBody } } }, (req, reply) => {
        const j = backend.journal(req.params.cluster, req.query.limit ?? 100);
        if (j) return j;
        void reply.code(404).send({ error: `unknown cluster ${req.params.cluster}` });
      });
      r.get('/jobs', { schema: { tags: ['read'], summary: 'Recent jobs (switchovers and failovers asked for through the API), newest first', response: { 200: JobList } } }, () => ({ jobs: backend.jobs() }));
      r.get('/jobs/:id', { schema: { tags: ['read'], summary: 'One job: its state, its steps as they end, its outcome', params: JobParams, response: { 200: Job, 404: ErrorBody } } }, (req, reply) => {
        const j = backend.job(req.params.id);
        if (j) return j;
        void reply.code(404).send({ error: `unknown job ${req.params.id} (jobs are kept in memory: the last 100, until the manager restarts)` });
      });
      r.get(
        '/events',
        {
          exposeHeadRoute: false,
          schema: {
            tags: ['read'],
            summary: 'Server-sent events: an "overview" event (the /overview document) at once and whenever it changes (checked every 500 ms), a comment every 5 s',
            response: { 200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: Type.String() } } }, 503: ErrorBody },
          },
        },
        (req, reply) => {
          events(req, reply);
        },
      );

      // ---------------------------------------------------------------- writes
      const write = { tags: ['write'], security };
      r.post(
        '/clusters/:cluster/switchover',
        {
          config: { action: 'switchover' },
          onRequest: requireToken,
          schema: {
            ...write,
            summary: 'Planned switch of the live master to a replica. dry_run: the pre-checks and the plan (200). Otherwise the pre-checks run at once (409 with each check if one fails), then the switch runs as a job (202; follow it at /jobs/{id})',
            params: ClusterParams,
            body: SwitchoverBody,
            response: { 200: SwitchoverDryRun, 202: JobAccepted, ...writeErrors },
          },
        },
        async (req, reply) => answer(req, reply, await backend.switchover(req.params.cluster, req.body, callerOf(req))),
      );
      r.post(
        '/clusters/:cluster/failover',
        {
          config: { action: 'failover' },
          onRequest: requireToken,
          schema: {
            ...write,
            summary: 'Manual failover of a dead master (same phases, rules, hooks and journal as the automatic one), confirmed in the body ("confirm": true, the CLI\'s --yes; 422 without it). The master must not answer (409 otherwise: use switchover). Runs as a job (202)',
            params: ClusterParams,
            body: FailoverBody,
            response: { 202: JobAccepted, ...writeErrors },
          },
        },
        async (req, reply) => answer(req, reply, await backend.failover(req.params.cluster, req.body, callerOf(req))),
      );
      r.post(
        '/clusters/:cluster/ack',
        {
          config: { action: 'ack' },
          onRequest: requireToken,
          schema: {
            ...write,
            summary: "Acknowledge the cluster's open failovers (or one): re-allows automatic failover after a recent, failed or unfinished one (mhats ack)",
            params: ClusterParams,
            body: AckBody,
            response: { 200: AckResult, ...writeErrors },
          },
        },
        async (req, reply) => answer(req, reply, await backend.ack(req.params.cluster, req.body, callerOf(req))),
      );
      r.post(
        '/clusters/:cluster/rejoin',
        {
          config: { action: 'rejoin' },
          onRequest: requireToken,
          schema: {
            ...write,
            summary: 'Bring a server (an old master) back as a replica of the current master if it holds nothing the cluster lacks (mhats rejoin): 200 when it rejoined (or would, with dry_run), 409 with the report when refused, e.g. diverged (the transactions listed and extracted for review)',
            params: ClusterParams,
            body: RejoinBody,
            response: { 200: RejoinResult, ...writeErrors },
          },
        },
        async (req, reply) => answer(req, reply, await backend.rejoin(req.params.cluster, req.body, callerOf(req))),
      );
      r.get(
        '/maintenance',
        { schema: { tags: ['read'], summary: 'Maintenance entries in force, and those ended recently (mhats maintenance list)', querystring: MaintenanceQuery, response: { 200: MaintenanceList, 404: ErrorBody, 422: ErrorBody, 503: ErrorBody } } },
        async (req, reply) => {
          const a = await backend.maintenanceList(req.query.cluster, req.query.ended_within_hours ?? 24);
          return reply.code(a.status === 404 || a.status === 422 || a.status === 503 ? a.status : 200).send(a.body);
        },
      );
      r.post(
        '/maintenance',
        {
          config: { action: 'maintenance start' },
          onRequest: requireToken,
          schema: {
            ...write,
            summary: 'Start a maintenance (mhats maintenance start): a cluster is watched but never failed over automatically; a server is never promoted and its absence blocks nothing; global: no automatic failover anywhere. reason and for are required; it ends by itself',
            body: MaintenanceStartBody,
            response: { 201: MaintenanceStarted, ...writeErrors, 503: ErrorBody },
          },
        },
        async (req, reply) => {
          const rec = audited.get(req);
          if (rec) rec.cluster = req.body.cluster;
          return answer(req, reply, await backend.maintenanceStart(req.body, callerOf(req)));
        },
      );
      r.post(
        '/maintenance/stop',
        {
          config: { action: 'maintenance stop' },
          onRequest: requireToken,
          schema: {
            ...write,
            summary: 'End maintenance entries (mhats maintenance stop): one by id, or those of a cluster, a server or the global one',
            body: MaintenanceStopBody,
            response: { 200: MaintenanceStopped, ...writeErrors, 503: ErrorBody },
          },
        },
        async (req, reply) => {
          const rec = audited.get(req);
          if (rec) rec.cluster = req.body.cluster;
          return answer(req, reply, await backend.maintenanceStop(req.body, callerOf(req)));
        },
      );
      done();
    },
    { prefix: API_PREFIX },
  );

  // ---------------------------------------------------------------- the console

  const consoleFile = async (name: string): Promise<Buffer | undefined> => {
    const dir = backend.consoleDir();
    if (dir === undefined) return undefined;
    return readFile(join(dir, name)).catch(() => undefined);
  };
  app.get('/', { schema: { hide: true } }, async (_req, reply) => {
    const html = await consoleFile('index.html');
    reply.header('content-security-policy', CSP);
    if (!html) return reply.code(503).type('text/plain; charset=utf-8').send('The console is not built: run npm run build (the API is at /api/v1, the status at /status).\n');
    return reply.type('text/html; charset=utf-8').send(html);
  });
  app.get<{ Params: { file: string } }>('/console/:file', { schema: { hide: true } }, async (req, reply) => {
    const type = CONSOLE_FILES[req.params.file];
    const body = type ? await consoleFile(req.params.file) : undefined;
    if (!type || !body) return reply.code(404).send({ error: `not found: ${req.url}` });
    reply.header('cache-control', 'no-cache');
    return reply.type(type).send(body);
  });

  // ---------------------------------------------------------------- server-sent events

  const clients = new Set<ServerResponse>();
  const maxClients = opts.maxEventClients ?? 32;
  let last = '';
  let lastBody = '';
  let timer: NodeJS.Timeout | undefined;
  let beat: NodeJS.Timeout | undefined;
  const render = (): { key: string; body: string } => {
    const o = backend.overview();
    const body = JSON.stringify(o);
    return { key: JSON.stringify({ ...o, generated_at: '' }), body };
  };
  const broadcast = (text: string): void => {
    for (const res of clients) {
      if (!res.writableEnded) res.write(text);
    }
  };
  const check = (): void => {
    try {
      const r = render();
      if (r.key === last) return;
      last = r.key;
      lastBody = r.body;
      broadcast(`event: overview\ndata: ${r.body}\n\n`);
    } catch (err) {
      log.warn({ err: (err as Error).message }, `event stream: overview failed: ${(err as Error).message}`);
    }
  };
  const events = (req: FastifyRequest, reply: FastifyReply): void => {
    if (clients.size >= maxClients) {
      void reply.code(503).send({ error: `too many event-stream clients (${maxClients}); poll ${API_PREFIX}/overview instead` });
      return;
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'x-accel-buffering': 'no', connection: 'keep-alive' });
    if (clients.size === 0) {
      const r = render();
      last = r.key;
      lastBody = r.body;
    }
    res.write(`retry: 1000\nevent: overview\ndata: ${lastBody}\n\n`);
    clients.add(res);
    timer ??= setInterval(check, opts.eventsEveryMs ?? 500);
    beat ??= setInterval(() => broadcast(': keep-alive\n\n'), 5000);
    const gone = (): void => {
      clients.delete(res);
      if (clients.size === 0) {
        clearInterval(timer);
        clearInterval(beat);
        timer = beat = undefined;
      }
    };
    req.raw.on('close', gone);
    res.on('error', gone);
  };

  await app.ready();
  return {
    handle: (req, res) => app.routing(req, res),
    routes,
    fastify: app,
    close: async () => {
      clearInterval(timer);
      clearInterval(beat);
      timer = beat = undefined;
      for (const res of clients) res.end();
      clients.clear();
      await app.close();
    },
  };
}
