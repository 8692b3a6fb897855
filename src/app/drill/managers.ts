/**
 * The manager(s) a drill relies on: one it starts itself (--with-manager: a
 * child `mhats manager` with its own HTTP endpoint, JSON log in the drill's
 * work directory), or one already running, reached through its HTTP
 * endpoint. Either way the drill asks it /healthz and /status.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ClusterView {
  state: string;
  master?: string | undefined;
  unfinishedFailover?: { id: string } | undefined;
  /** The replica its failover plan would promote now. */
  wouldPromote?: string | undefined;
  /** Manager HA: 'leader', 'follower', ...; undefined without etcd. */
  ha?: string | undefined;
}

export interface ManagerHandle {
  label: string;
  /** Base URL of its HTTP endpoint. */
  url: string | undefined;
  pid: number | undefined;
  logFile: string | undefined;
  /** Started by the drill (then signal, start and stop exist). */
  owned: boolean;
  /** Is it running and answering /healthz? */
  running(): Promise<{ ok: boolean; detail: string }>;
  /** Its view of one cluster (/status), or undefined when it does not answer. */
  cluster(name: string): Promise<ClusterView | undefined>;
  /** Only for a manager the drill started. */
  signal?(sig: NodeJS.Signals): void;
  start?(): Promise<void>;
  stop?(): Promise<void>;
  /** Lines of its log matching re (a manager the drill started). */
  logLines?(re: RegExp): string[];
}

async function getJson(url: string, timeoutMs = 2000): Promise<{ status: number; body: unknown } | undefined> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: r.status, body: (await r.json()) };
  } catch {
    return undefined;
  }
}

async function clusterFrom(url: string | undefined, name: string): Promise<ClusterView | undefined> {
  if (url === undefined) return undefined;
  const r = await getJson(`${url}/status`);
  const body = r?.body as { clusters?: Array<Record<string, unknown>>; ha?: { mode?: string; state?: string } } | undefined;
  const c = body?.clusters?.find((x) => x.name === name);
  if (!c) return undefined;
  const uf = c.unfinishedFailover as { id?: string } | undefined;
  const plan = c.plan as { wouldPromote?: unknown } | undefined;
  return {
    state: typeof c.state === 'string' ? c.state : '?',
    master: typeof c.master === 'string' ? c.master : undefined,
    unfinishedFailover: uf?.id ? { id: uf.id } : undefined,
    wouldPromote: typeof plan?.wouldPromote === 'string' ? plan.wouldPromote : undefined,
    ha: body?.ha?.mode === 'etcd' ? body.ha.state : undefined,
  };
}

/** A manager already running, known by its HTTP endpoint. */
export function externalManager(url: string): ManagerHandle {
  return {
    label: `manager at ${url}`,
    url,
    pid: undefined,
    logFile: undefined,
    owned: false,
    async running() {
      const r = await getJson(`${url}/healthz`);
      if (r?.status === 200) return { ok: true, detail: `${url}/healthz answers (pid ${String((r.body as { pid?: number }).pid ?? '?')})` };
      return { ok: false, detail: `${url}/healthz does not answer` };
    },
    cluster: (name) => clusterFrom(url, name),
  };
}

export interface SpawnOptions {
  /** argv that runs the mhats CLI: [node, ...execArgv, bin.js]. */
  cli: string[];
  conf: string;
  /** --http of the child (default 127.0.0.1:0: any free port, read back from its log). */
  http?: string;
  logFile: string;
  env?: NodeJS.ProcessEnv;
  label?: string;
}

/** A `mhats manager` the drill starts (and can kill, restart, stop). */
export class ChildManager implements ManagerHandle {
  readonly label: string;
  readonly owned = true;
  url: string | undefined;
  logFile: string;
  #child: ChildProcess | undefined;
  #exited = true;
  #o: SpawnOptions;
  #logFrom = 0;

  constructor(o: SpawnOptions) {
    this.#o = o;
    this.logFile = o.logFile;
    this.label = o.label ?? 'manager started by the drill';
  }

  get pid(): number | undefined {
    return this.#exited ? undefined : this.#child?.pid;
  }

  async start(timeoutMs = 60_000): Promise<void> {
    const fd = openSync(this.logFile, 'a', 0o600);
    try {
      this.#logFrom = readFileSync(this.logFile, 'utf8').length;
      const [cmd, ...args] = this.#o.cli;
      const child = spawn(cmd!, [...args, 'manager', '--conf', this.#o.conf, '--log-format', 'json', '--http', this.#o.http ?? '127.0.0.1:0'], { stdio: ['ignore', fd, fd], env: { ...process.env, NO_COLOR: '1', ...this.#o.env } });
      this.#child = child;
      this.#exited = false;
      child.on('exit', () => (this.#exited = true));
    } finally {
      closeSync(fd);
    }
    const end = performance.now() + timeoutMs;
    this.url = undefined;
    for (;;) {
      if (this.#exited) throw new Error(`the manager exited while starting; see ${this.logFile}:\n${this.tail()}`);
      const text = readFileSync(this.logFile, 'utf8').slice(this.#logFrom);
      const m = /HTTP endpoint on (http:\/\/[^ "]+)/.exec(text);
      if (m) {
        this.url = m[1]!.replace(/\/+$/, '');
        const r = await getJson(`${this.url}/readyz`);
        if (r?.status === 200) return;
      }
      if (performance.now() > end) throw new Error(`the manager was not ready within ${timeoutMs / 1000} s; see ${this.logFile}:\n${this.tail()}`);
      await sleep(100);
    }
  }

  tail(n = 15): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
    } catch {
      return '';
    }
  }

  logLines(re: RegExp): string[] {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').filter((l) => re.test(l));
    } catch {
      return [];
    }
  }

  async running(): Promise<{ ok: boolean; detail: string }> {
    if (this.#exited) return { ok: false, detail: `the manager (pid ${this.#child?.pid ?? '?'}) has exited; see ${this.logFile}` };
    const r = this.url ? await getJson(`${this.url}/healthz`) : undefined;
    if (r?.status === 200) return { ok: true, detail: `manager pid ${this.#child?.pid ?? '?'} runs and ${this.url ?? ''}/healthz answers` };
    return { ok: false, detail: `manager pid ${this.#child?.pid ?? '?'} runs but ${this.url ?? '(no URL)'}/healthz does not answer` };
  }

  cluster(name: string): Promise<ClusterView | undefined> {
    return clusterFrom(this.url, name);
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.#exited) this.#child?.kill(sig);
  }

  /** SIGTERM (a failover in progress finishes first), SIGKILL after the deadline. */
  async stop(timeoutMs = 60_000): Promise<void> {
    if (this.#exited || !this.#child) return;
    this.#child.kill('SIGCONT');
    this.#child.kill('SIGTERM');
    const end = performance.now() + timeoutMs;
    while (!this.#exited && performance.now() < end) await sleep(50);
    if (!this.#exited) {
      this.#child.kill('SIGKILL');
      while (!this.#exited) await sleep(50);
    }
  }

  /** Waits until it has exited (after a kill). */
  async waitExit(timeoutMs = 10_000): Promise<boolean> {
    const end = performance.now() + timeoutMs;
    while (!this.#exited && performance.now() < end) await sleep(20);
    return this.#exited;
  }
}
