/**
 * Phase 3.2, Saving Dead Master's Binlog: when the plan says so, the dead
 * master's binlog after the most advanced survivor's position is read over SSH
 * and cut after its last complete transaction; the report's expected loss is
 * kept exact whatever happens (saved, nothing to save, or not readable).
 */
import type { ServerConfig } from '../config/types.js';
import { formatCoord } from '../domain/binlog-coord.js';
import type { FailoverPlan } from '../domain/failover/plan.js';
import { salvageBinlog, type Cutter, type SalvageResult } from './ops/salvage.js';
import type { FailoverRun } from './failover-run.js';

/** The saved transactions (undefined: none planned, or the binlog could not be read: the loss is in the report). */
export async function saveDeadMasterBinlog(run: FailoverRun, dead: ServerConfig, sp: FailoverPlan, cut: Cutter | undefined, signal: AbortSignal): Promise<Extract<SalvageResult, { ok: true }> | undefined> {
  const { report } = run;
  report.lost = sp.expectedLoss.ifSalvageFails ?? sp.expectedLoss.text;
  if (!sp.salvage.planned || cut === undefined || sp.latest.coord === undefined) {
    run.event(`no binlog salvage: ${sp.salvage.reason}. Lost: ${report.lost}`);
    if (!/^none/.test(report.lost)) run.log.error({ lost: report.lost }, `LOST TRANSACTIONS: ${report.lost}`);
    return undefined;
  }
  const from = sp.latest.coord;
  const r = await salvageBinlog(run.cluster, dead, from, cut, { timeoutMs: 30_000, signal, pool: run.deps.sshPool });
  if (!r.ok) {
    run.log.error({ reason: r.reason }, `could not save ${dead.name}'s binlog: ${r.reason}`);
    run.event(`binlog salvage failed: ${r.reason}`);
    // What the plan knew without the binlog (the dead master's position at its last health check) still stands.
    const known = sp.expectedLoss.ifSalvageFails;
    report.lost = known !== undefined && !/^none/.test(known)
      ? `${known}; ${dead.name}'s binlog after ${formatCoord(from)} could not be read (${r.reason})`
      : `unknown: ${dead.name}'s binlog after ${formatCoord(from)} could not be read (${r.reason})`;
    run.log.error({ lost: report.lost }, `LOST TRANSACTIONS: ${report.lost}`);
    return undefined;
  }
  if (r.transactions === 0) report.lost = `none: every committed transaction in ${dead.name}'s binlog had reached a replica`;
  run.event(
    r.transactions === 0
      ? `${dead.name}'s binlog has nothing after ${formatCoord(from)}: every committed transaction reached a replica`
      : `saved ${r.transactions} transaction(s) from ${dead.name}'s binlog after ${formatCoord(from)} (${r.files.join(', ')})${r.partial ? '; an incomplete transaction at the end (a crash mid-write, never committed) is left out' : ''}`,
    { gtids: r.gtids },
  );
  return r;
}
