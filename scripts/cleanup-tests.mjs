#!/usr/bin/env node
// Safety net after the test suite: stops whatever the tests left running
// under the test root, by recorded PID only, then removes the root.
//  - every sandbox.json: `mhats sandbox down` on its folder;
//  - every test-pids.json: [{ "pid": 123, "match": "text in its cmdline" }],
//    killed only while /proc/PID/cmdline still contains "match".
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = process.argv[2];
if (!root || !existsSync(root)) process.exit(0);
const files = readdirSync(root, { recursive: true }).map((f) => join(root, String(f)));
for (const f of files.filter((f) => f.endsWith('/sandbox.json'))) {
  const r = spawnSync(process.execPath, ['dist/cli/bin.js', 'sandbox', 'down', '--dir', dirname(f)], { stdio: 'inherit', timeout: 60_000 });
  if (r.status !== 0) console.error(`cleanup: sandbox down failed for ${dirname(f)}`);
}
for (const f of files.filter((f) => f.endsWith('/test-pids.json'))) {
  let entries = [];
  try { entries = JSON.parse(readFileSync(f, 'utf8')); } catch { continue; }
  for (const { pid, match } of entries) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (match && cmd.includes(match)) { process.kill(pid, 'SIGKILL'); console.error(`cleanup: killed leftover pid ${pid}`); }
    } catch { /* gone */ }
  }
}
// Network namespaces and links the hook tests create are all named mhats-t-*.
const ip = (args) => spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
for (const line of (ip(['netns', 'list']).stdout ?? '').split('\n')) {
  const name = line.split(' ')[0];
  if (name?.startsWith('mhats-t-')) {
    ip(['netns', 'del', name]);
    rmSync(`/etc/netns/${name}`, { recursive: true, force: true });
    console.error(`cleanup: removed leftover namespace ${name}`);
  }
}
for (const line of (ip(['-o', 'link', 'show']).stdout ?? '').split('\n')) {
  const name = /^\d+: ([^:@]+)/.exec(line)?.[1];
  if (name?.startsWith('mhats-t-')) {
    ip(['link', 'del', name]);
    console.error(`cleanup: removed leftover link ${name}`);
  }
}
rmSync(root, { recursive: true, force: true });
