/**
 * A delay spread around its base, so that retries scheduled together (every host that had no SSH when
 * the manager started) do not all come due in the same second again. Pure: the random source is given.
 */

/**
 * baseMs × (1 ± spread): `random` is a uniform draw in [0, 1) (Math.random in production), 0.5 gives
 * baseMs itself. spread is clamped to [0, 1]; a draw outside [0, 1) is clamped too; never negative.
 */
export function jittered(baseMs: number, spread: number, random: () => number): number {
  const s = Math.min(1, Math.max(0, spread));
  const r = Math.min(1, Math.max(0, random()));
  return Math.max(0, Math.round(baseMs * (1 + s * (2 * r - 1))));
}
