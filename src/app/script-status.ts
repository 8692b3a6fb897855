/**
 * MHA's script status checks (MasterMonitor.pm check_scripts): before it
 * watches, MHA runs `master_ip_failover_script --command=status ...` and
 * `shutdown_script --command=status ...` against the current master and
 * refuses to go on when either fails. masterha_check_repl does the same, so an
 * MHA user learns of a broken script (a missing Perl module, a typo, a lost
 * execute bit) from the check, not from the failover at 3 a.m.
 *
 * mhats runs them from check-repl (and so masterha_check_repl), with MHA's
 * arguments, a deadline, and no passwords (MHA passes none here either).
 * The decision (which checks, what a result means) is pure; running them is
 * the caller's runner.
 */
import type { ClusterConfig, ServerConfig } from '../config/types.js';
import type { Finding } from '../domain/topology.js';
import { ipFailoverStatusArgs, shutdownStatusArgs } from '../adapters/hooks/mha-args.js';
import { runScript, type ScriptResult, type ScriptRun } from '../adapters/hooks/run-script.js';

/** A status check runs at most this long (MHA sets no limit; a check that hangs must not hang check-repl). */
export const SCRIPT_STATUS_TIMEOUT_MS = 30_000;

export interface ScriptStatusCheck {
  key: 'master_ip_failover_script' | 'shutdown_script';
  command: string;
  args: string[];
}

/** The status checks MHA would run for this cluster with this master, in MHA's order. */
export function scriptStatusChecks(cluster: Pick<ClusterConfig, 'master_ip_failover_script' | 'shutdown_script' | 'ssh'>, master: ServerConfig): ScriptStatusCheck[] {
  const out: ScriptStatusCheck[] = [];
  const so = cluster.ssh.options;
  if (cluster.master_ip_failover_script?.trim()) out.push({ key: 'master_ip_failover_script', command: cluster.master_ip_failover_script, args: ipFailoverStatusArgs(master, so) });
  if (cluster.shutdown_script?.trim()) out.push({ key: 'shutdown_script', command: cluster.shutdown_script, args: shutdownStatusArgs(master, so) });
  return out;
}

function tail(text: string, max = 300): string {
  const t = text.trim().split('\n').slice(-3).join(' | ');
  return t.length > max ? `…${t.slice(-max)}` : t;
}

/** What a status check's result means (MHA: exit 0 is OK, anything else fails the check). */
export function scriptStatusFinding(master: string, c: ScriptStatusCheck, r: ScriptResult): Finding {
  const what = `${c.key} --command=status (${c.command})`;
  if (!r.timedOut && r.exitCode === 0) return { severity: 'info', code: 'hook_script', server: master, message: `${what}: OK (${r.durationMs} ms)` };
  const how = r.timedOut ? `did not finish within ${Math.round(SCRIPT_STATUS_TIMEOUT_MS / 1000)} s` : r.exitCode === null ? `was killed by ${r.signal ?? 'a signal'}` : `exited ${r.exitCode}`;
  const out = tail(r.stderr) || tail(r.stdout);
  return {
    severity: 'error',
    code: 'hook_script',
    server: master,
    message: `${what} ${how}${out ? `: ${out}` : ''}`,
    hint:
      r.exitCode === 127 || /not found|No such file/i.test(r.stderr)
        ? `the script cannot be started: check the path and its execute bit in the config`
        : /Can't locate MHA\//.test(r.stderr)
          ? `the script loads MHA's Perl modules: install mha4mysql-node on this host (apt-get install mha4mysql-node)`
          : `a failover runs this script with --command=stop/stopssh/start: fix it until --command=status exits 0 (MHA's masterha_check_repl fails the same way)`,
  };
}

/** Runs the status checks (in MHA's order, one after the other) and returns one finding per check. */
export async function checkScriptStatus(cluster: ClusterConfig, master: ServerConfig, run: (r: ScriptRun) => Promise<ScriptResult> = runScript): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const c of scriptStatusChecks(cluster, master)) {
    out.push(scriptStatusFinding(master.name, c, await run({ command: c.command, args: c.args, timeoutMs: SCRIPT_STATUS_TIMEOUT_MS, killGraceMs: 1000 })));
  }
  return out;
}
