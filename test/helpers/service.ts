/**
 * Helpers for the service tests: a NOTIFY_SOCKET the test reads (python3
 * binds the AF_UNIX datagram socket Node cannot), HTTP GET with a deadline,
 * and a Prometheus text-format checker.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';

const LISTENER = `
import socket, sys, json, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps({"listening": sys.argv[1]}), flush=True)
while True:
    data = s.recv(65536)
    print(json.dumps({"t": time.time(), "msg": data.decode("utf-8", "replace")}), flush=True)
`;

export interface Notification {
  /** ms since epoch, when the listener received it */
  at: number;
  /** the datagram: KEY=VALUE lines */
  msg: string;
}

export class NotifyListener {
  readonly path: string;
  readonly child: ChildProcess;
  readonly messages: Notification[] = [];
  #buf = '';
  #exited = false;

  constructor(path: string) {
    this.path = path;
    this.child = spawn('python3', ['-c', LISTENER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => {
      this.#buf += d;
      let i: number;
      while ((i = this.#buf.indexOf('\n')) >= 0) {
        const line = this.#buf.slice(0, i);
        this.#buf = this.#buf.slice(i + 1);
        const o = JSON.parse(line) as { t?: number; msg?: string };
        if (o.msg !== undefined) this.messages.push({ at: (o.t ?? 0) * 1000, msg: o.msg });
      }
    });
    this.child.on('exit', () => (this.#exited = true));
    process.once('exit', () => {
      if (!this.#exited) this.child.kill('SIGKILL');
    });
  }

  /** Resolves once the socket exists. */
  async listening(timeoutMs = 10_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!existsSync(this.path)) {
      if (this.#exited || Date.now() > end) throw new Error(`notify listener did not bind ${this.path}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Messages carrying KEY=VALUE (or KEY=anything when value is omitted). */
  with(key: string, value?: string): Notification[] {
    return this.messages.filter((m) => m.msg.split('\n').some((l) => (value === undefined ? l.startsWith(`${key}=`) : l === `${key}=${value}`)));
  }

  async waitFor(key: string, value?: string, timeoutMs = 30_000, count = 1): Promise<Notification[]> {
    const end = Date.now() + timeoutMs;
    while (this.with(key, value).length < count) {
      if (Date.now() > end) throw new Error(`no ${count}× ${key}=${value ?? '*'} within ${timeoutMs} ms; got: ${JSON.stringify(this.messages.map((m) => m.msg))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.with(key, value);
  }

  async stop(): Promise<void> {
    if (this.#exited) return;
    this.child.kill('SIGTERM');
    const end = Date.now() + 5000;
    while (!this.#exited && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    if (!this.#exited) this.child.kill('SIGKILL');
  }
}

export function httpGet(url: string, timeoutMs = 5000): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export async function getJson<T = unknown>(url: string): Promise<T> {
  const r = await httpGet(url);
  assert.match(r.type, /application\/json/);
  return JSON.parse(r.body) as T;
}

/**
 * Checks Prometheus text exposition (0.0.4) line by line: HELP/TYPE comments, then samples
 * `name{label="value",...} number`, each belonging to a TYPEd family. Returns sample → value.
 */
export function parsePrometheusText(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const typed = new Set<string>();
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      if (m[1] === 'TYPE') {
        assert.match(m[3] ?? '', /^(counter|gauge|histogram|summary|untyped)$/, line);
        typed.add(m[2] ?? '');
      }
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9.]+(?:e[+-]?\d+)?|[Nn]a[Nn]|[+-]Inf)( -?\d+)?$/.exec(line);
    assert.ok(m, `not a Prometheus sample line: ${JSON.stringify(line)}`);
    const name = m[1] ?? '';
    const base = name.replace(/_(bucket|sum|count)$/, '');
    assert.ok(typed.has(name) || typed.has(base), `sample of an undeclared family: ${line}`);
    // Prometheus reads values with Go's ParseFloat: NaN in any case (prom-client writes "Nan").
    samples.set(`${name}${m[2] ?? ''}`, /^nan$/i.test(m[3] ?? '') ? Number.NaN : Number(m[3]));
  }
  return samples;
}

/** The sum of every sample of a family whose labels include all of `labels`. */
export function sumOf(samples: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const [k, v] of samples) {
    const i = k.indexOf('{');
    const n = i < 0 ? k : k.slice(0, i);
    if (n !== name) continue;
    if (Object.entries(labels).every(([l, val]) => k.includes(`${l}="${val}"`))) sum += v;
  }
  return sum;
}
