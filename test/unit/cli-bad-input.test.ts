/** The CLI as a careful user meets it: every bad input gets one clear message and its documented exit code; no stack trace, no hang. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/cli/main.js';
import { capture } from '../helpers/capture.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('mhats-bad-');
const file = (name: string, text: string | Buffer): string => {
  const p = join(dir, name);
  writeFileSync(p, text, { mode: 0o600 });
  return p;
};
const mhats = (...args: string[]) => capture(() => run(['node', 'mhats', ...args]));
const GOOD = 'clusters:\n  app1:\n    servers:\n      - { name: db1, hostname: 127.0.69.251 }\n';

async function expectConfigError(conf: string, re: RegExp): Promise<void> {
  const started = Date.now();
  const r = await mhats('config', 'check', '--conf', conf);
  assert.equal(r.value, 3, r.err);
  assert.match(r.err, re);
  assert.ok(!/\n\s+at |unexpected error|this is a bug/.test(r.err), r.err);
  assert.ok(Date.now() - started < 5000, 'no hang');
}

test('a FIFO, a device, a directory or a huge file as --conf: refused at once (exit 3)', async () => {
  const fifo = join(dir, 'fifo.yaml');
  execFileSync('mkfifo', [fifo]);
  await expectConfigError(fifo, /fifo\.yaml: cannot read config file: it is a FIFO \(named pipe\)/);
  await expectConfigError('/dev/zero', /\/dev\/zero: cannot read config file: it is a character device/);
  await expectConfigError(dir, /cannot read config file: it is a directory/);
  await expectConfigError(file('huge.yaml', Buffer.alloc(5 * 1024 * 1024, 0x20)), /huge\.yaml: cannot read config file: it is 5242880 bytes, more than 4 MiB/);
});

test('YAML: an alias bomb, deep nesting, several documents: config errors at file:line', async () => {
  const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...'bcdefg'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefg'[i]}`).join(',')}]`), 'clusters: {}'].join('\n');
  await expectConfigError(file('bomb.yaml', bomb), /bomb\.yaml:2: YAML aliases expand too much/);
  await expectConfigError(file('deep.yaml', `x: ${'['.repeat(5000)}${']'.repeat(5000)}\n`), /deep\.yaml:1: the document is nested too deeply/);
  await expectConfigError(file('deep2.yaml', `x: ${'['.repeat(100)}${']'.repeat(100)}\n`), /deep2\.yaml:1: the document is nested too deeply here/);
  await expectConfigError(file('multi.yaml', `${GOOD}---\n${GOOD}`), /multi\.yaml:5: a second YAML document starts here/);
});

test('config contents: shell metacharacters in a host name, control bytes escaped, non-UTF-8 bytes', async () => {
  await expectConfigError(file('meta.yaml', 'clusters:\n  app1:\n    servers:\n      - { name: db1, hostname: "db1;reboot" }\n'), /meta\.yaml:4: hostname "db1;reboot" of server db1 is not a host name or an address/);
  await expectConfigError(file('meta.cnf', '[server1]\nhostname=db1$(reboot)\n'), /meta\.cnf:2: hostname "db1\$\(reboot\)" of server server1 is not a host name/);
  const r = await mhats('config', 'check', '--conf', file('ctrl.cnf', '[server1]\nhostname=db1\n\x1b[2Jbad\n'));
  assert.equal(r.value, 3);
  assert.ok(!r.err.includes('\x1b'), JSON.stringify(r.err));
  assert.match(r.err, /\\x1b\[2Jbad/);
  await expectConfigError(file('latin.cnf', Buffer.concat([Buffer.from('[server1]\nhostname=db1\n# caf'), Buffer.from([0xe9]), Buffer.from('\n')])), /latin\.cnf:3: the file is not valid UTF-8/);
});

test('ping_interval is bounded; state_dir that is not a directory is caught by config check', async () => {
  for (const v of ['0', '-1', '3000000', '0.0001']) {
    await expectConfigError(file(`pi${v}.cnf`, `[server default]\nping_interval=${v}\n[server1]\nhostname=db1\n`), /ping_interval must be a number of seconds/);
  }
  await expectConfigError(file('sd.yaml', `state_dir: ${file('not-a-dir', '')}\n${GOOD}`), /sd\.yaml:1: state_dir .*not-a-dir is a regular file, not a directory/);
  const ok = await mhats('config', 'check', '--conf', file('good.yaml', `state_dir: ${join(dir, 'state-new')}\n${GOOD}`));
  assert.equal(ok.value, 0, ok.err);
});

test('import-mha -o - writes to stdout, and never over its own input', async () => {
  const cnf = file('app9.cnf', '[server default]\nuser=m\n[server1]\nhostname=db1\n');
  const r = await mhats('config', 'import-mha', cnf, '-o', '-');
  assert.equal(r.value, 0, r.err);
  assert.match(r.out, /clusters:\n {2}app9:/);
  assert.ok(!existsSync(join(process.cwd(), '-')));
  const before = readFileSync(cnf, 'utf8');
  const w = await mhats('config', 'import-mha', cnf, '-o', cnf, '--force');
  assert.equal(w.value, 2, w.err);
  assert.match(w.err, /refusing to write the YAML over .*app9\.cnf, the file being converted/);
  assert.equal(readFileSync(cnf, 'utf8'), before);
});

test('hooks test --dry-run --json prints JSON', async () => {
  const script = file('mip.sh', '#!/bin/sh\nexit 0\n');
  const conf = file('hooks.cnf', `[server default]\nuser=m\npassword=p\nmaster_ip_failover_script=${script}\n[server1]\nhostname=db1\n[server2]\nhostname=db2\n`);
  const r = await mhats('hooks', 'test', '--conf', conf, '--old-master', 'db1', '--new-master', 'db2', '--dry-run', '--json');
  assert.equal(r.value, 0, r.err);
  const j = JSON.parse(r.out) as { dryRun: boolean; phases: { phase: string; lines: string[] }[] };
  assert.equal(j.dryRun, true);
  assert.deepEqual(j.phases.map((p) => p.phase), ['stop', 'start', 'report']);
  assert.match(j.phases[0]!.lines.join('\n'), /--command=stopssh/);
});
