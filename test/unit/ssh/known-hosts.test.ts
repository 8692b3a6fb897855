import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  fingerprintSha256,
  keyTypeOfBlob,
  knownHostsName,
  knownKeyTypes,
  matchHostKey,
  normalizeFingerprint,
  parseKnownHosts,
  pinnedFingerprintFor,
  wildcardMatch,
} from '../../../src/adapters/ssh/known-hosts.js';

// Real-looking key blobs: an ssh-ed25519 blob is string("ssh-ed25519") + string(32 bytes).
function ed25519Blob(seed: number): Buffer {
  const t = Buffer.from('ssh-ed25519');
  const k = Buffer.alloc(32, seed);
  const b = Buffer.alloc(4 + t.length + 4 + k.length);
  b.writeUInt32BE(t.length, 0);
  t.copy(b, 4);
  b.writeUInt32BE(k.length, 4 + t.length);
  k.copy(b, 8 + t.length);
  return b;
}
const KEY_A = ed25519Blob(1).toString('base64');
const KEY_B = ed25519Blob(2).toString('base64');
const KEY_C = ed25519Blob(3).toString('base64');
const RSA_KEY = 'AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7';

function hashedName(name: string, salt = randomBytes(20)): string {
  const h = createHmac('sha1', salt).update(name).digest();
  return `|1|${salt.toString('base64')}|${h.toString('base64')}`;
}

describe('known_hosts parsing', () => {
  it('skips comments and blank lines, notes malformed lines and cert-authority', () => {
    const p = parseKnownHosts(`# comment\n\n  \ndb1 ssh-ed25519 ${KEY_A}\nbroken-line\n@cert-authority *.example.com ssh-ed25519 ${KEY_B}\n@bogus db1 ssh-ed25519 ${KEY_B}\n`);
    assert.equal(p.entries.length, 1);
    assert.equal(p.entries[0]?.line, 4);
    assert.equal(p.notes.length, 3);
    assert.match(p.notes.join('\n'), /line 5/);
    assert.match(p.notes.join('\n'), /line 6: @cert-authority entry ignored/);
    assert.match(p.notes.join('\n'), /line 7: unknown marker @bogus/);
  });

  it('knownHostsName follows OpenSSH: bare host on 22, [host]:port otherwise', () => {
    assert.equal(knownHostsName('DB1.Example.com', 22), 'db1.example.com');
    assert.equal(knownHostsName('10.0.0.1', 2222), '[10.0.0.1]:2222');
  });
});

