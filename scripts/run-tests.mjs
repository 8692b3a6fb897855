#!/usr/bin/env node
// Runs node's own test runner over every *.test.ts below the given folders.
// Node 20 has no glob expansion for --test and no TypeScript stripping, so we
// list the files ourselves and load them through tsx.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const dirs = [];
const extra = [];
for (const a of process.argv.slice(2)) (a.startsWith('--') ? extra : dirs).push(a);
const files = [];
for (const d of dirs) {
  if (statSync(d).isFile()) { files.push(d); continue; }
  for (const f of readdirSync(d, { recursive: true })) {
    const p = join(d, String(f));
    if (p.endsWith('.test.ts')) files.push(p);
  }
}
files.sort();
if (files.length === 0) {
  console.error(`no test files under ${dirs.join(', ')}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...extra, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
