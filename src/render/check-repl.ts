/**
 * The check-repl report: per cluster, one line per host with its role and
 * verdict, then every finding with what to do. Pure.
 */
import type { Finding, TopologyAnalysis } from '../domain/topology.js';
import type { ServerSpec } from '../domain/topology.js';
import type { Painter } from './colors.js';

export interface ClusterReport {
  cluster: string;
  specs: ServerSpec[];
  analysis: TopologyAnalysis;
}

function roleOf(name: string, a: TopologyAnalysis): string {
  if (name === a.master) return 'master';
  if (a.replicas.some((r) => r.name === name)) return 'replica';
  return '?';
}

function modeLabel(a: TopologyAnalysis): string {
  switch (a.mode) {
    case 'gtid':
      return 'GTID';
    case 'position':
      return 'binlog positions';
    case 'mixed':
      return 'mixed GTID/positions';
    case 'unknown':
      return 'no replicas';
  }
}

export function renderCheckRepl(reports: ClusterReport[], p: Painter): string {
  const out: string[] = [];
  for (const { cluster, specs, analysis: a } of reports) {
    const masterSpec = specs.find((s) => s.name === a.master);
    out.push(
      p.bold(`Cluster ${cluster}: `) +
        (a.master ? `master ${a.master} (${masterSpec?.ip ?? '?'}:${masterSpec?.port ?? '?'})` : p.red('no master')) +
        `, ${a.replicas.length} replica(s), ${modeLabel(a)}`,
    );
    const width = Math.max(...specs.map((s) => s.name.length));
    for (const s of specs) {
      const mine = a.findings.filter((f) => f.server === s.name);
      const worst = mine.some((f) => f.severity === 'error') ? p.red('NOT OK') : mine.some((f) => f.severity === 'warning') ? p.yellow('WARN') : p.green('OK');
      const unreachable = a.unreachable.some((u) => u.name === s.name);
      out.push(`  ${s.name.padEnd(width)}  ${`${s.ip}:${s.port}`.padEnd(21)}  ${(unreachable ? 'down' : roleOf(s.name, a)).padEnd(7)}  ${worst}`);
    }
    const ordered = [...a.findings].sort((x, y) => rank(x) - rank(y));
    for (const f of ordered) {
      if (f.severity === 'info') continue;
      const tag = f.severity === 'error' ? p.red('ERROR') : p.yellow('WARN ');
      out.push(`  ${tag} ${f.server ?? cluster}: ${f.message}`);
      if (f.hint) out.push(`        ${p.dim(`→ ${f.hint}`)}`);
    }
    for (const f of ordered.filter((x) => x.severity === 'info')) out.push(`  ${p.cyan('info ')} ${f.server ?? cluster}: ${f.message}`);
    // MHA's closing sentence, so existing wrappers that grep for it keep working.
    out.push(a.healthy ? p.green('MySQL Replication Health is OK.') : p.red('MySQL Replication Health is NOT OK!'));
    out.push('');
  }
  return out.join('\n');
}

function rank(f: Finding): number {
  return f.severity === 'error' ? 0 : f.severity === 'warning' ? 1 : 2;
}
