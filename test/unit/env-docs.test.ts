/**
 * Every MHATS_* environment variable that mhats reads (src/) is documented in docs/config.md, and the
 * top-level --help names the ones an operator sets most. Reads are found as text (`env.MHATS_X` not
 * followed by an assignment), so a new `process.env.MHATS_X` without documentation fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildProgram } from '../../src/cli/main.js';

const READ = /env\.(MHATS_\w+)\b(?!\s*=[^=])/g;

function envReads(text: string): string[] {
  return [...text.matchAll(READ)].map((m) => m[1]!);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

test('the scan finds reads and skips assignments', () => {
  assert.deepEqual(envReads("const a = process.env.MHATS_A ?? 'x'; if (env.MHATS_B !== undefined) env.MHATS_C = '1'; env.MHATS_D === '1'"), ['MHATS_A', 'MHATS_B', 'MHATS_D']);
});

test('every MHATS_* variable read in src/ is documented in docs/config.md', () => {
  const read = new Set(sourceFiles('src').flatMap((f) => envReads(readFileSync(f, 'utf8'))));
  for (const known of ['MHATS_CONFIG', 'MHATS_STATE_DIR', 'MHATS_HTTP_LISTEN', 'MHATS_PING_CLIENT', 'MHATS_HEAP_GROWING_PERCENT']) assert.ok(read.has(known), `the scan no longer finds ${known} (renamed?)`);
  const docs = readFileSync('docs/config.md', 'utf8');
  const section = docs.slice(docs.indexOf('## Environment variables'));
  assert.ok(section.length < docs.length, 'docs/config.md has an "Environment variables" section');
  const missing = [...read].filter((v) => !docs.includes(`\`${v}`)).sort();
  assert.deepEqual(missing, [], `not in docs/config.md: ${missing.join(', ')}`);
});

test('mhats --help names the common environment variables and points to the rest', () => {
  let text = '';
  const p = buildProgram();
  p.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  p.outputHelp();
  for (const v of ['MHATS_CONFIG', 'MHATS_STATE_DIR', 'MHATS_LOG_LEVEL', 'MHATS_DEBUG', 'NO_COLOR', 'docs/config.md']) assert.ok(text.includes(v), `--help does not mention ${v}`);
});
