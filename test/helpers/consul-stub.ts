/**
 * A stand-in for Consul's KV HTTP API (Consul is not packaged for Debian
 * here): PUT /v1/kv/KEY (body = value, answers true), GET /v1/kv/KEY?raw
 * (the value, 404 when absent), GET /v1/kv/KEY (Consul's JSON list with the
 * value base64-encoded), DELETE /v1/kv/KEY. It records every request, and
 * the X-Consul-Token it was given, so tests can check what mhats sent.
 */
import { createServer, type Server } from 'node:http';

export interface StubRequest {
  method: string;
  key: string;
  query: string;
  token: string | undefined;
  body: string;
  at: number;
}

export class ConsulStub {
  readonly kv = new Map<string, string>();
  readonly requests: StubRequest[] = [];
  /** Every write, in order, with its time (for "within a second" checks). */
  readonly history: Array<{ key: string; value: string | undefined; at: number }> = [];
  #server: Server;
  url = '';

  constructor(readonly host = '127.0.70.1') {
    this.#server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (body += d));
      req.on('end', () => {
        const u = new URL(req.url ?? '/', 'http://stub');
        const m = /^\/v1\/kv\/(.*)$/.exec(u.pathname);
        const key = m ? decodeURIComponent(m[1] ?? '') : '';
        const token = req.headers['x-consul-token'];
        this.requests.push({ method: req.method ?? '', key, query: u.search, token: typeof token === 'string' ? token : undefined, body, at: Date.now() });
        if (!m) {
          res.writeHead(404).end('not found');
          return;
        }
        if (req.method === 'PUT') {
          this.kv.set(key, body);
          this.history.push({ key, value: body, at: Date.now() });
          res.writeHead(200, { 'content-type': 'application/json' }).end('true');
        } else if (req.method === 'DELETE') {
          this.kv.delete(key);
          this.history.push({ key, value: undefined, at: Date.now() });
          res.writeHead(200, { 'content-type': 'application/json' }).end('true');
        } else if (req.method === 'GET') {
          const v = this.kv.get(key);
          if (v === undefined) res.writeHead(404).end();
          else if (u.searchParams.has('raw')) res.writeHead(200).end(v);
          else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([{ Key: key, Value: Buffer.from(v).toString('base64'), Flags: 0 }]));
        } else res.writeHead(405).end();
      });
    });
  }

  listen(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, this.host, () => {
        const a = this.#server.address();
        this.url = typeof a === 'object' && a ? `http://${this.host}:${a.port}` : '';
        resolve(this.url);
      });
    });
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
