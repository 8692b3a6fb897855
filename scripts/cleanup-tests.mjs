#!/usr/bin/env node
// Safety net after the test suite: stops whatever the tests left running
// under the test root, by recorded PID only, then removes the root.
// `--stale` (before a run): the same for every /var/tmp/mhats-test* root an
// earlier, killed run left behind, and every process still inside a
// mhats-t-* network namespace (only the tests create those).
//  - every sandbox.json: `mhats sandbox down` on its folder;
//  - every test-pids.json: [{ "pid": 123, "match": "text in its cmdline" }],
//    killed only while /proc/PID/cmdline still contains "match".
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { spawnSync } from 'node:child_process';

const stale = process.argv[2] === '--stale';
const roots = stale
  ? readdirSync('/var/tmp').filter((d) => d.startsWith('mhats-test')).map((d) => join('/var/tmp', d))
  : [process.argv[2]].filter((r) => r && existsSync(r));
const files = roots.flatMap((root) => readdirSync(root, { recursive: true }).map((f) => join(root, String(f))));
const haveCli = existsSync('dist/cli/bin.js');
for (const f of files.filter((f) => f.endsWith('/sandbox.json'))) {
  if (!haveCli) { killRecorded(f); continue; }
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
    for (const pid of (ip(['netns', 'pids', name]).stdout ?? '').split('\n').filter(Boolean)) {
      try { process.kill(Number(pid), 'SIGKILL'); console.error(`cleanup: killed pid ${pid} left in namespace ${name}`); } catch { /* gone */ }
    }
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
for (const root of roots) rmSync(root, { recursive: true, force: true });

// Without a built CLI: SIGKILL every PID a sandbox.json records whose
// command line is still a mariadbd/sshd/etcd of that sandbox's folder.
function killRecorded(file) {
  let text = '';
  try { text = readFileSync(file, 'utf8'); } catch { return; }
  const dir = dirname(file);
  for (const m of text.matchAll(/"pid"\s*:\s*(\d+)/g)) {
    const pid = Number(m[1]);
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmd.includes(dir)) { process.kill(pid, 'SIGKILL'); console.error(`cleanup: killed leftover pid ${pid} of ${dir}`); }
    } catch { /* gone */ }
  }
}
