/**
 * Built-in `hosts` hook: every app server's /etc/hosts names the new master.
 *
 * Per app server, in parallel, each with its own deadline:
 *   1. the file: the server's existing one (ssh cat) with the service names'
 *      lines pointing at the new master, or a local template, rendered;
 *   2. pushed with rsync over ssh (argv array; rsync's own I/O --timeout;
 *      --inplace for a bind-mounted target such as /etc/netns/NAME/hosts,
 *      where rsync's atomic rename fails with EBUSY);
 *   3. verified there: the file is what was sent, and `getent hosts NAME`
 *      resolves each name to the new master.
 * The result is reported per host.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostsHook, SshDest } from '../../config/hooks.js';
import type { SshSettings } from '../../config/types.js';
import type { HookEvent } from './context.js';
import { destLabel, failure, rsyncRsh, sshRun, sshScript } from './openssh.js';
import { runProcess } from './run-script.js';
import type { BuiltinResult, HostReport } from './types.js';

/** The address apps use for the new master. */
export function masterAddress(h: HostsHook, ev: HookEvent): string {
  const nm = ev.newMaster;
  if (nm === undefined) throw new Error('the hosts hook needs a new master');
  return h.addresses[nm.name] ?? nm.ip;
}

/**
 * An /etc/hosts with `names` pointing at `addr`: each name is taken off the
 * lines that had it (a line left without names goes), comments and every
 * other line are kept, and one line `addr names  # comment` is appended.
 */
export function renderHosts(existing: string, names: readonly string[], addr: string, comment: string): string {
  const want = new Set(names.map((n) => n.toLowerCase()));
  const out: string[] = [];
  const lines = existing.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const line of lines) {
    const hash = line.indexOf('#');
    const body = hash >= 0 ? line.slice(0, hash) : line;
    const tail = hash >= 0 ? line.slice(hash) : '';
    const tokens = body.trim().split(/\s+/).filter((t) => t !== '');
    if (tokens.length < 2 || !tokens.slice(1).some((t) => want.has(t.toLowerCase()))) {
      out.push(line);
      continue;
    }
    const rest = tokens.slice(1).filter((t) => !want.has(t.toLowerCase()));
    if (rest.length > 0) out.push(`${tokens[0]}\t${rest.join(' ')}${tail ? ` ${tail}` : ''}`);
  }
  out.push(`${addr}\t${names.join(' ')}\t# mhats: ${comment}`);
  return `${out.join('\n')}\n`;
}

/** {{new_master_ip}} {{new_master_host}} {{new_master_name}} {{names}} {{cluster}}; an unknown placeholder is an error. */
export function renderTemplate(tpl: string, vars: Record<string, string>): string {
  return tpl.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (_, k: string) => {
    const v = vars[k];
    if (v === undefined) throw new Error(`unknown placeholder {{${k}}} in the hosts template (known: ${Object.keys(vars).join(', ')})`);
    return v;
  });
}

function rsyncTarget(d: SshDest, path: string): string {
  return `${d.host.includes(':') ? `[${d.host}]` : d.host}:${path}`;
}

export function rsyncArgs(h: HostsHook, ssh: SshSettings, d: SshDest, local: string, ioTimeoutS: number): string[] {
  return ['-I', '-s', ...(h.inplace ? ['--inplace'] : []), `--timeout=${ioTimeoutS}`, '-e', rsyncRsh(ssh, d), '--', local, rsyncTarget(d, h.path)];
}

/** Parse `getent hosts` output: the address each name resolves to. */
export function parseGetent(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const [addr, ...names] = line.trim().split(/\s+/);
    if (!addr) continue;
    for (const n of names) if (!m.has(n.toLowerCase())) m.set(n.toLowerCase(), addr);
  }
  return m;
}

const MARK = '@@mhats-getent@@';
const VERIFY = `f=$1; shift; cat -- "$f" || exit 3; printf '\\n${MARK}\\n'; getent hosts "$@"; exit 0`;

export interface HostsOptions {
  ssh: SshSettings;
  signal?: AbortSignal | undefined;
}

