/**
 * The drill report as text: one line per run (fault → detect → writable →
 * done, writes, loss), then each run's invariants with their verdict. Pure.
 */
import type { DrillRunResult } from '../domain/drill/types.js';

export interface DrillReportView {
  cluster: string;
  fault: string;
  endpoint: string;
  results: DrillRunResult[];
  ok: boolean;
}

function secs(ms: number | undefined): string {
  return ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ').trimEnd());
}

export function renderDrill(r: DrillReportView): string {
  const out: string[] = [];
  out.push(`drill of ${r.cluster}: fault ${r.fault}, ${r.results.length} run(s); writes through ${r.endpoint}`);
  out.push('');
  const rows = [['RUN', 'FAULT', 'MASTER', 'DETECT', 'WRITABLE', 'DONE', 'WRITES', 'LOST', 'REPORTED LOST', 'VERDICT']];
  for (const x of r.results) {
    rows.push([
      String(x.run),
      x.fault,
      x.newMaster ? `${x.oldMaster} → ${x.newMaster}` : `${x.oldMaster} (${x.outcome ?? 'none'})`,
      secs(x.timings.detectMs),
      secs(x.timings.writableMs),
      secs(x.timings.doneMs),
      `${x.acked}${x.inDoubt ? ` (+${x.inDoubt} in doubt)` : ''}`,
      String(x.missing),
      shorten(x.reportedLost, 40),
      x.ok ? 'ok' : 'BROKEN',
    ]);
  }
  out.push(...table(rows));
  for (const x of r.results) {
    out.push('');
    out.push(`run ${x.run}${x.failoverId ? ` (failover ${x.failoverId})` : ''}:`);
    const w = Math.max(...x.verdicts.map((v) => v.name.length));
    for (const v of x.verdicts) out.push(`  ${v.ok ? 'ok    ' : 'BROKEN'}  ${v.name.padEnd(w)}  ${v.detail}`);
    for (const n of x.notes) out.push(`  note    ${n}`);
  }
  out.push('');
  const broken = [...new Set(r.results.flatMap((x) => x.verdicts.filter((v) => !v.ok).map((v) => v.name)))];
  out.push(r.ok ? `every invariant holds in ${r.results.length} of ${r.results.length} run(s)` : `BROKEN invariant(s): ${broken.join(', ') || 'none recorded'} (${r.results.filter((x) => !x.ok).length} of ${r.results.length} run(s))`);
  return `${out.join('\n')}\n`;
}

function shorten(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
