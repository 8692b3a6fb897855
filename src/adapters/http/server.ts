/**
 * The manager's HTTP endpoint (node:http): /healthz, /readyz, /status and
 * /metrics, served here directly (GET and HEAD only), and everything else
 * (the API under /api/v1 and the console at /) handed to `handlers.other`
 * (fastify, api.ts). Loopback by default; every request and its headers have
 * a deadline; shutdown closes every connection.
 * Handlers build the bodies; nothing secret is ever in them (Secret prints ***).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../../ports/logger.js';
import type { HttpSettings } from '../../config/types.js';

export interface Probe {
  ok: boolean;
  body: unknown;
}

export interface HttpHandlers {
  /** The process is alive and its event loop turns. */
  healthz(): Probe;
  /** Every cluster inspected; this manager is the leader or a healthy follower. */
  readyz(): Probe;
  status(): unknown;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Every other path (the API and the console); without it: / lists the endpoints, the rest is 404. */
  other?: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
}

const LEGACY = new Set(['/healthz', '/readyz', '/status', '/metrics']);

export interface HttpServerHandle {
  /** The address actually bound (port 0 in the config = a free port). */
  host: string;
  port: number;
  url: string;
  close(): Promise<void>;
}

export const REQUEST_TIMEOUT_MS = 10_000;
export const HEADERS_TIMEOUT_MS = 5_000;

function send(res: ServerResponse, status: number, contentType: string, body: string, head: boolean): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), 'x-content-type-options': 'nosniff' });
  res.end(head ? undefined : body);
}

function json(res: ServerResponse, status: number, body: unknown, head: boolean): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(body, null, 2)}\n`, head);
}

export function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export async function startHttpServer(settings: HttpSettings, handlers: HttpHandlers, log: Logger): Promise<HttpServerHandle> {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    const head = method === 'HEAD';
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (handlers.other && !LEGACY.has(path)) {
      handlers.other(req, res);
      return;
    }
    if (method !== 'GET' && !head) {
      res.setHeader('allow', 'GET, HEAD');
      json(res, 405, { error: 'method not allowed: this endpoint is read-only' }, false);
      return;
    }
    switch (path) {
      case '/healthz': {
        const p = handlers.healthz();
        json(res, p.ok ? 200 : 503, p.body, head);
        return;
      }
      case '/readyz': {
        const p = handlers.readyz();
        json(res, p.ok ? 200 : 503, p.body, head);
        return;
      }
      case '/status':
        json(res, 200, handlers.status(), head);
        return;
      case '/metrics': {
        const m = await handlers.metrics();
        send(res, 200, m.contentType, m.body, head);
        return;
      }
      case '/':
        json(res, 200, { endpoints: ['/healthz', '/readyz', '/status', '/metrics'] }, head);
        return;
      default:
        json(res, 404, { error: `not found: ${path}` }, head);
    }
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err: (err as Error).message, url: req.url }, `HTTP ${req.url ?? ''} failed: ${(err as Error).message}`);
      if (!res.headersSent) json(res, 500, { error: 'internal error (see the manager log)' }, false);
      else res.destroy();
    });
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 50;
  server.timeout = REQUEST_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ host: settings.host, port: settings.port, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err: err.message }, `HTTP server error: ${err.message}`));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : settings.port;
  const host = typeof addr === 'object' && addr !== null ? addr.address : settings.host;
  let closed: Promise<void> | undefined;
  return {
    host,
    port,
    url: `http://${hostForUrl(host)}:${port}`,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
