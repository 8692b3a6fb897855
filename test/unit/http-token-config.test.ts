/** http.token_file: read at load, relative to the config file, checked (length, one line), permissions warned about; never printed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../src/errors/errors.js';
import { loadConfig, readHttpToken } from '../../src/config/load.js';
import { configToJson, describeConfig } from '../../src/config/describe.js';
import { tempDir } from '../helpers/tmp.js';

const TOKEN = '0123456789abcdef0123456789abcdef';
const SERVERS = `    servers:
      - hostname: 127.0.0.11
      - hostname: 127.0.0.12
`;

function setup(conf: string, token?: { name: string; text: string; mode?: number }): string {
  const dir = tempDir('mhats-token-');
  writeFileSync(join(dir, 'mhats.yaml'), conf, { mode: 0o600 });
  if (token) {
    writeFileSync(join(dir, token.name), token.text);
    chmodSync(join(dir, token.name), token.mode ?? 0o600);
  }
  return dir;
}

test('http.token_file: read relative to the config file; shown by path, never by value', async () => {
  const dir = setup(`http:\n  listen: 127.0.0.1:0\n  token_file: api.token\nclusters:\n  app1:\n${SERVERS}`, { name: 'api.token', text: `${TOKEN}\n` });
  const cfg = await loadConfig({ conf: 'mhats.yaml', cwd: dir, env: {}, osUser: 'tester' });
  assert.equal(cfg.http_token?.file, join(dir, 'api.token'));
  assert.equal(cfg.http_token?.token.reveal(), TOKEN);
  assert.deepEqual(cfg.warnings, []);
  const text = describeConfig(cfg) + JSON.stringify(configToJson(cfg)) + JSON.stringify(cfg);
  assert.ok(!text.includes(TOKEN));
  assert.match(describeConfig(cfg), /^http write API: on \(bearer token from .*api\.token\)$/m);
});

test('without http.token_file writes are off', async () => {
  const cfg = await loadConfig({ conf: 'mhats.yaml', cwd: setup(`clusters:\n  app1:\n${SERVERS}`), env: {}, osUser: 'tester' });
  assert.equal(cfg.http_token, undefined);
  assert.match(describeConfig(cfg), /^http write API: off/m);
});

test('a missing, empty, short or multi-word token file is a config error naming file and line; a readable one a warning', async () => {
  const err = async (token: { name: string; text: string } | undefined): Promise<string> => {
    const dir = setup(`http:\n  token_file: api.token\nclusters:\n  app1:\n${SERVERS}`, token);
    try {
      await loadConfig({ conf: 'mhats.yaml', cwd: dir, env: {}, osUser: 'tester' });
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      return e.message + String(e.line);
    }
    return assert.fail('expected a ConfigError');
  };
  assert.match(await err(undefined), /^mhats\.yaml:2: http\.token_file .*api\.token: cannot read the token file \(.*\); create it with: .*openssl rand -hex 32.*2$/s);
  assert.match(await err({ name: 'api.token', text: '\n' }), /the token file is empty/);
  assert.match(await err({ name: 'api.token', text: 'short-token' }), /too short \(11 characters, at least 16\)/);
  assert.match(await err({ name: 'api.token', text: `${TOKEN} ${TOKEN}` }), /one line of visible ASCII/);
  for (const m of [await err({ name: 'api.token', text: 'short-token' }), await err({ name: 'api.token', text: `${TOKEN} ${TOKEN}` })]) assert.ok(!m.includes('short-token') && !m.includes(TOKEN));
  const dir = setup(`http:\n  token_file: api.token\nclusters:\n  app1:\n${SERVERS}`, { name: 'api.token', text: TOKEN, mode: 0o644 });
  const cfg = await loadConfig({ conf: 'mhats.yaml', cwd: dir, env: {}, osUser: 'tester' });
  assert.match(cfg.warnings.join('\n'), /token file is readable by group\/others \(mode 0644\); run: chmod 600/);
  assert.equal(readHttpToken(join(dir, 'nope')).ok, false);
});

test('http: a typo is an error with a suggestion', async () => {
  const dir = setup(`http:\n  tokenfile: api.token\nclusters:\n  app1:\n${SERVERS}`);
  await assert.rejects(loadConfig({ conf: 'mhats.yaml', cwd: dir, env: {}, osUser: 'tester' }), /unknown key "tokenfile" in http.*token_file/);
});

test('listening off loopback: a warning without a token file, a note with one; nothing on loopback', async () => {
  const { exposureNotice, isLoopback } = await import('../../src/app/manager.js');
  for (const h of ['127.0.0.1', '127.0.110.5', '::1', 'localhost']) assert.equal(isLoopback(h), true, h);
  for (const h of ['0.0.0.0', '::', '10.0.0.5', 'db.example', '128.0.0.1']) assert.equal(isLoopback(h), false, h);
  assert.equal(exposureNotice({ host: '127.0.0.1', port: 9187 }, false), undefined);
  const w = exposureNotice({ host: '0.0.0.0', port: 9187 }, false);
  assert.equal(w?.level, 'warn');
  assert.match(w?.message ?? '', /0\.0\.0\.0:9187, not a loopback address, without http\.token_file: anyone who reaches it can read the topology/);
  assert.equal(exposureNotice({ host: '::', port: 9187 }, true)?.level, 'info');
  assert.match(exposureNotice({ host: '::', port: 9187 }, true)?.message ?? '', /\[::\]:9187/);
});
