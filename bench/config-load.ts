/**
 * Config load and validation time against the number of servers (clusters of
 * three, the YAML format): it must grow linearly. Each size loads in a fresh
 * process (cold, as `mhats manager` starts). Target: 3,000 servers < 1 s.
 *
 *   npm run bench:config [-- --sizes 300,3000,32000]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { onInterrupt } from './interrupt.js';

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '300,3000,32000' }, child: { type: 'string' } } });

if (values.child !== undefined) {
  const { loadConfig } = await import('../src/config/load.js');
  // /proc/self/schedstat: time the main thread ran, and time it waited for a CPU (a loaded machine).
  const sched = (): number[] => {
    try {
      return readFileSync('/proc/self/schedstat', 'utf8').split(' ').map(Number);
    } catch {
      return [NaN, NaN];
    }
  };
  const s0 = sched();
  const t = performance.now();
  const c0 = process.cpuUsage();
  const cfg = await loadConfig({ conf: values.child });
  const cu = process.cpuUsage(c0);
  const s1 = sched();
  console.log(JSON.stringify({ clusters: cfg.clusters.length, servers: cfg.clusters.reduce((n, c) => n + c.servers.length, 0), wallMs: Math.round(performance.now() - t), cpuMs: Math.round((cu.user + cu.system) / 1000), waitMs: Math.round((s1[1]! - s0[1]!) / 1e6) }));
  process.exit(0);
}

function config(n: number, dir: string): string {
  const lines = [`state_dir: ${dir}`, 'defaults:', '  user: mhats', '  password: x', '  ssh_user: mhats', '  repl_user: repl', '  repl_password: x', '  ssh:', `    known_hosts: ${join(dir, 'known_hosts')}`, 'clusters:'];
  for (let c = 0; c < Math.ceil(n / 3); c++) {
    lines.push(`  app${c}:`, '    ping_interval: 1', '    servers:');
    for (let k = 0; k < 3; k++) {
      const i = c * 3 + k;
      lines.push(`      - name: app${c}-db${k + 1}`, `        hostname: 10.${Math.floor(i / 62500)}.${Math.floor(i / 250) % 250}.${(i % 250) + 1}`, '        candidate_master: true');
    }
  }
  const file = join(dir, `mhats-${n}.yaml`);
  writeFileSync(file, lines.join('\n') + '\n', { mode: 0o600 });
  return file;
}

const dir = mkdtempSync(join(tmpdir(), 'mhats-config-bench-'));
onInterrupt(() => rmSync(dir, { recursive: true, force: true }));
try {
  console.log(`load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} (2 cores)`);
  console.log('| servers (clusters) | load + validate, wall | CPU (all threads) | of the wall: waiting for a CPU |\n|---|---|---|---|');
  for (const n of values.sizes.split(',').map(Number)) {
    await new Promise((r) => setImmediate(r)); // a Ctrl-C during the last size is handled here (spawnSync blocks it)
    const file = config(n, dir);
    const r = spawnSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--child', file], { encoding: 'utf8' });
    const o = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { clusters: number; servers: number; wallMs: number; cpuMs: number; waitMs: number };
    console.log(`| ${o.servers.toLocaleString('en-US')} (${o.clusters.toLocaleString('en-US')}) | ${o.wallMs.toLocaleString('en-US')} ms | ${o.cpuMs.toLocaleString('en-US')} ms | ${o.waitMs.toLocaleString('en-US')} ms |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