describe('matchHostKey', () => {
  it('plain host on port 22', () => {
    const { entries } = parseKnownHosts(`db1 ssh-ed25519 ${KEY_A} root@db1\n`);
    assert.equal(matchHostKey(entries, 'db1', 22, 'ssh-ed25519', KEY_A), 'match');
    assert.equal(matchHostKey(entries, 'DB1', 22, 'ssh-ed25519', KEY_A), 'match');
    assert.equal(matchHostKey(entries, 'db1', 2222, 'ssh-ed25519', KEY_A), 'unknown', 'a bare entry is for port 22 only');
    assert.equal(matchHostKey(entries, 'db2', 22, 'ssh-ed25519', KEY_A), 'unknown');
  });

  it('[host]:port and comma lists', () => {
    const { entries } = parseKnownHosts(`[127.0.0.12]:2222,db2 ssh-ed25519 ${KEY_A}\n`);
    assert.equal(matchHostKey(entries, '127.0.0.12', 2222, 'ssh-ed25519', KEY_A), 'match');
    assert.equal(matchHostKey(entries, 'db2', 22, 'ssh-ed25519', KEY_A), 'match');
    assert.equal(matchHostKey(entries, '127.0.0.12', 22, 'ssh-ed25519', KEY_A), 'unknown');
    assert.equal(matchHostKey(entries, '127.0.0.12', 2223, 'ssh-ed25519', KEY_A), 'unknown');
  });

  it('mismatch: same host and key type, different key', () => {
    const { entries } = parseKnownHosts(`[db2]:2222 ssh-ed25519 ${KEY_A}\n`);
    assert.equal(matchHostKey(entries, 'db2', 2222, 'ssh-ed25519', KEY_B), 'mismatch');
    // A different key type for the host is not a mismatch (OpenSSH: new key type).
    assert.equal(matchHostKey(entries, 'db2', 2222, 'ssh-rsa', RSA_KEY), 'unknown');
    assert.deepEqual(knownKeyTypes(entries, 'db2', 2222), ['ssh-ed25519']);
  });

  it('a matching line anywhere wins over an older line with another key', () => {
    const { entries } = parseKnownHosts(`db1 ssh-ed25519 ${KEY_B}\ndb1 ssh-ed25519 ${KEY_A}\n`);
    assert.equal(matchHostKey(entries, 'db1', 22, 'ssh-ed25519', KEY_A), 'match');
  });

  it('wildcards * and ?', () => {
    const { entries } = parseKnownHosts(`*.db.example.com,db? ssh-ed25519 ${KEY_A}\n[10.1.*]:2222 ssh-ed25519 ${KEY_B}\n`);
    assert.equal(matchHostKey(entries, 'a.db.example.com', 22, 'ssh-ed25519', KEY_A), 'match');
    assert.equal(matchHostKey(entries, 'db7', 22, 'ssh-ed25519', KEY_A), 'match');
    assert.equal(matchHostKey(entries, 'db17', 22, 'ssh-ed25519', KEY_A), 'unknown');
    assert.equal(matchHostKey(entries, 'a.db.example.com', 2222, 'ssh-ed25519', KEY_A), 'unknown', '*.x does not match [h]:port');
    assert.equal(matchHostKey(entries, '10.1.2.3', 2222, 'ssh-ed25519', KEY_B), 'match');
    assert.equal(wildcardMatch('abc', 'a*c'), true);
    assert.equal(wildcardMatch('ac', 'a*c'), true);
    assert.equal(wildcardMatch('abd', 'a*c'), false);
    assert.equal(wildcardMatch('aXbXc', '*b*c'), true);
    assert.equal(wildcardMatch('', '*'), true);
  });

  it('negation vetoes the whole line', () => {
    const { entries } = parseKnownHosts(`*.example.com,!bad.example.com ssh-ed25519 ${KEY_A}\n`);
    assert.equal(matchHostKey(entries, 'good.example.com', 22, 'ssh-ed25519', KEY_A), 'match');
    assert.equal(matchHostKey(entries, 'bad.example.com', 22, 'ssh-ed25519', KEY_A), 'unknown');
    assert.equal(matchHostKey(parseKnownHosts(`!db1 ssh-ed25519 ${KEY_A}\n`).entries, 'db2', 22, 'ssh-ed25519', KEY_A), 'unknown', 'a lone negation matches nothing');
  });

  it('hashed entries (HashKnownHosts), port 22 and [host]:port', () => {
    const text = `${hashedName('db1.example.com')} ssh-ed25519 ${KEY_A}\n${hashedName('[127.0.0.12]:2222')} ssh-ed25519 ${KEY_B}\n`;
    const { entries, notes } = parseKnownHosts(text);
    assert.deepEqual(notes, []);
    assert.equal(entries.length, 2);
    assert.equal(matchHostKey(entries, 'db1.example.com', 22, 'ssh-ed25519', KEY_A), 'match');
    assert.equal(matchHostKey(entries, 'DB1.example.com', 22, 'ssh-ed25519', KEY_A), 'match');
    assert.equal(matchHostKey(entries, 'db1.example.com', 22, 'ssh-ed25519', KEY_B), 'mismatch');
    assert.equal(matchHostKey(entries, '127.0.0.12', 2222, 'ssh-ed25519', KEY_B), 'match');
    assert.equal(matchHostKey(entries, '127.0.0.12', 22, 'ssh-ed25519', KEY_B), 'unknown');
    assert.equal(matchHostKey(entries, 'db2.example.com', 22, 'ssh-ed25519', KEY_A), 'unknown');
  });

  it('@revoked rejects the key even when another line accepts it', () => {
    const { entries } = parseKnownHosts(`db1 ssh-ed25519 ${KEY_A}\n@revoked * ssh-ed25519 ${KEY_A}\n`);
    assert.equal(matchHostKey(entries, 'db1', 22, 'ssh-ed25519', KEY_A), 'revoked');
    assert.equal(matchHostKey(entries, 'db1', 22, 'ssh-ed25519', KEY_C), 'mismatch');
    assert.deepEqual(knownKeyTypes(entries, 'db1', 22), ['ssh-ed25519']);
  });
});

