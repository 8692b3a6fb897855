/**
 * How the integration tests run the mhats CLI: the build in dist/ when it is
 * at least as new as every source file (scripts/test.sh builds right before
 * the tests: about 1.0 s a start instead of 1.7 s through tsx, and the
 * artifact users run), else the sources through tsx (a developer's edit that
 * was not built yet is never tested stale). MHATS_TEST_CLI=tsx forces tsx.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

let fresh: boolean | undefined;

/** Did a build (its stamp dist/.built, written last by `npm run build`) run after the last change of every src/**.ts? */
export function distIsFresh(root = '.'): boolean {
  if (fresh !== undefined) return fresh;
  fresh = process.env.MHATS_TEST_CLI !== 'tsx' && check(root);
  return fresh;
}

function check(root: string): boolean {
  const stamp = join(root, 'dist', '.built');
  if (!existsSync(stamp)) return false;
  const built = statSync(stamp).mtimeMs;
  const src = join(root, 'src');
  for (const f of readdirSync(src, { recursive: true })) {
    const rel = String(f);
    if (!rel.endsWith('.ts') || rel.endsWith('.d.ts')) continue;
    // tsc --incremental leaves an output alone when its source changed without changing it: the stamp tells.
    if (!existsSync(join(root, 'dist', rel.replace(/\.ts$/, '.js'))) || statSync(join(src, rel)).mtimeMs > built) return false;
  }
  return true;
}

/**
 * node's arguments that run a CLI entry point (`bin` = mhats; `mha-bin/masterha_manager` = MHA's names), and a
 * text of its command line for test-pids.json (scripts/cleanup-tests.mjs kills a leftover only while its command
 * line still contains it).
 */
export function cliArgs(entry = 'bin'): string[] {
  return distIsFresh() ? [`dist/cli/${entry}.js`] : ['--import', 'tsx', `src/cli/${entry}.ts`];
}

/** The command-line text of an entry point as started by cliArgs(). */
export function cliMatch(entry = 'bin'): string {
  return distIsFresh() ? `dist/cli/${entry}.js` : `src/cli/${entry}.ts`;
}