export async function runHosts(h: HostsHook, ev: HookEvent, o: HostsOptions): Promise<BuiltinResult> {
  const nm = ev.newMaster;
  if (nm === undefined) return { ok: true, detail: 'no new master in this phase: nothing to do' };
  const addr = masterAddress(h, ev);
  const comment = `${ev.cluster.name} master ${nm.name}`;
  const hostMs = Math.min(h.host_timeout ?? h.timeout, h.timeout) * 1000;
  const ioTimeoutS = Math.max(1, Math.ceil(hostMs / 1000));
  let template: string | undefined;
  if (h.template !== undefined) {
    template = renderTemplate(await readFile(h.template, 'utf8'), { new_master_ip: addr, new_master_host: nm.hostname, new_master_name: nm.name, names: h.names.join(' '), cluster: ev.cluster.name });
  }
  const dir = await mkdtemp(join(tmpdir(), 'mhats-hosts-'));
  try {
    const reports = await Promise.all(
      h.targets.map(async (d, i): Promise<HostReport> => {
        const label = destLabel(d);
        const end = performance.now() + hostMs;
        const left = (): number => Math.max(1, Math.round(end - performance.now()));
        const t0 = performance.now();
        const done = (ok: boolean, detail: string): HostReport => ({ host: label, ok, detail, durationMs: Math.round(performance.now() - t0) });
        let content: string;
        if (template !== undefined) content = template;
        else {
          const r = await sshRun({ ssh: o.ssh, dest: d, argv: ['cat', '--', h.path], timeoutMs: left(), signal: o.signal });
          if (r.exitCode !== 0) return done(false, `reading ${h.path}: ${failure(r)}`);
          content = renderHosts(`${r.stdout}\n`, h.names, addr, comment);
        }
        const local = join(dir, `hosts-${i}`);
        await writeFile(local, content, { mode: 0o644 });
        const rs = await runProcess({ file: 'rsync', args: rsyncArgs(h, o.ssh, d, local, ioTimeoutS), timeoutMs: left(), killGraceMs: 1000, signal: o.signal });
        if (rs.exitCode !== 0) {
          const hint = /Device or resource busy|EBUSY/.test(rs.stderr) && !h.inplace ? ' (the target is a bind mount: set inplace: true)' : '';
          return done(false, `rsync: ${failure(rs)}${hint}`);
        }
        if (!h.verify) return done(true, `pushed (${h.inplace ? 'in place' : 'atomic rename'}); not verified`);
        const v = await sshScript({ ssh: o.ssh, dest: d, script: VERIFY, args: [h.path, ...h.names], timeoutMs: left(), signal: o.signal });
        if (v.exitCode !== 0) return done(false, `verify: ${failure(v)}`);
        const [file = '', getent = ''] = v.stdout.split(`\n${MARK}\n`);
        if (file.trimEnd() !== content.trimEnd()) return done(false, `verify: ${h.path} on ${label} is not what was pushed`);
        const resolved = parseGetent(getent);
        const wrong = h.names.filter((n) => resolved.get(n.toLowerCase()) !== addr).map((n) => `${n} -> ${resolved.get(n.toLowerCase()) ?? 'nothing'}`);
        if (wrong.length > 0) return done(false, `verify: ${wrong.join(', ')} (expected ${addr}; check nsswitch.conf)`);
        return done(true, `${h.names.join(', ')} -> ${addr} (pushed ${h.inplace ? 'in place' : 'by atomic rename'}, verified with getent)`);
      }),
    );
    const bad = reports.filter((r) => !r.ok);
    return { ok: bad.length === 0, detail: bad.length === 0 ? `${reports.length} app server(s) updated: ${h.names.join(', ')} -> ${addr}` : `${bad.length} of ${reports.length} app server(s) failed: ${bad.map((b) => `${b.host}: ${b.detail}`).join('; ')}`, hosts: reports };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function describeHosts(h: HostsHook, ev: HookEvent, ssh: SshSettings): string[] {
  const nm = ev.newMaster;
  if (nm === undefined) return ['nothing (no new master in this phase)'];
  const addr = masterAddress(h, ev);
  return h.targets.map((d) => `${destLabel(d)}: ${h.template ? `render ${h.template}` : `ssh cat ${h.path}, point ${h.names.join(' ')} at ${addr}`}; rsync ${rsyncArgs(h, ssh, d, '<rendered>', Math.ceil(h.timeout)).join(' ')}${h.verify ? '; verify with getent hosts' : ''}`);
}
