/**
 * `mhats check-ssh`: can the manager log in to every server over SSH with a
 * verified host key (and, with --mesh, can every server reach every other one,
 * as MHA's masterha_check_ssh checks)?
 */
import type { ClusterConfig, ServerConfig } from '../config/types.js';
import { sshExec, SshError, type ExecResult, type SshErrorKind, type SshExecOptions, type SshTarget } from '../adapters/ssh/client.js';
import type { Painter } from '../render/colors.js';
import { sshOptionsFor } from '../adapters/ssh/targets.js';

export { sshOptionsFor };

export type ExecFn = (target: SshTarget, argv: string[], opts: SshExecOptions) => Promise<ExecResult>;

export interface HostCheck {
  cluster: string;
  server: string;
  /** user@host:port */
  target: string;
  ok: boolean;
  elapsedMs: number;
  keyType?: string | undefined;
  fingerprint?: string | undefined;
  verifiedBy?: string | undefined;
  kind?: SshErrorKind | 'command' | undefined;
  error?: string | undefined;
  hint?: string | undefined;
}

export interface PairCheck {
  cluster: string;
  from: string;
  to: string;
  /** user@host:port of `to`, as `from` dials it. */
  target: string;
  ok: boolean;
  /** True when `from` itself could not be reached, so the pair was not tried. */
  skipped: boolean;
  elapsedMs: number;
  error?: string | undefined;
  hint?: string | undefined;
}

export interface CheckSshReport {
  ok: boolean;
  hosts: HostCheck[];
  pairs: PairCheck[];
  skipped: { cluster: string; server: string }[];
  mesh: boolean;
  /** Host key verification turned off (StrictHostKeyChecking=no, insecure_skip_host_key_check), per cluster. */
  warnings: string[];
}

/** One warning per cluster whose host keys are not verified (or where unknown keys are accepted). */
export function hostKeyWarnings(clusters: readonly ClusterConfig[]): string[] {
  const out: string[] = [];
  for (const c of clusters) {
    const off = new Map<string, string[]>();
    const acceptNew: string[] = [];
    for (const s of c.servers) {
      const h = c.ssh.hosts?.[s.name];
      if (h?.strict_host_key_checking === 'no') off.set(h.strict_source ?? 'ssh_options', [...(off.get(h.strict_source ?? 'ssh_options') ?? []), s.name]);
      else if (!h && c.ssh.insecure_skip_host_key_check) off.set('ssh_insecure_skip_host_key_check', [...(off.get('ssh_insecure_skip_host_key_check') ?? []), s.name]);
      else if (h?.strict_host_key_checking === 'accept-new') acceptNew.push(s.name);
    }
    for (const [where, names] of off)
      out.push(`${c.name}: host keys are NOT verified for ${names.join(', ')} (StrictHostKeyChecking=no, from ${where}): anyone who can answer for those addresses can receive the manager's commands. Record the keys (ssh-keyscan HOST >> known_hosts, after checking the fingerprints) and remove that setting`);
    if (acceptNew.length > 0) out.push(`${c.name}: unknown host keys are accepted for ${acceptNew.join(', ')} (StrictHostKeyChecking=accept-new); mhats never writes known_hosts, so they are accepted every time: record them in known_hosts`);
  }
  return out;
}

export interface CheckSshOptions {
  mesh?: boolean | undefined;
  /** Connections in flight at once (sshd MaxStartups is ~10 by default). */
  concurrency?: number | undefined;
  signal?: AbortSignal | undefined;
  exec?: ExecFn | undefined;
}

function targetString(t: SshTarget): string {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  return `${t.user}@${host}:${t.port}`;
}

/** Runs fn over items with at most `limit` in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/** The argv that host A runs to test its own OpenSSH login to B (MHA's mesh check), strict host keys, no prompts. */
export function meshArgv(to: ServerConfig, connectTimeoutSec: number, sshOptions: readonly string[] = []): string[] {
  return [
    'ssh',
    // MHA's ssh_options apply to the inner ssh too (MHA's SSHCheck puts them in both), first so they win.
    ...sshOptions,
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `ConnectTimeout=${Math.max(1, Math.ceil(connectTimeoutSec))}`,
    '-p',
    String(to.ssh_port),
    '-l',
    to.ssh_user,
    '--',
    to.ssh_host,
    'true',
  ];
}