describe('fingerprints', () => {
  it('keyTypeOfBlob reads the type from the blob', () => {
    assert.equal(keyTypeOfBlob(ed25519Blob(9)), 'ssh-ed25519');
    assert.equal(keyTypeOfBlob(Buffer.from([0, 0])), undefined);
  });

  it('format is SHA256:base64 without padding', () => {
    const fp = fingerprintSha256(ed25519Blob(1));
    assert.match(fp, /^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it('normalizes and looks up pins by host:port, then host', () => {
    assert.equal(normalizeFingerprint(' sha256:abc= '), 'SHA256:abc');
    const pins = { 'db1:2222': 'SHA256:one', db1: 'SHA256:two', 'DB3': 'SHA256:three' };
    assert.deepEqual(pinnedFingerprintFor(pins, 'db1', 2222), { key: 'db1:2222', fingerprint: 'SHA256:one' });
    assert.deepEqual(pinnedFingerprintFor(pins, 'db1', 22), { key: 'db1', fingerprint: 'SHA256:two' });
    assert.deepEqual(pinnedFingerprintFor(pins, 'db3', 22), { key: 'DB3', fingerprint: 'SHA256:three' });
    assert.equal(pinnedFingerprintFor(pins, 'db2', 22), undefined);
  });

  describe('agrees with OpenSSH ssh-keygen', () => {
    const haveKeygen = spawnSync('ssh-keygen', ['-?'], { stdio: 'ignore' }).error === undefined;
    let dir = '';
    before(() => {
      if (haveKeygen) dir = mkdtempSync(join(tmpdir(), 'mhats-kh-'));
    });
    after(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    for (const type of ['ed25519', 'ecdsa', 'rsa']) {
      it(`fingerprint of a ${type} key equals ssh-keygen -lf`, { skip: haveKeygen ? false : 'ssh-keygen not installed' }, () => {
        const key = join(dir, `k_${type}`);
        const gen = spawnSync('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-C', 'test', '-f', key], { encoding: 'utf8' });
        assert.equal(gen.status, 0, gen.stderr);
        const pub = readFileSync(`${key}.pub`, 'utf8').trim().split(/\s+/);
        const blob = Buffer.from(pub[1] ?? '', 'base64');
        const lf = spawnSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${key}.pub`], { encoding: 'utf8' });
        assert.equal(lf.status, 0, lf.stderr);
        const theirs = lf.stdout.split(/\s+/)[1];
        assert.equal(fingerprintSha256(blob), theirs);
        assert.equal(keyTypeOfBlob(blob), pub[0]);
      });
    }

    it('matches entries hashed by ssh-keygen -H', { skip: haveKeygen ? false : 'ssh-keygen not installed' }, () => {
      const kh = join(dir, 'known_hosts');
      writeFileSync(kh, `db1.example.com ssh-ed25519 ${KEY_A}\n[127.0.0.12]:2222 ssh-ed25519 ${KEY_B}\n`);
      const h = spawnSync('ssh-keygen', ['-H', '-f', kh], { encoding: 'utf8' });
      assert.equal(h.status, 0, h.stderr);
      if (existsSync(`${kh}.old`)) rmSync(`${kh}.old`);
      const text = readFileSync(kh, 'utf8');
      assert.doesNotMatch(text, /db1\.example\.com|127\.0\.0\.12/, 'hashed file names no host');
      const { entries } = parseKnownHosts(text);
      assert.equal(entries.length, 2);
      assert.equal(matchHostKey(entries, 'db1.example.com', 22, 'ssh-ed25519', KEY_A), 'match');
      assert.equal(matchHostKey(entries, '127.0.0.12', 2222, 'ssh-ed25519', KEY_B), 'match');
      assert.equal(matchHostKey(entries, '127.0.0.12', 2222, 'ssh-ed25519', KEY_A), 'mismatch');
    });
  });
});
