/**
 * The fast parse (js-yaml) of a configuration must read every value as the yaml package does, or step
 * aside (undefined) and let the slow path decide; a valid file parsed fast gives the same result, lines
 * included, as the slow path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDocument } from 'yaml';
import { fastParse, parseYamlConfig, slowParse } from '../../../src/config/yaml.js';

function slowData(text: string): unknown {
  const d = parseDocument(text, { uniqueKeys: false, merge: false });
  return d.errors.length > 0 ? { error: d.errors[0]!.code } : d.toJS();
}

const SCALARS = [
  '1', '+1', '-0', '0x1F', '0o17', '017', '0b101', '1_000', '1e3', '1E-2', '.5', '1.', '+.inf', '-.Inf', '.NaN', '1e400', '-1.5e+3',
  'true', 'True', 'TRUE', 'tRue', 'yes', 'on', 'off', 'no', 'y', '~', 'null', 'Null', '', '2026-01-01', '2026-01-01T10:00:00Z', '12:30', '190:20:30.15',
  "'quoted'", "'it''s'", '"a\\tb\\x41\\N\\_\\u00e9"', '"a: b"', 'foo # c', 'a#b', '!!str 5', '!!int "5"', '!!float 1', '!foo bar', '10.0.0.1', 'pa!ss',
  '[1, 2, ]', '{a: 1}', '|\n  x\n  y\n', '|-\n  a\n\n', '>\n  a\n   b\n  c\n', '"multi\n  line"', 'plain\n  multi\n\n  more', '"*/5 * * * *"', '<<',
];

test('fast parse: every scalar reads as the yaml package reads it, or the slow path decides', () => {
  for (const v of SCALARS) {
    const text = `k: ${v}\n`;
    const fast = fastParse(text);
    if (fast !== undefined) assert.deepEqual(fast, slowData(text), `k: ${v}`);
  }
});

test('fast parse steps aside for what the slow path must judge: duplicates, aliases, documents, directives, tags, errors', () => {
  for (const text of ['a: 1\na: 2\n', 'a: &x 1\nb: *x\n', '---\na: 1\n---\nb: 2\n', '', '# only a comment\n', '%YAML 1.1\n---\na: yes\n', 'true: a\n"true": b\n', 'a: "x\n', 'k: a: b\n', '- a\n- b\n', 'k: !!binary aGk=\n', 'k: 1e400\n']) {
    assert.equal(fastParse(text), undefined, JSON.stringify(text));
  }
  assert.equal(fastParse(`a:${'\n'.padEnd(3, ' ')}${'['.repeat(100)}${']'.repeat(100)}\n`), undefined, 'nested too deeply');
});

const CONFIG = `state_dir: /var/lib/mhats
http:
  listen: 127.0.0.1:9187
defaults:
  user: mhats
  password: { env: MHATS_PW }
  ssh_user: mhats
  repl_user: repl
  repl_password: { file: /etc/mhats/repl.pw }
  ping_interval: 3
  ssh:
    known_hosts: /etc/mhats/known_hosts
    host_key_fingerprints: { db1: "SHA256:abc" }
  schedules:
    check_repl: "*/5 * * * *"
clusters:
  app1:
    ping_type: SELECT
    servers:
      - name: db1
        hostname: 10.0.0.1
        candidate_master: true
      - { name: db2, hostname: 10.0.0.2, port: 3307 }
      - name: db3
        hostname: "10.0.0.3"
        no_master: true
  "app.2":
    ssh:
      connect_timeout: 7
    servers:
      - hostname: db-4.example.com
`;

test('a valid file: the fast path gives what the slow path gives, file:line of every value included', () => {
  const fast = parseYamlConfig(CONFIG, 'mhats.yaml');
  const slow = slowParse(CONFIG, 'mhats.yaml');
  assert.deepEqual(fast.problems, []);
  // JSON.stringify reads every lazy location (a getter), so lines are compared too.
  assert.equal(JSON.stringify(fast), JSON.stringify(slow));
  const db2 = fast.clusters[0]!.servers[1]!;
  assert.equal(db2.loc.line, 23);
  assert.deepEqual({ ...db2.values.port!.loc }, { file: 'mhats.yaml', line: 23 });
  assert.equal(fast.clusters[1]!.ssh.connect_timeout!.loc.line, 29);
});

test('an invalid file still names file:line (the slow path reports it)', () => {
  const r = parseYamlConfig(CONFIG.replace('port: 3307', 'port: many'), 'mhats.yaml');
  assert.equal(r.problems.length, 1);
  assert.equal(r.problems[0]!.line, 23);
  assert.match(r.problems[0]!.message, /port/);
});