function meshHint(stderr: string, from: ServerConfig, to: ServerConfig): string | undefined {
  if (/host key verification failed|no .* host key is known|REMOTE HOST IDENTIFICATION HAS CHANGED/i.test(stderr))
    return `on ${from.name} as ${from.ssh_user}: verify ${to.ssh_host}'s host key and add it to ~${from.ssh_user}/.ssh/known_hosts (ssh-keyscan -p ${to.ssh_port} ${to.ssh_host})`;
  if (/permission denied/i.test(stderr)) return `add ${from.name}'s public key (~${from.ssh_user}/.ssh/id_*.pub) to ~${to.ssh_user}/.ssh/authorized_keys on ${to.name}`;
  if (/connection refused/i.test(stderr)) return `sshd on ${to.name} does not listen on ${to.ssh_port} for ${from.name}`;
  if (/timed out/i.test(stderr)) return `${from.name} cannot reach ${to.ssh_host}:${to.ssh_port} (firewall, routing?)`;
  if (/not found/i.test(stderr)) return `install the OpenSSH client on ${from.name}`;
  return undefined;
}

function lastLine(s: string): string {
  const lines = s.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  return lines.slice(-2).join(' / ');
}

export async function checkSsh(clusters: readonly ClusterConfig[], opts: CheckSshOptions = {}): Promise<CheckSshReport> {
  const exec = opts.exec ?? sshExec;
  const limit = opts.concurrency ?? 8;
  const skipped: CheckSshReport['skipped'] = [];
  const jobs: { cluster: ClusterConfig; server: ServerConfig }[] = [];
  for (const cluster of clusters)
    for (const server of cluster.servers) {
      if (server.skip_init_ssh_check) skipped.push({ cluster: cluster.name, server: server.name });
      else jobs.push({ cluster, server });
    }

  const hosts = await mapLimit(jobs, limit, async ({ cluster, server }): Promise<HostCheck> => {
    const { target, options } = sshOptionsFor(cluster, server);
    const base = { cluster: cluster.name, server: server.name, target: targetString(target) };
    const started = performance.now();
    try {
      const r = await exec(target, ['true'], { ...options, timeoutMs: options.connectTimeoutMs + 10_000, signal: opts.signal, remoteTimeoutSec: undefined });
      const key = { keyType: r.hostKey.type, fingerprint: r.hostKey.fingerprint, verifiedBy: r.hostKey.verifiedBy };
      if (r.code !== 0)
        return { ...base, ...key, ok: false, elapsedMs: r.elapsedMs, kind: 'command', error: `logged in, but \`true\` exited with ${r.code ?? r.signal ?? 'no status'}${r.stderr ? `: ${lastLine(r.stderr)}` : ''}`, hint: `check the login shell of ${target.user} on ${target.host}` };
      return { ...base, ...key, ok: true, elapsedMs: r.elapsedMs };
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      const elapsedMs = performance.now() - started;
      if (e instanceof SshError)
        return { ...base, ok: false, elapsedMs, kind: e.kind, error: e.detail, hint: e.hint, keyType: e.hostKey?.type, fingerprint: e.hostKey?.fingerprint };
      return { ...base, ok: false, elapsedMs, kind: 'other', error: e instanceof Error ? e.message : String(e) };
    }
  });

  const pairs: PairCheck[] = [];
  if (opts.mesh) {
    const okHosts = new Set(hosts.filter((h) => h.ok).map((h) => `${h.cluster}\u0000${h.server}`));
    const pairJobs: { cluster: ClusterConfig; from: ServerConfig; to: ServerConfig }[] = [];
    for (const cluster of clusters) {
      const members = cluster.servers.filter((s) => !s.skip_init_ssh_check);
      // Order by offset so that pairs in flight together target different hosts (sshd MaxStartups).
      for (let k = 1; k < members.length; k++)
        for (let i = 0; i < members.length; i++) {
          const from = members[i];
          const to = members[(i + k) % members.length];
          if (from && to) pairJobs.push({ cluster, from, to });
        }
    }
    const results = await mapLimit(pairJobs, limit, async ({ cluster, from, to }): Promise<PairCheck> => {
      const { target, options } = sshOptionsFor(cluster, from);
      const base = { cluster: cluster.name, from: from.name, to: to.name, target: targetString({ label: to.name, host: to.ssh_host, port: to.ssh_port, user: to.ssh_user }) };
      if (!okHosts.has(`${cluster.name}\u0000${from.name}`))
        return { ...base, ok: false, skipped: true, elapsedMs: 0, error: `not tried: the manager cannot log in to ${from.name}` };
      const innerSec = cluster.ssh.connect_timeout;
      const started = performance.now();
      try {
        // With ssh_options, `to` is reached as mhats itself reaches it (its -F Port/User/HostName).
        const th = cluster.ssh.hosts?.[to.name];
        const toDial = th ? { ...to, ssh_host: th.host, ssh_port: th.port, ssh_user: th.user } : to;
        const r = await exec(target, meshArgv(toDial, innerSec, cluster.ssh.options), {
          ...options,
          timeoutMs: options.connectTimeoutMs + (innerSec + 10) * 1000,
          remoteTimeoutSec: innerSec + 5,
          signal: opts.signal,
        });
        if (r.code === 0) return { ...base, ok: true, skipped: false, elapsedMs: r.elapsedMs };
        const why = lastLine(r.stderr) || `ssh exited with ${r.code ?? r.signal ?? 'no status'}`;
        return { ...base, ok: false, skipped: false, elapsedMs: r.elapsedMs, error: r.code === 124 || r.code === 137 ? `ssh from ${from.name} did not finish in time (${why})` : why, hint: meshHint(r.stderr, from, to) };
      } catch (e) {
        if (opts.signal?.aborted) throw e;
        const elapsedMs = performance.now() - started;
        const msg = e instanceof SshError ? `manager -> ${from.name}: ${e.detail}` : e instanceof Error ? e.message : String(e);
        return { ...base, ok: false, skipped: false, elapsedMs, error: msg };
      }
    });
    pairs.push(...results);
  }

  return { ok: hosts.every((h) => h.ok) && pairs.every((p) => p.ok), hosts, pairs, skipped, mesh: Boolean(opts.mesh), warnings: hostKeyWarnings(clusters) };
}

