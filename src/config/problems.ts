/**
 * Configuration problems are collected (all of them, not just the first) and
 * thrown as one ConfigError: one line per problem, each "file:line: message".
 */
import { ConfigError } from '../errors/errors.js';

export interface Loc {
  file: string;
  line?: number | undefined;
}

export interface Problem extends Loc {
  message: string;
}

export function formatLoc(loc: Loc): string {
  return loc.line === undefined ? loc.file : `${loc.file}:${loc.line}`;
}

export function formatProblem(p: Problem): string {
  return `${formatLoc(p)}: ${p.message}`;
}

/** Drop exact duplicates (an inherited bad value is reported once), keep order. */
export function dedupeProblems(ps: readonly Problem[]): Problem[] {
  const seen = new Set<string>();
  const out: Problem[] = [];
  for (const p of ps) {
    const k = formatProblem(p);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(p);
  }
  return out;
}

/** One ConfigError for all problems; its message is multi-line only when there are several. */
/** Grouped by file (in order of first appearance), then by line. */
export function sortProblems(ps: readonly Problem[]): Problem[] {
  const fileOrder = new Map<string, number>();
  for (const p of ps) if (!fileOrder.has(p.file)) fileOrder.set(p.file, fileOrder.size);
  return [...ps].sort((a, b) => (fileOrder.get(a.file) ?? 0) - (fileOrder.get(b.file) ?? 0) || (a.line ?? Infinity) - (b.line ?? Infinity));
}

export function problemsError(problems: readonly Problem[], hint?: string): ConfigError {
  const ps = sortProblems(dedupeProblems(problems));
  const first = ps[0];
  if (!first) return new ConfigError('(config)', undefined, 'invalid configuration', hint);
  const rest = ps.slice(1).map(formatProblem);
  const msg = [first.message, ...rest].join('\n');
  return new ConfigError(first.file, first.line, msg, hint);
}

export function throwIfProblems(problems: readonly Problem[], hint?: string): void {
  if (problems.length > 0) throw problemsError(problems, hint);
}
