/**
 * The SSH key and known_hosts cache (src/adapters/file-cache.ts): one stat per use, a read only when
 * the file changed (renamed over, rewritten, made unreadable), never a stale copy of a file changed
 * within the last second; and through loadCredentials/loadHostTrust, a rotated key or known_hosts is
 * picked up at the next opening.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { FileCache, fileVersion, RACY_MS } from '../../src/adapters/file-cache.js';
import { loadCredentials, loadHostTrust, type SshClientOptions, type SshTarget } from '../../src/adapters/ssh/client.js';

const dir = mkdtempSync(join(tmpdir(), 'mhats-file-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('fileVersion: every identifying field counts; a file changed within RACY_MS has no version', () => {
  const st = { dev: 1, ino: 2, size: 3, mtimeMs: 10_000, ctimeMs: 10_000 };
  const v = fileVersion(st, 10_000 + RACY_MS);
  assert.ok(v !== undefined);
  for (const k of ['dev', 'ino', 'size', 'mtimeMs', 'ctimeMs'] as const) assert.notEqual(fileVersion({ ...st, [k]: st[k] - 1 }, 10_000 + RACY_MS), v, k);
  assert.equal(fileVersion(st, 10_000 + RACY_MS - 1), undefined, 'modified too recently');
  assert.equal(fileVersion({ ...st, ctimeMs: 10_500 }, 10_000 + RACY_MS), undefined, 'its inode changed too recently (chmod, rename)');
});

test('FileCache: one read per version; rewritten, renamed over, unreadable, deleted', async () => {
  const f = join(dir, 'plain');
  writeFileSync(f, 'one');
  let parses = 0;
  const later = new FileCache((b) => (parses++, b.toString()), () => Date.now() + 10 * RACY_MS);
  assert.equal(await later.get(f), 'one');
  assert.equal(await later.get(f), 'one');
  assert.deepEqual([later.reads, parses], [1, 1], 'the second get() is served from the cache');
  await Promise.all([later.get(f), later.get(f)]);
  assert.equal(later.reads, 1);
  await sleep(20); // past the coarse file clock's tick
  writeFileSync(f, 'two!');
  assert.equal(await later.get(f), 'two!', 'rewritten in place');
  writeFileSync(join(dir, 'new'), 'six');
  renameSync(join(dir, 'new'), f);
  assert.equal(await later.get(f), 'six', 'a new file renamed over it (same size)');
  assert.equal(later.reads, 3);
  if (process.getuid?.() !== 0) {
    await sleep(20);
    chmodSync(f, 0o000);
    await assert.rejects(later.get(f), { code: 'EACCES' }, 'made unreadable: read again, and refused');
    chmodSync(f, 0o600);
  }
  unlinkSync(f);
  await assert.rejects(later.get(f), { code: 'ENOENT' });
  writeFileSync(f, 'back');
  assert.equal(await later.get(f), 'back');
});

test('FileCache: a file changed within the last second is read every time; a parse error is not cached', async () => {
  const f = join(dir, 'racy');
  writeFileSync(f, 'a');
  const now = new FileCache((b) => b.toString());
  await now.get(f);
  await now.get(f);
  assert.equal(now.reads, 2, 'just written: no version yet, read each time');
  let fail = true;
  const picky = new FileCache((b) => {
    if (fail) throw new Error('bad content');
    return b.toString();
  }, () => Date.now() + 10 * RACY_MS);
  await assert.rejects(picky.get(f), /bad content/);
  fail = false;
  assert.equal(await picky.get(f), 'a', 'the failed parse was not kept');
});

test('loadCredentials and loadHostTrust pick up a rotated key and known_hosts, at once or later', async () => {
  const { utils } = ssh2;
  const key = (): string => {
    for (;;) {
      const k = utils.generateKeyPairSync('ed25519').private;
      if (!(utils.parseKey(k) instanceof Error)) return k;
    }
  };
  const id = join(dir, 'id');
  const kh = join(dir, 'known_hosts');
  const a = key();
  const b = key();
  writeFileSync(id, a, { mode: 0o600 });
  writeFileSync(kh, 'db1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n');
  const opts: SshClientOptions = { identityFile: id, knownHostsFile: kh, fingerprints: {}, insecureSkipHostKeyCheck: false, connectTimeoutMs: 1000, agentSocket: null };
  const t: SshTarget = { label: 'db1', host: 'db1', port: 22, user: 'mhats' };
  await sleep(RACY_MS + 100); // old enough to be cached
  assert.equal(String((await loadCredentials(t, opts)).privateKey), a);
  assert.equal((await loadHostTrust(t, opts)).entries.length, 1);
  // Rotated by renaming a new key over the old one, and the known_hosts rewritten in place.
  writeFileSync(`${id}.new`, b, { mode: 0o600 });
  renameSync(`${id}.new`, id);
  writeFileSync(kh, 'db1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\ndb2 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n');
  assert.equal(String((await loadCredentials(t, opts)).privateKey), b, 'the new key at once');
  assert.equal((await loadHostTrust(t, opts)).entries.length, 2, 'the new known_hosts at once');
  await sleep(RACY_MS + 100);
  assert.equal(String((await loadCredentials(t, opts)).privateKey), b, 'and from the cache later');
  // Rotated back while nobody looked, and only used once the change is old: still the new content.
  writeFileSync(`${id}.new`, a, { mode: 0o600 });
  renameSync(`${id}.new`, id);
  await sleep(RACY_MS + 100);
  assert.equal(String((await loadCredentials(t, opts)).privateKey), a, 'a change older than a second is seen too');
  // A key that is not one: refused with its file named, never its content.
  writeFileSync(id, 'zz-not-a-key-zz\n');
  await assert.rejects(loadCredentials(t, opts), (e: Error) => e.message.includes(`cannot use private key ${id}`) && !e.message.includes('zz-not-a-key-zz'));
});