// ---------------------------------------------------------------- rendering

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function ms(n: number): string {
  return `${Math.round(n)} ms`;
}

/** The human table: one line per host, then one per pair with --mesh, then a summary. */
export function renderCheckSsh(report: CheckSshReport, p: Painter): string {
  const out: string[] = [];
  const multiCluster = new Set(report.hosts.map((h) => h.cluster)).size > 1;
  const name = (h: { cluster: string; server: string }) => (multiCluster ? `${h.cluster}/${h.server}` : h.server);
  const wName = Math.max(6, ...report.hosts.map((h) => name(h).length));
  const wTarget = Math.max(6, ...report.hosts.map((h) => h.target.length));
  out.push(p.bold(`${pad('SERVER', wName)}  ${pad('TARGET', wTarget)}  ${pad('RESULT', 6)}  ${pad('TIME', 8)}  DETAIL`));
  for (const h of report.hosts) {
    const res = h.ok ? p.green(pad('OK', 6)) : p.red(pad('FAIL', 6));
    const detail = h.ok
      ? `${h.keyType ?? ''} ${h.fingerprint ?? ''} (${h.verifiedBy ?? 'verified'})`
      : `${h.kind ?? 'error'}: ${h.error ?? ''}${h.hint ? ` ${p.dim(`-> ${h.hint}`)}` : ''}`;
    out.push(`${pad(name(h), wName)}  ${pad(h.target, wTarget)}  ${res}  ${pad(ms(h.elapsedMs), 8)}  ${detail}`);
  }
  for (const s of report.skipped) out.push(p.dim(`${pad(name(s), wName)}  ${pad('-', wTarget)}  ${pad('SKIP', 6)}  ${pad('-', 8)}  skip_init_ssh_check`));
  if (report.mesh) {
    out.push('');
    const label = (x: PairCheck) => `${multiCluster ? `${x.cluster}/` : ''}${x.from} -> ${x.to}`;
    const wPair = Math.max(4, ...report.pairs.map((x) => label(x).length));
    out.push(p.bold(`${pad('FROM -> TO', wPair)}  ${pad('RESULT', 6)}  ${pad('TIME', 8)}  DETAIL`));
    for (const x of report.pairs) {
      const res = x.ok ? p.green(pad('OK', 6)) : x.skipped ? p.yellow(pad('SKIP', 6)) : p.red(pad('FAIL', 6));
      const detail = x.ok ? x.target : `${x.target}: ${x.error ?? ''}${x.hint ? ` ${p.dim(`-> ${x.hint}`)}` : ''}`;
      out.push(`${pad(label(x), wPair)}  ${res}  ${pad(x.skipped ? '-' : ms(x.elapsedMs), 8)}  ${detail}`);
    }
  }
  out.push('');
  for (const w of report.warnings) out.push(p.yellow(`warning: ${w}`));
  if (report.warnings.length > 0) out.push('');
  const okHosts = report.hosts.filter((h) => h.ok).length;
  const okPairs = report.pairs.filter((x) => x.ok).length;
  const summary = `${okHosts}/${report.hosts.length} hosts OK${report.mesh ? `, ${okPairs}/${report.pairs.length} host-to-host pairs OK` : ''}${report.skipped.length > 0 ? `, ${report.skipped.length} skipped` : ''}`;
  out.push(report.ok ? p.green(`SSH check passed: ${summary}`) : p.red(`SSH check FAILED: ${summary}`));
  return `${out.join('\n')}\n`;
}

