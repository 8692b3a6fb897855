/**
 * Runs the hooks of one phase, in their configured order, and applies each
 * one's failure policy:
 *   continue  a failure is reported and the next hook runs;
 *   abort     a failure stops the phase, and the failover, only before
 *             promotion (stop, start, online_change_*); later it is reported;
 *   mha       MHA's exit codes: 0 ok, 10 failed but continue, else abort.
 * Every hook runs in its own process group with its own deadline (the group
 * is killed at it), gets MHATS_* variables and a JSON context document
 * (MHATS_CONTEXT_FILE; also on stdin for command hooks).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ABORTABLE_PHASES, hooksInPhase, policyFor, type CommandHook, type HookPhase, type HookPolicy, type HookSpec, type MhaScriptHook } from '../../config/hooks.js';
import type { SshSettings } from '../../config/types.js';
import { contextDocument, contextEnv, mhaCommand, type HookEvent } from './context.js';
import { ipFailoverStartArgs, ipFailoverStopArgs, onlineChangeArgs, reportArgs, shutdownArgs } from './mha-args.js';
import { runHosts, describeHosts } from './hosts.js';
import { runVip, describeVip } from './vip.js';
import { runHaproxy, describeHaproxy } from './haproxy.js';
import { runProcess, runScript, type ScriptResult } from './run-script.js';
import { passwordOptionsFor, passwordWarningOnce } from './password-args.js';
import { failure } from './openssh.js';
import type { BuiltinResult, HookRecord, HookVerdictKind, PhaseOutcome } from './types.js';
import type { SshPool } from '../ssh/session.js';

export interface RunnerDeps {
  /** Runs MHA scripts (injectable; default runScript). */
  runScript?: typeof runScript | undefined;
  /** Called after each hook (logging, journal). */
  onRecord?: ((r: HookRecord) => void) | undefined;
  signal?: AbortSignal | undefined;
  /** Persistent SSH sessions (the manager's, or the switchover's, opened ahead of need): the built-in vip hook runs on them. */
  sshPool?: SshPool | undefined;
}

/** The verdict of a finished hook under its policy, in its phase. */
export function verdictOf(policy: HookPolicy, phase: HookPhase, ok: boolean, exitCode: number | null | undefined, timedOut: boolean): HookVerdictKind {
  if (ok) return 'ok';
  let v: HookVerdictKind;
  if (policy === 'continue') v = 'continue';
  else if (policy === 'abort') v = 'abort';
  else v = !timedOut && exitCode === 10 ? 'continue' : 'abort';
  // After promotion nothing can be undone by stopping: report and go on.
  if (v === 'abort' && !ABORTABLE_PHASES.has(phase)) v = 'continue';
  return v;
}

/** MHA's arguments for an mha-script hook in this event (without passwords: see mhaPasswordArgs). */
export function mhaScriptArgs(h: MhaScriptHook, ev: HookEvent): string[] | undefined {
  const om = ev.origMaster;
  const nm = ev.newMaster;
  const reachable = ev.origSshReachable ?? true;
  const so = ev.cluster.ssh.options;
  switch (h.script) {
    case 'master_ip_failover':
      if (ev.phase === 'stop') return ipFailoverStopArgs(om, reachable, so);
      if (ev.phase === 'start' && nm) return ipFailoverStartArgs(om, nm, so);
      return undefined;
    case 'shutdown':
      return ev.phase === 'stop' ? shutdownArgs(om, reachable, so) : undefined;
    case 'report':
      return ev.phase === 'report' ? reportArgs(om, nm, (ev.newSlaves ?? []).map((s) => s.hostname), ev.cluster.source_file, ev.subject ?? '', ev.body ?? '') : undefined;
    case 'master_ip_online_change':
      if ((ev.phase === 'online_change_stop' || ev.phase === 'online_change_start') && nm) return onlineChangeArgs(ev.phase === 'online_change_stop' ? 'stop' : 'start', om, nm, ev.origMasterIsNewSlave ?? false, so);
      return undefined;
  }
}

/** The password options MHA passes to this script in this event (master_ip_failover start; online change). */
export function mhaPasswordOptions(h: MhaScriptHook, ev: HookEvent): { option: string; value: () => string }[] {
  const nm = ev.newMaster;
  if (!nm) return [];
  if (h.script === 'master_ip_failover' && ev.phase === 'start') return [{ option: 'new_master_password', value: () => nm.password.reveal() }];
  if (h.script === 'master_ip_online_change' && (ev.phase === 'online_change_stop' || ev.phase === 'online_change_start')) {
    const om = ev.origMaster;
    return [
      { option: 'orig_master_password', value: () => om.password.reveal() },
      { option: 'new_master_password', value: () => nm.password.reveal() },
    ];
  }
  return [];
}

