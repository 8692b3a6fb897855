import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mhaCnf, mhatsYaml } from '../../src/sandbox/configs.js';
import { poweroffScript } from '../../src/sandbox/poweroff.js';
import type { SandboxInfo } from '../../src/sandbox/types.js';

function info(over: Partial<SandboxInfo> = {}): SandboxInfo {
  const servers = [11, 12].map((n, i) => ({ name: `db${i + 1}`, address: `127.0.0.${n}`, port: 3306, datadir: `/sb/db${i + 1}/data`, cnf: `/sb/db${i + 1}/my.cnf` }));
  return { dir: '/sb', clusterName: 'sandbox', servers, adminUser: 'mhats', adminPasswordFile: '/sb/mhats.password', replUser: 'repl', replPasswordFile: '/sb/repl.password', ...over } as unknown as SandboxInfo;
}

test('sandbox configs: power fencing names the shutdown_script in mhats.yaml and app1.cnf; without it, neither does', () => {
  const on = info({ shutdownScript: '/sb/poweroff.sh' });
  assert.match(mhatsYaml(on), /^ {4}shutdown_script: \/sb\/poweroff\.sh$/m);
  assert.match(mhaCnf(on, 'a', 'r'), /^shutdown_script=\/sb\/poweroff\.sh$/m);
  assert.doesNotMatch(mhatsYaml(info()), /shutdown_script/);
  assert.doesNotMatch(mhaCnf(info(), 'a', 'r'), /shutdown_script/);
});

test('sandbox power-off script: MHA shutdown_script arguments and exit codes (status 0; stopssh 10, mysqld gone; stop 0, powered off; unknown host 1)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mhats-poweroff-'));
  try {
    const script = join(dir, 'poweroff.sh');
    writeFileSync(script, poweroffScript(info()), { mode: 0o755 });
    const args = (ip: string): string[] => ['--command=stopssh', '--ssh_user=root', `--host=${ip}`, `--ip=${ip}`, '--port=3306'];
    const unknown = spawnSync(script, args('10.9.9.9'), { encoding: 'utf8' });
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /no sandbox host 10\.9\.9\.9/);
    // No process of that my.cnf runs here: nothing to kill, so mysqld counts as gone.
    const stopssh = spawnSync(script, args('127.0.0.12'), { encoding: 'utf8' });
    assert.equal(stopssh.status, 10, stopssh.stderr);
    assert.match(stopssh.stdout, /mysqld of 127\.0\.0\.12 killed; host up/);
    const stop = spawnSync(script, ['--command=stop', '--host=127.0.0.12', '--ip=127.0.0.12', '--port=3306'], { encoding: 'utf8' });
    assert.equal(stop.status, 0, stop.stderr);
    assert.match(stop.stdout, /powered off 127\.0\.0\.12/);
    assert.equal(spawnSync(script, ['--command=status', '--ssh_user=root', '--host=127.0.0.11', '--ip=127.0.0.11'], { encoding: 'utf8' }).status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sandbox power-off script: stopssh SIGKILLs exactly the process started with that host\'s options file, then exits 10', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mhats-poweroff-'));
  const cnf = join(dir, 'db.2', 'my.cnf');
  const base = info();
  const sb = { ...base, servers: base.servers.map((s) => (s.name === 'db2' ? { ...s, cnf } : s)) };
  // A stand-in for mariadbd: its command line holds --defaults-file=CNF as one argument; a neighbour's differs by one character.
  const victim = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', '--', `--defaults-file=${cnf}`], { stdio: 'ignore' });
  const neighbour = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', '--', `--defaults-file=${cnf.replace('db.2', 'dbx2')}`], { stdio: 'ignore' });
  const gone = new Promise<NodeJS.Signals | null>((r) => victim.once('exit', (_c, sig) => r(sig)));
  try {
    await new Promise((r) => setTimeout(r, 300));
    const script = join(dir, 'poweroff.sh');
    writeFileSync(script, poweroffScript(sb), { mode: 0o755 });
    const r = spawnSync(script, ['--command=stopssh', '--ssh_user=root', '--host=127.0.0.12', '--ip=127.0.0.12', '--port=3306'], { encoding: 'utf8' });
    assert.equal(r.status, 10, r.stdout + r.stderr);
    assert.equal(await gone, 'SIGKILL');
    assert.equal(neighbour.exitCode, null, 'the neighbour runs on');
    assert.equal(neighbour.signalCode, null);
  } finally {
    victim.kill('SIGKILL');
    neighbour.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
