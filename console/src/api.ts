/**
 * The console's side of the HTTP API v1: the types (from the server's own
 * schemas, type-only), the live overview (server-sent events, polling while
 * the stream is down), and the write calls with the bearer token.
 */
import type { Job, Overview } from '../../src/adapters/http/api-schemas.js';

export type { ClusterSummary, Job, JournalEntry, Overview, Plan, ServerView, Topology } from '../../src/adapters/http/api-schemas.js';
export type ClusterOverview = Overview['clusters'][number];

export const API = '/api/v1';

export type LinkState = { mode: 'live' | 'polling' | 'connecting'; lastUpdate: number | undefined; error?: string | undefined };

/**
 * Follows the overview: the event stream pushes it on every change; while the stream is down the
 * page polls every 1.5 s (and the stream reconnects by itself).
 */
export function followOverview(onOverview: (o: Overview) => void, onLink: (l: LinkState) => void): () => void {
  let last: number | undefined;
  let poller: number | undefined;
  let stopped = false;
  const got = (o: Overview, mode: LinkState['mode']): void => {
    last = Date.now();
    onOverview(o);
    onLink({ mode, lastUpdate: last });
  };
  const poll = async (): Promise<void> => {
    try {
      const r = await fetch(`${API}/overview`, { cache: 'no-store' });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      got((await r.json()) as Overview, 'polling');
    } catch (err) {
      onLink({ mode: 'polling', lastUpdate: last, error: (err as Error).message });
    }
  };
  const startPolling = (): void => {
    if (poller !== undefined || stopped) return;
    void poll();
    poller = window.setInterval(() => void poll(), 1500);
  };
  const stopPolling = (): void => {
    if (poller !== undefined) window.clearInterval(poller);
    poller = undefined;
  };
  onLink({ mode: 'connecting', lastUpdate: undefined });
  const es = typeof EventSource === 'undefined' ? undefined : new EventSource(`${API}/events`);
  if (!es) startPolling();
  else {
    es.addEventListener('overview', (ev) => {
      stopPolling();
      got(JSON.parse((ev as MessageEvent<string>).data) as Overview, 'live');
    });
    es.onerror = () => startPolling();
  }
  return () => {
    stopped = true;
    es?.close();
    stopPolling();
  };
}

export interface Credentials {
  token: string;
  operator: string;
}

export type WriteResult<T> =
  | { ok: true; status: number; body: T }
  | { ok: false; status: number; error: string; hint?: string | undefined; fields?: Array<{ field: string; message: string }> | undefined; checks?: Array<{ title: string; ok: boolean; detail: string }> | undefined; rejoin?: unknown };

export async function write<T>(path: string, body: unknown, cred: Credentials): Promise<WriteResult<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (cred.token.trim() !== '') headers.authorization = `Bearer ${cred.token.trim()}`;
  if (cred.operator.trim() !== '') headers['x-mhats-operator'] = cred.operator.trim();
  let r: Response;
  try {
    r = await fetch(`${API}${path}`, { method: 'POST', headers, body: JSON.stringify(body), cache: 'no-store' });
  } catch (err) {
    return { ok: false, status: 0, error: `the manager did not answer: ${(err as Error).message}` };
  }
  const json = (await r.json().catch(() => ({}))) as Record<string, unknown>;
  if (r.ok) return { ok: true, status: r.status, body: json as T };
  return {
    ok: false,
    status: r.status,
    error: typeof json.error === 'string' ? json.error : `HTTP ${r.status}`,
    hint: typeof json.hint === 'string' ? json.hint : undefined,
    fields: Array.isArray(json.fields) ? (json.fields as Array<{ field: string; message: string }>) : undefined,
    checks: Array.isArray(json.checks) ? (json.checks as Array<{ title: string; ok: boolean; detail: string }>) : undefined,
    rejoin: json.rejoin,
  };
}

export async function getJob(id: string): Promise<Job | undefined> {
  const r = await fetch(`${API}/jobs/${encodeURIComponent(id)}`, { cache: 'no-store' });
  return r.ok ? ((await r.json()) as Job) : undefined;
}
