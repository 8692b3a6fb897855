/**
 * Golden test: our Config::Tiny clone against the real Config::Tiny (perl).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTiny, tinyToPlain } from '../../../src/config/tiny.js';
import { tempDir } from '../../helpers/tmp.js';

const FIX = 'test/fixtures/config';

const PERL = String.raw`
use strict; use Config::Tiny; use JSON::PP;
my $c = Config::Tiny->read($ARGV[0]);
if (!$c) { print JSON::PP->new->canonical->encode({ error => Config::Tiny->errstr }); exit 0; }
print JSON::PP->new->canonical->encode({ %$c });
`;

const perlCheck = spawnSync('perl', ['-MConfig::Tiny', '-MJSON::PP', '-e', '1'], { encoding: 'utf8' });
const perlMissing = perlCheck.error !== undefined || perlCheck.status !== 0 ? 'perl with Config::Tiny and JSON::PP is not installed (apt-get install libconfig-tiny-perl)' : false;

function perlRead(file: string): { error?: string } & Record<string, unknown> {
  // No I/O layers: perl reads and prints bytes, so UTF-8 text round-trips unchanged.
  const r = spawnSync('perl', ['-e', PERL, file]);
  assert.equal(r.status, 0, r.stderr.toString());
  return JSON.parse(r.stdout.toString('utf8')) as { error?: string } & Record<string, unknown>;
}

function fixtures(): string[] {
  const dir = tempDir('mhats-tiny-');
  const base = readFileSync(join(FIX, 'tiny-tricky.cnf'), 'utf8');
  const variants: [string, string][] = [
    ['crlf.cnf', base.replace(/\n/g, '\r\n')],
    ['cr.cnf', base.replace(/\n/g, '\r')],
    ['crcrlf.cnf', base.replace(/\n/g, '\r\r\n')],
    ['no-final-newline.cnf', base.trimEnd()],
    ['blank-lines.cnf', `\n\n${base}\n\n\n`],
    ['vt-ff.cnf', '[a]\n\x0bk\x0c=\x0bv\x0c\nx = 1\x0b;\x0bnot stripped? \n'],
    ['nbsp.cnf', '[a]\nk\u00a0=\u00a0v\u00a0\n'],
    ['syntax2.cnf', '[a]\nk=v\n=novalue\n'],
    ['only-bracket.cnf', '[a]\n[]\n'],
  ];
  const out = [
    join(FIX, 'tiny-tricky.cnf'),
    join(FIX, 'app1.cnf'),
    join(FIX, 'masterha_default.cnf'),
    join(FIX, 'tiny-syntax-error.cnf'),
    join(FIX, 'bad-key.cnf'),
  ];
  for (const [name, text] of variants) {
    writeFileSync(join(dir, name), text);
    out.push(join(dir, name));
  }
  return out;
}

test('parseTiny matches perl Config::Tiny on tricky fixtures', { skip: perlMissing }, () => {
  for (const file of fixtures()) {
    const expected = perlRead(file);
    const doc = parseTiny(readFileSync(file, 'utf8'));
    if (typeof expected.error === 'string') {
      // Config::Tiny stops at the first syntax error; we collect them all.
      const m = /^Syntax error at line (\d+): '(.*)'$/s.exec(expected.error);
      assert.ok(m, `unexpected perl error: ${expected.error}`);
      assert.ok(doc.errors.length > 0, `${file}: perl found a syntax error, we did not`);
      assert.equal(doc.errors[0]?.line, Number(m[1]), file);
      assert.equal(doc.errors[0]?.text, m[2], file);
    } else {
      assert.deepEqual(doc.errors, [], file);
      assert.deepEqual(tinyToPlain(doc), expected, file);
    }
  }
});

test('parseTiny: the documented Config::Tiny rules, without perl', () => {
  const doc = parseTiny(readFileSync(join(FIX, 'tiny-tricky.cnf'), 'utf8'));
  const p = tinyToPlain(doc);
  assert.equal(p._?.root_key, 'before any section');
  const sd = p['server default'] ?? {};
  assert.equal(sd.password, 'pa;ss#word');
  assert.equal(sd.inline, 'value');
  assert.equal(sd.notcomment, 'a;b');
  assert.equal(sd.trailing_semicolon, 'x ;');
  assert.equal(sd.hash, '#notacomment');
  assert.equal(sd.dq, '"double quoted"');
  assert.equal(sd.spaced, 'lots of space');
  assert.equal(sd.eq, 'a=b=c');
  assert.equal(sd.empty, '');
  assert.equal(sd['key with spaces'], 'v');
  assert.equal(sd.dup, 'second');
  assert.equal(sd.reopened, 'yes');
  assert.equal(p['server.2']?.hostname, 'db2');
  assert.equal(p['server 3']?.hostname, 'db3');
  assert.equal(doc.sections.get('server default')?.entries.get('password')?.line, 6);
});

test('parseTiny reports every syntax error with its line', () => {
  const doc = parseTiny('[a]\nok=1\nbad line\n[b]\nalso bad\n');
  assert.deepEqual(doc.errors, [
    { line: 3, text: 'bad line' },
    { line: 5, text: 'also bad' },
  ]);
});
