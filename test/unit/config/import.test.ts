import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mhaToYaml } from '../../../src/config/import.js';
import { loadConfig } from '../../../src/config/load.js';
import type { LoadedConfig } from '../../../src/config/types.js';
import { tempDir } from '../../helpers/tmp.js';

const FIX = 'test/fixtures/config';

/** Comparable form: secrets revealed, inline sources without their file. */
function comparable(cfg: LoadedConfig): unknown {
  return cfg.clusters.map((c) => ({
    ...c,
    servers: c.servers.map((s) => ({
      ...s,
      password: s.password.reveal(),
      repl_password: s.repl_password?.reveal(),
      passwordSource: s.passwordSource.kind === 'inline' ? 'inline' : s.passwordSource,
      repl_passwordSource: s.repl_passwordSource?.kind === 'inline' ? 'inline' : s.repl_passwordSource,
    })),
  }));
}

async function roundTrip(conf: string, globalConf: string | undefined, env: NodeJS.ProcessEnv = {}): Promise<{ yaml: string; warnings: string[] }> {
  const direct = await loadConfig({ conf, globalConf, env, osUser: 'me' });
  const res = mhaToYaml(direct, { source: conf });
  const dir = tempDir('mhats-import-');
  const out = join(dir, 'mhats.yaml');
  writeFileSync(out, res.text, { mode: 0o600 });
  const viaYaml = await loadConfig({ conf: out, env, osUser: 'me' });
  assert.equal(viaYaml.format, 'yaml');
  assert.deepEqual(comparable(viaYaml), comparable(direct));
  assert.equal(viaYaml.state_dir, direct.state_dir);
  return { yaml: res.text, warnings: res.warnings };
}

test('import-mha round trip: app1.cnf + global file', async () => {
  const { yaml, warnings } = await roundTrip(join(FIX, 'app1.cnf'), join(FIX, 'masterha_default.cnf'));
  // MHA's detection defaults differ from the native ones, so they are written out.
  assert.match(yaml, /ping_type: SELECT/);
  assert.match(yaml, /ping_failures: 4/);
  // Defaults are left out.
  assert.doesNotMatch(yaml, /use_gtid_auto_pos|handle_raw_binlog|master_binlog_dir|check_repl_delay/);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0] ?? '', /password is written inline; better keep it in a file: password: \{ file: /);
});

test('import-mha round trip: per-server differences, secrets from env/file, ssh extensions', async () => {
  const dir = tempDir('mhats-import-src-');
  writeFileSync(join(dir, 'repl.pw'), 'r\n');
  chmodSync(join(dir, 'repl.pw'), 0o600);
  const cnf = join(dir, 'app2.cnf');
  writeFileSync(
    cnf,
    [
      '[server default]',
      'password_env=APP_PW',
      'repl_password_file=repl.pw',
      'ping_interval=1',
      'ping_type=CONNECT',
      'ssh_connection_timeout=9',
      'ssh_known_hosts=/kh',
      'master_binlog_dir=/data/binlog',
      'use_gtid_auto_pos=0',
      '[server1]',
      'hostname=h1',
      'ip=10.0.0.1',
      'candidate_master=1',
      'ssh_host_key_fingerprint=SHA256:x',
      'node_label=east',
      '[server2]',
      'hostname=h2',
      'ssh_host=h2-admin',
      'port=3307',
      'user=other',
      'ignore_fail=1',
      '',
    ].join('\n'),
  );
  chmodSync(cnf, 0o600);
  const { yaml, warnings } = await roundTrip(cnf, undefined, { APP_PW: 'p' });
  assert.deepEqual(warnings, []);
  assert.match(yaml, /password: \{ env: APP_PW \}/);
  assert.match(yaml, /repl_password: \{ file: .*repl\.pw \}/);
  assert.doesNotMatch(yaml, /ping_interval|ping_type/);
});
