#!/usr/bin/env node
// Builds the web console into dist/console: console/src/main.tsx (Preact) and
// its CSS bundled and minified by esbuild, index.html and the icon copied.
// Everything comes from npm packages at build time; the page loads nothing
// from the network but the manager itself.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'console');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: join(root, 'console', 'src', 'main.tsx') },
  outdir: out,
  bundle: true,
  minify: true,
  sourcemap: 'linked',
  format: 'iife',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'linked',
  logLevel: 'warning',
  tsconfig: join(root, 'console', 'tsconfig.json'),
});
for (const f of ['index.html', 'favicon.svg']) copyFileSync(join(root, 'console', 'src', f), join(out, f));
const size = (f) => statSync(join(out, f)).size;
console.log(`console: dist/console/app.js ${(size('app.js') / 1024).toFixed(1)} KiB, app.css ${(size('app.css') / 1024).toFixed(1)} KiB`);
