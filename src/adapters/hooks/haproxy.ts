/**
 * Built-in `haproxy` hook: HAProxy's MySQL backend sends connections to the
 * new master only.
 *
 * runtime-api (default): through the admin socket (local, or on the LB host
 * over ssh + socat, the commands on stdin):
 *   stop:  set server B/OLD state maint; shutdown sessions server B/OLD
 *   start: every other server -> maint (never two masters), then
 *          set server B/NEW state ready; `show servers state B` must agree.
 * rewrite: edit the backend's `server` lines of a local haproxy.cfg (the new
 *   master without `disabled`, the others with it), validate with
 *   `haproxy -c -f`, rename into place, run the reload command.
 * Then, when `verify` is set, a MySQL connection through HAProxy must land on
 * the new master (server_id).
 */
import { createConnection } from 'node:net';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { HaproxyHook } from '../../config/hooks.js';
import type { ServerConfig, SshSettings } from '../../config/types.js';
import type { HookEvent } from './context.js';
import { failure, sshScript } from './openssh.js';
import { runProcess } from './run-script.js';
import type { BuiltinResult } from './types.js';
import { reachesNewMaster } from './verify.js';

export interface HaproxyOptions {
  ssh: SshSettings;
  signal?: AbortSignal | undefined;
}

/** The HAProxy server name of a cluster server. */
export function haproxyName(h: HaproxyHook, s: ServerConfig): string {
  return h.servers[s.name] ?? s.name;
}

