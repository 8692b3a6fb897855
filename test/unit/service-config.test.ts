/** Config additions of the service: http.listen and per-cluster schedules (YAML only), with file:line errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/load.js';
import { parseListen, checkCron } from '../../src/config/yaml.js';
import { describeConfig } from '../../src/config/describe.js';
import { configDir, configError } from '../helpers/config.js';

const write = (text: string, name = 'mhats.yaml'): string => configDir('mhats-svc-conf-', { [name]: text });

async function load(text: string) {
  return loadConfig({ conf: 'mhats.yaml', cwd: write(text), env: {}, osUser: 'tester' });
}

const loadErr = async (text: string): Promise<string> => (await configError(load(text))).message;

const SERVERS = `    servers:
      - hostname: 127.0.0.11
      - hostname: 127.0.0.12
`;

test('http defaults to loopback 127.0.0.1:9187; can be set or turned off', async () => {
  assert.deepEqual((await load(`clusters:\n  app1:\n${SERVERS}`)).http, { host: '127.0.0.1', port: 9187 });
  assert.deepEqual((await load(`http:\n  listen: "[::1]:0"\nclusters:\n  app1:\n${SERVERS}`)).http, { host: '::1', port: 0 });
  assert.deepEqual((await load(`http:\n  listen: 10.0.0.5:9100\nclusters:\n  app1:\n${SERVERS}`)).http, { host: '10.0.0.5', port: 9100 });
  assert.equal((await load(`http:\n  listen: false\nclusters:\n  app1:\n${SERVERS}`)).http, undefined);
  assert.equal((await load(`http:\n  listen: "off"\nclusters:\n  app1:\n${SERVERS}`)).http, undefined);
});

test('parseListen and checkCron', () => {
  assert.deepEqual(parseListen('localhost:80'), { ok: true, value: { host: 'localhost', port: 80 } });
  assert.equal(parseListen(':9187').ok, false);
  assert.equal(parseListen('127.0.0.1:70000').ok, false);
  assert.equal(parseListen(9187).ok, false);
  assert.equal(checkCron('*/5 * * * *').ok, true);
  assert.equal(checkCron('*/1 * * * * *').ok, true);
  assert.equal(checkCron('* * *').ok, false);
  assert.equal(checkCron('61 * * * *').ok, false);
});

test('schedules: per cluster, inherited from defaults job by job', async () => {
  const cfg = await load(`defaults:
  schedules:
    check_repl: "*/10 * * * *"
    relay_log_purge: "0 3 * * *"
clusters:
  app1:
    schedules:
      relay_log_purge: "0 */4 * * *"
      journal_retention: { cron: "30 3 * * *", keep_days: 90 }
${SERVERS}  app2:
${SERVERS}`);
  const [a, b] = cfg.clusters;
  assert.deepEqual(a?.schedules, { check_repl: '*/10 * * * *', relay_log_purge: '0 */4 * * *', journal_retention: { cron: '30 3 * * *', keep_days: 90 } });
  assert.deepEqual(b?.schedules, { check_repl: '*/10 * * * *', relay_log_purge: '0 3 * * *' });
  const text = describeConfig(cfg);
  assert.match(text, /^http: 127\.0\.0\.1:9187$/m);
  assert.match(text, /schedules: relay_log_purge "0 \*\/4 \* \* \*"; check_repl "\*\/10 \* \* \* \*"; journal_retention "30 3 \* \* \*" keep 90 days/);
});

test('schedule and http errors: every one, at its line, with a suggestion', async () => {
  const msg = await loadErr(`http:
  listen: 9187
  lisen: x
clusters:
  app1:
    schedules:
      relay_log_purg: "0 */4 * * *"
      check_repl: "61 * * * *"
      journal_retention: { cron: "30 3 * * *" }
${SERVERS}`);
  const lines = msg.split('\n');
  assert.match(lines[0] ?? '', /mhats\.yaml:2: listen must be "HOST:PORT"/);
  assert.ok(lines.some((l) => /mhats\.yaml:3: unknown key "lisen" in http \(did you mean "listen"\?\)/.test(l)), msg);
  assert.ok(lines.some((l) => /mhats\.yaml:7: unknown key "relay_log_purg" in clusters\.app1\.schedules \(did you mean "relay_log_purge"\?\)/.test(l)), msg);
  assert.ok(lines.some((l) => /mhats\.yaml:8: check_repl is not a valid cron expression/.test(l)), msg);
  assert.ok(lines.some((l) => /mhats\.yaml:9: missing required key "keep_days" in clusters\.app1\.schedules\.journal_retention/.test(l)), msg);
});

test('an MHA file has no schedules and the default endpoint', async () => {
  const dir = write('[server default]\nuser=root\npassword=x\n[server1]\nhostname=127.0.0.11\n', 'app1.cnf');
  const cfg = await loadConfig({ conf: 'app1.cnf', cwd: dir, env: {}, osUser: 'tester' });
  assert.deepEqual(cfg.clusters[0]?.schedules, {});
  assert.deepEqual(cfg.http, { host: '127.0.0.1', port: 9187 });
});
