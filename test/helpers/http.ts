/** HTTP requests for the tests of the API (unit and integration). */
import { request } from 'node:http';

export interface Answer<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: T;
}

/**
 * One HTTP request (no keep-alive), with a deadline (the request is destroyed at timeoutMs, 20 s by default).
 * `body` is sent as JSON; `raw`, as it is (with the JSON content type).
 */
export function call<T = unknown>(base: string, method: string, path: string, opts: { body?: unknown; raw?: string; token?: string; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<Answer<T>> {
  const text = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      {
        method,
        agent: false,
        timeout: opts.timeoutMs ?? 20_000,
        headers: { ...(text !== undefined ? { 'content-type': 'application/json' } : {}), ...(opts.token !== undefined ? { authorization: `Bearer ${opts.token}` } : {}), ...opts.headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(body);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: json as T });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in time`)));
    req.on('error', reject);
    req.end(text);
  });
}