/**
 * The password arguments (hook_password_args) for this script and event: what
 * is passed (argv) and what is shown (xxx, as MHA logs them), plus a warning
 * the first time a script gets one.
 */
export function mhaPasswordArgs(h: MhaScriptHook, ev: HookEvent): { argv: string[]; shown: string[]; warning?: string | undefined } {
  const all = mhaPasswordOptions(h, ev);
  if (all.length === 0) return { argv: [], shown: [] };
  const policy = ev.cluster.hook_password_args ?? 'auto';
  const chosen = new Set(passwordOptionsFor(policy, h.command, all.map((o) => o.option)));
  const pass = all.filter((o) => chosen.has(o.option));
  return {
    argv: pass.map((o) => `--${o.option}=${o.value()}`),
    shown: pass.map((o) => `--${o.option}=xxx`),
    warning: passwordWarningOnce(h.command, pass.map((o) => o.option), policy),
  };
}

function scriptRecord(h: MhaScriptHook | CommandHook, ev: HookEvent, r: ScriptResult, argv: string[]): HookRecord {
  const ok = !r.timedOut && r.exitCode === 0;
  const policy = policyFor(h, ev.phase);
  const verdict = verdictOf(policy, ev.phase, ok, r.exitCode, r.timedOut);
  let detail = ok ? 'exit 0' : failure(r);
  if (!ok && verdict === 'continue' && policy === 'mha' && r.exitCode === 10) detail = 'exit 10: failed, continuing (MHA)';
  return { name: h.name, type: h.type, phase: ev.phase, policy, verdict, ok, exitCode: r.exitCode, timedOut: r.timedOut, durationMs: r.durationMs, detail, argv };
}

