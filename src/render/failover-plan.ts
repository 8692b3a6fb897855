/**
 * A failover plan as text (`mhats failover --dry-run`, the confirmation of
 * `mhats failover`): who would be promoted and why, every server left out or
 * rejected, each replica's standing and steps, the salvage and the expected
 * loss. Pure.
 */
import { formatCoord } from '../domain/binlog-coord.js';
import { describeStep, type FailoverPlan } from '../domain/failover/plan.js';

export function renderPlan(p: FailoverPlan): string[] {
  const out: string[] = [];
  const when = p.basis === 'observed' ? `if ${p.deadMaster} died now` : `${p.deadMaster} is dead`;
  out.push(`Failover plan for ${p.cluster}, ${when} (${p.mode === 'gtid' ? 'GTID' : p.mode === 'position' ? 'binlog positions' : 'replication mode unknown'}${p.flavor ? `, ${p.flavor}` : ''}):`);
  if (!p.ok) {
    out.push(`  REFUSED (${p.refusal!.code}): ${p.refusal!.reason}`);
  }
  for (const e of p.excluded) out.push(`  ${e.scope === 'failover' ? 'left out' : 'not a candidate'}: ${e.server} (${e.code}): ${e.reason}${e.blocking ? '  [blocks the failover]' : ''}`);
  if (p.latest.coord) out.push(`  most advanced: ${p.latest.names.join(', ')} at ${formatCoord(p.latest.coord)}${p.latest.gtid ? ` (${p.latest.gtid})` : ''}`);
  if (p.choice) for (const r of p.choice.rejected) out.push(`  not chosen: ${r.name}: ${r.reason}`);
  const nm = p.newMaster;
  if (p.ok && nm) {
    out.push(`  new master: ${nm.name} (${p.choice?.ok ? `${p.choice.rule}: ${p.choice.reason}` : ''})`);
    if (nm.steps.length === 0) out.push(`    ${nm.name}: level with the most advanced: nothing to catch up`);
    for (const s of nm.steps) out.push(`    ${nm.name}: ${describeStep(s, nm.name)} (before it takes writes)`);
    for (const r of p.replicas) {
      const steps = r.steps.map((s) => describeStep(s, nm.name)).join(', then ');
      out.push(`    ${r.name}: ${r.standing} ${r.standing === 'equal' ? 'to' : 'of'} ${nm.name}${r.delay ? `, delayed ${r.delay} s` : ''}: ${steps}${r.deferred ? ' (after the new master is writable; never waited for)' : ''}`);
    }
  }
  out.push(`  salvage of ${p.deadMaster}'s binlog: ${p.salvage.planned ? 'yes' : 'no'}: ${p.salvage.reason}`);
  out.push(`  expected loss: ${p.expectedLoss.text}${p.expectedLoss.ifSalvageFails ? `; if the salvage fails: ${p.expectedLoss.ifSalvageFails}` : ''}`);
  for (const n of p.notes) out.push(`  note: ${n}`);
  return out;
}
