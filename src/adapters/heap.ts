/**
 * V8's heap growth for the long-running manager. The manager's heap is a small live set (about 55 MB at a
 * thousand servers) and a steady stream of short-lived objects, some of which outlive two scavenges (a check's
 * state lives a second, an inspection's ten) and die in the old generation. V8's default growing factor (up to
 * 4x the live set for a fast collector) let that garbage reach about 195 MB before the first mark-compact after
 * startup (--trace-gc, 1,000 servers), so the peak RSS depended on when collections happened to come
 * (200-316 MB in back-to-back runs). Growing by half the live set at most keeps the peak at about 193 MB for
 * about one point of a core (README, "Scale benchmark"). Set at the start of `mhats manager` (every launcher:
 * systemd, Docker, the bin), unless node was started with its own --heap-growing-percent;
 * MHATS_HEAP_GROWING_PERCENT overrides the value (0: V8's own heuristics).
 */
import { setFlagsFromString } from 'node:v8';

export const MANAGER_HEAP_GROWING_PERCENT = 50;

/** The V8 flag to set (undefined: none), or why the environment's value is refused. Pure. */
export function heapGrowingFlag(execArgv: readonly string[], env: Readonly<Record<string, string | undefined>>): { flag?: string | undefined; error?: string | undefined } {
  if (execArgv.some((a) => /^--heap[-_]growing[-_]percent(=|$)/.test(a))) return {};
  const raw = env.MHATS_HEAP_GROWING_PERCENT;
  const pct = raw === undefined || raw.trim() === '' ? MANAGER_HEAP_GROWING_PERCENT : Number(raw.trim());
  if (!Number.isInteger(pct) || pct < 0 || pct > 1000) return { error: `MHATS_HEAP_GROWING_PERCENT must be a whole number from 0 to 1000 (0: V8's default), not ${JSON.stringify(raw)}` };
  return pct === 0 ? {} : { flag: `--heap-growing-percent=${pct}` };
}

/** Applies heapGrowingFlag to this process; returns the flag set, or throws on a bad MHATS_HEAP_GROWING_PERCENT. */
export function tuneManagerHeap(execArgv: readonly string[] = process.execArgv, env: Readonly<Record<string, string | undefined>> = process.env): string | undefined {
  const r = heapGrowingFlag(execArgv, env);
  if (r.error !== undefined) throw new Error(r.error);
  if (r.flag !== undefined) setFlagsFromString(r.flag);
  return r.flag;
}