async function runOne(h: HookSpec, ev: HookEvent, ssh: SshSettings, dir: string, deps: RunnerDeps): Promise<HookRecord> {
  const doc = contextDocument(ev, h.name);
  const file = join(dir, `${h.name}.json`);
  await writeFile(file, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
  const env = { ...contextEnv(ev, h.name), MHATS_CONTEXT_FILE: file };
  const t0 = performance.now();
  if (h.type === 'mha-script') {
    const args = mhaScriptArgs(h, ev) ?? [];
    const pw = mhaPasswordArgs(h, ev);
    const r = await (deps.runScript ?? runScript)({ command: h.command, args: [...args, ...pw.argv], env, timeoutMs: h.timeout * 1000 });
    const rec = scriptRecord(h, ev, r, [h.command, ...args, ...pw.shown]);
    return pw.warning ? { ...rec, warnings: [pw.warning] } : rec;
  }
  if (h.type === 'command') {
    const [bin = 'false', ...args] = h.command;
    const r = await runProcess({ file: bin, args, env, timeoutMs: h.timeout * 1000, stdin: `${JSON.stringify(doc)}\n`, signal: deps.signal });
    return scriptRecord(h, ev, r, h.command);
  }
  // Built-ins: the whole hook is bounded by its timeout (each step inside too).
  let res: BuiltinResult;
  let timedOut = false;
  const ac = new AbortController();
  const onAbort = (): void => ac.abort();
  deps.signal?.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  try {
    const opts = { ssh, signal: ac.signal };
    const work = h.type === 'hosts' ? runHosts(h, ev, opts) : h.type === 'vip' ? runVip(h, ev, { ...opts, pool: deps.sshPool }) : runHaproxy(h, ev, opts);
    res = await Promise.race([
      work,
      new Promise<BuiltinResult>((resolve) => {
        timer = setTimeout(() => {
          timedOut = true;
          ac.abort();
          resolve({ ok: false, detail: `timed out after ${h.timeout} s (its processes killed)` });
        }, h.timeout * 1000 + 500);
      }),
    ]);
  } catch (err) {
    res = { ok: false, detail: (err as Error).message };
  } finally {
    clearTimeout(timer);
    deps.signal?.removeEventListener('abort', onAbort);
  }
  return { name: h.name, type: h.type, phase: ev.phase, policy: policyFor(h, ev.phase), verdict: verdictOf(policyFor(h, ev.phase), ev.phase, res.ok, undefined, timedOut), ok: res.ok, timedOut, durationMs: Math.round(performance.now() - t0), detail: res.detail, hosts: res.hosts };
}

/**
 * Runs the hooks of `ev.phase` in order. Stops at the first hook whose verdict
 * is abort. An MHA shutdown_script's exit code updates origSshReachable for
 * the hooks after it and for the caller (0: powered off, 10: still reachable).
 */
export async function runHookPhase(all: readonly HookSpec[], ev: HookEvent, ssh: SshSettings, deps: RunnerDeps = {}): Promise<PhaseOutcome> {
  const hooks = hooksInPhase(all, ev.phase);
  const out: PhaseOutcome = { phase: ev.phase, records: [] };
  if (hooks.length === 0) return out;
  const dir = await mkdtemp(join(tmpdir(), 'mhats-hook-'));
  let cur = ev;
  try {
    for (const h of hooks) {
      let rec: HookRecord;
      try {
        rec = await runOne(h, cur, ssh, dir, deps);
      } catch (err) {
        const verdict = verdictOf(policyFor(h, ev.phase), ev.phase, false, undefined, false);
        rec = { name: h.name, type: h.type, phase: ev.phase, policy: policyFor(h, ev.phase), verdict, ok: false, timedOut: false, durationMs: 0, detail: (err as Error).message };
      }
      out.records.push(rec);
      deps.onRecord?.(rec);
      if (h.type === 'mha-script' && h.script === 'shutdown' && ev.phase === 'stop') {
        if (rec.exitCode === 0) out.sshReachable = false;
        else if (rec.exitCode === 10) out.sshReachable = true;
        if (out.sshReachable !== undefined) cur = { ...cur, origSshReachable: out.sshReachable };
      }
      if (rec.verdict === 'abort') {
        out.aborted = rec;
        break;
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}

/** One line per hook record, for logs and reports. */
export function describeRecord(r: HookRecord): string {
  const v = r.verdict === 'ok' ? 'ok' : r.verdict === 'continue' ? 'FAILED, continuing' : 'FAILED, aborting';
  return `hook ${r.name} (${r.type}, ${r.phase}, on_failure=${r.policy}): ${v} in ${r.durationMs} ms: ${r.detail}${r.hosts ? ` [${r.hosts.map((h) => `${h.host}: ${h.ok ? 'ok' : h.detail}`).join('; ')}]` : ''}${r.warnings ? ` (warning: ${r.warnings.join('; ')})` : ''}`;
}

/** The password arguments as --dry-run shows them (xxx), without the once-per-script warning. */
function mhaPasswordShown(h: MhaScriptHook, ev: HookEvent): string[] {
  const all = mhaPasswordOptions(h, ev).map((o) => o.option);
  return passwordOptionsFor(ev.cluster.hook_password_args ?? 'auto', h.command, all).map((o) => `--${o}=xxx`);
}

/** What `--dry-run` prints for one phase: each hook and what it would do. */
export function describePhase(all: readonly HookSpec[], ev: HookEvent, ssh: SshSettings): string[] {
  const out: string[] = [];
  for (const h of hooksInPhase(all, ev.phase)) {
    const head = `${h.name} (${h.type}; timeout ${h.timeout} s; on_failure ${policyFor(h, ev.phase)})`;
    let lines: string[];
    if (h.type === 'mha-script') {
      const args = [...(mhaScriptArgs(h, ev) ?? []), ...mhaPasswordShown(h, ev)];
      lines = [`/bin/sh -c '${h.command} "$@"' ${args.map((a) => JSON.stringify(a)).join(' ')}   (MHA --command=${mhaCommand(ev)})`];
    } else if (h.type === 'command') lines = [`${h.command.map((a) => JSON.stringify(a)).join(' ')}   (context JSON on stdin and in MHATS_CONTEXT_FILE)`];
    else if (h.type === 'hosts') lines = describeHosts(h, ev, ssh);
    else if (h.type === 'vip') lines = describeVip(h, ev);
    else lines = describeHaproxy(h, ev);
    out.push(head, ...lines.map((l) => `    ${l}`));
  }
  return out;
}

/** A deadline for a whole phase of hooks: each one's timeout plus the kill grace. */
export function phaseBudgetMs(all: readonly HookSpec[], phase: HookPhase): number {
  return hooksInPhase(all, phase).reduce((ms, h) => ms + h.timeout * 1000 + 3000, 0);
}