/** One runtime API command over a local UNIX socket, with a deadline. */
export function socketCommand(path: string, cmd: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let out = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`HAProxy socket ${path}: no answer to "${cmd}" within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.end(`${cmd}\n`));
    sock.on('data', (d: string) => (out += d));
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`HAProxy socket ${path}: ${err.message}`));
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

const REMOTE_SOCAT = 'exec socat -t 5 STDIO "UNIX-CONNECT:$1"';

async function api(h: HaproxyHook, o: HaproxyOptions, cmd: string, timeoutMs: number): Promise<string> {
  const socket = h.socket ?? '';
  if (h.ssh === undefined) return socketCommand(socket, cmd, timeoutMs);
  const r = await sshScript({ ssh: o.ssh, dest: h.ssh, script: REMOTE_SOCAT, args: [socket], stdin: `${cmd}\n`, timeoutMs, signal: o.signal });
  if (r.exitCode !== 0) throw new Error(`HAProxy socket ${socket} on ${h.ssh.host}: ${failure(r)}`);
  return r.stdout;
}

export interface ServerState {
  name: string;
  addr: string;
  opState: number;
  adminState: number;
}

/** `show servers state B` (format 1). */
export function parseServersState(out: string, backend: string): ServerState[] {
  const rows: ServerState[] = [];
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 7 || line.startsWith('#') || f[1] !== backend) continue;
    rows.push({ name: f[3] ?? '', addr: f[4] ?? '', opState: Number(f[5]), adminState: Number(f[6]) });
  }
  return rows;
}

/**
 * Maintenance flags that stop traffic: forced (0x01), inherited (0x02),
 * resolution (0x20), health (0x40). 0x04 only records that the config said
 * `disabled`: it stays after `state ready` and the server takes traffic.
 */
const MAINT = 0x01 | 0x02 | 0x20 | 0x40;

function apiError(out: string): string | undefined {
  const t = out.trim();
  if (t === '') return undefined;
  if (/^(No such|Unknown|Require|Permission denied|.*not found|.*invalid)/i.test(t)) return t.split('\n')[0];
  return undefined;
}

async function runtimeApi(h: HaproxyHook, ev: HookEvent, o: HaproxyOptions, left: () => number): Promise<BuiltinResult> {
  const state = parseServersState(await api(h, o, `show servers state ${h.backend}`, left()), h.backend);
  if (state.length === 0) return { ok: false, detail: `HAProxy has no backend "${h.backend}" (or it has no servers)` };
  const known = new Set(state.map((s) => s.name));
  const send = async (cmd: string): Promise<void> => {
    const err = apiError(await api(h, o, cmd, left()));
    if (err !== undefined) throw new Error(`"${cmd}": ${err}`);
  };
  const done: string[] = [];
  try {
    if (ev.phase === 'stop' || ev.phase === 'online_change_stop') {
      const old = haproxyName(h, ev.origMaster);
      if (!known.has(old)) return { ok: true, detail: `${ev.origMaster.name} (${old}) is not in backend ${h.backend}: nothing to drain` };
      await send(`set server ${h.backend}/${old} state maint`);
      await send(`shutdown sessions server ${h.backend}/${old}`);
      return { ok: true, detail: `${h.backend}/${old} in maintenance, its sessions shut down` };
    }
    const nm = ev.newMaster;
    if (nm === undefined) return { ok: true, detail: 'no new master in this phase: nothing to do' };
    const target = haproxyName(h, nm);
    if (!known.has(target)) return { ok: false, detail: `the new master ${nm.name} has no server "${target}" in backend ${h.backend} (servers: ${[...known].join(', ')}); map it under servers:` };
    for (const s of state) {
      if (s.name === target || (s.adminState & 0x01) !== 0) continue;
      await send(`set server ${h.backend}/${s.name} state maint`);
      await send(`shutdown sessions server ${h.backend}/${s.name}`);
      done.push(`${s.name} -> maint`);
    }
    await send(`set server ${h.backend}/${target} state ready`);
    done.push(`${target} -> ready`);
    // HAProxy must agree: the new master running (its health check may need a moment), nobody else.
    for (;;) {
      const after = parseServersState(await api(h, o, `show servers state ${h.backend}`, left()), h.backend);
      const t = after.find((s) => s.name === target);
      const others = after.filter((s) => s.name !== target && (s.adminState & MAINT) === 0);
      if (t === undefined || (t.adminState & MAINT) !== 0) return { ok: false, detail: `${done.join(', ')}; but ${target} is still in maintenance (admin state ${t?.adminState ?? '?'})` };
      if (others.length > 0) return { ok: false, detail: `${done.join(', ')}; but ${others.map((s) => s.name).join(', ')} still take connections` };
      if (t.opState === 2) return { ok: true, detail: `backend ${h.backend}: ${done.join(', ')}` };
      if (left() < 300) return { ok: false, detail: `${done.join(', ')}; but HAProxy does not see ${target} running (operational state ${t.opState}: its health check fails?)` };
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (err) {
    return { ok: false, detail: `${done.length ? `${done.join(', ')}; then ` : ''}${(err as Error).message}` };
  }
}

const SECTION_RE = /^(global|defaults|frontend|backend|listen|resolvers|peers|userlist|program|http-errors|ring|mailers|cache)\b/;

/**
 * The config with backend B's `server` lines switched: `decide(name)` says
 * whether a server gets the `disabled` keyword, loses it, or stays as it is.
 */
export function renderBackend(cfg: string, backend: string, decide: (server: string) => 'enable' | 'disable' | 'keep'): { text: string; servers: string[] } {
  let inside = false;
  const servers: string[] = [];
  const out = cfg.split('\n').map((line) => {
    if (SECTION_RE.test(line)) {
      const [kw, name] = line.trim().split(/\s+/);
      inside = (kw === 'backend' || kw === 'listen') && name === backend;
      return line;
    }
    if (!inside) return line;
    const m = /^(\s*)server\s+(\S+)\s+(.*)$/.exec(line);
    if (!m) return line;
    const [, indent = '', name = '', rest = ''] = m;
    servers.push(name);
    const d = decide(name);
    if (d === 'keep') return line;
    const words = rest.split(/\s+/).filter((w) => w !== '' && w !== 'disabled');
    if (d === 'disable') words.push('disabled');
    return `${indent}server ${name} ${words.join(' ')}`;
  });
  return { text: out.join('\n'), servers };
}

async function rewrite(h: HaproxyHook, ev: HookEvent, o: HaproxyOptions, left: () => number): Promise<BuiltinResult> {
  const nm = ev.newMaster;
  const file = h.config_file ?? '';
  // Stop: take the old master out; start: only the new master in.
  const cfg = await readFile(file, 'utf8');
  let text: string;
  let what: string;
  if (ev.phase === 'stop' || ev.phase === 'online_change_stop' || nm === undefined) {
    const old = haproxyName(h, ev.origMaster);
    const r = renderBackend(cfg, h.backend, (n) => (n === old ? 'disable' : 'keep'));
    if (!r.servers.includes(old)) return { ok: true, detail: `${old} is not in backend ${h.backend}: nothing to do` };
    text = r.text;
    what = `${old} disabled`;
  } else {
    const keep = haproxyName(h, nm);
    const r = renderBackend(cfg, h.backend, (n) => (n === keep ? 'enable' : 'disable'));
    if (r.servers.length === 0) return { ok: false, detail: `${file} has no backend ${h.backend} with server lines` };
    if (!r.servers.includes(keep)) return { ok: false, detail: `backend ${h.backend} in ${file} has no server ${keep} (servers: ${r.servers.join(', ')})` };
    text = r.text;
    what = `only ${keep} enabled`;
  }
  if (text === cfg) return { ok: true, detail: `${file} already has ${what}` };
  const tmp = `${file}.mhats-new`;
  await writeFile(tmp, text, { mode: 0o644 });
  try {
    const c = await runProcess({ file: h.haproxy_bin, args: ['-c', '-f', tmp], timeoutMs: left(), signal: o.signal });
    if (c.exitCode !== 0) {
      const alert = `${c.stdout}\n${c.stderr}`.split('\n').find((l) => /ALERT.*parsing/.test(l))?.replace(/^.*?: config : /, '');
      return { ok: false, detail: `haproxy -c rejects the rewritten config (${alert ?? failure(c)}); ${file} left unchanged` };
    }
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
  const [bin, ...args] = h.reload ?? [];
  const r = await runProcess({ file: bin ?? 'true', args, timeoutMs: left(), signal: o.signal });
  if (r.exitCode !== 0) return { ok: false, detail: `${file}: ${what}, validated; but the reload (${(h.reload ?? []).join(' ')}) failed: ${failure(r)}` };
  return { ok: true, detail: `${file}: ${what}, validated with haproxy -c, reloaded` };
}

export async function runHaproxy(h: HaproxyHook, ev: HookEvent, o: HaproxyOptions): Promise<BuiltinResult> {
  const end = performance.now() + h.timeout * 1000;
  const left = (): number => Math.max(1, Math.round(end - performance.now()));
  let r: BuiltinResult;
  try {
    r = h.mode === 'rewrite' ? await rewrite(h, ev, o, left) : await runtimeApi(h, ev, o, left);
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  }
  const nm = ev.newMaster;
  if (!r.ok || nm === undefined || h.verify === undefined || ev.phase === 'stop' || ev.phase === 'online_change_stop') return r;
  const bad = await reachesNewMaster(h.verify.host, h.verify.port, nm, left());
  if (bad !== undefined) return { ok: false, detail: `${r.detail}; but ${bad}` };
  return { ok: true, detail: `${r.detail}; ${h.verify.host}:${h.verify.port} reaches ${nm.name}` };
}

export function describeHaproxy(h: HaproxyHook, ev: HookEvent): string[] {
  const where = h.mode === 'rewrite' ? `rewrite ${h.config_file ?? '?'} (haproxy -c, then ${(h.reload ?? []).join(' ')})` : `runtime API ${h.socket ?? '?'}${h.ssh ? ` on ${h.ssh.host} (ssh + socat)` : ''}`;
  if (ev.phase === 'stop' || ev.phase === 'online_change_stop') return [`${where}: ${h.backend}/${haproxyName(h, ev.origMaster)} -> maint, shutdown sessions`];
  const nm = ev.newMaster;
  if (nm === undefined) return ['nothing (no new master in this phase)'];
  return [`${where}: every other server of ${h.backend} -> maint, then ${h.backend}/${haproxyName(h, nm)} -> ready`, ...(h.verify ? [`verify: MySQL through ${h.verify.host}:${h.verify.port} reaches ${nm.name}`] : [])];
}
