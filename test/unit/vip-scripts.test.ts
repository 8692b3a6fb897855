/**
 * The vip hook's shell scripts (VIP_DEL, VIP_ADD), run by /bin/sh against a
 * fake `ip` (addresses kept in a file, RTNETLINK's errors and exit codes) and
 * a fake `arping` (records its arguments; Habets' or iputils' --help).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARPING_FLAVOUR, VIP_ADD, VIP_DEL } from '../../src/adapters/hooks/vip.js';

const FAKE_IP = `#!/bin/sh
state="$FAKE_DIR/addrs"; touch "$state"; echo "ip $*" >> "$FAKE_DIR/calls"
[ -n "$FAKE_IP_FAIL" ] && { echo "RTNETLINK answers: $FAKE_IP_FAIL" >&2; exit 2; }
case "$1 $2" in
  "addr del") grep -qx "$3" "$state" || { echo "RTNETLINK answers: Cannot assign requested address" >&2; exit 2; }; grep -vx "$3" "$state" > "$state.n"; mv "$state.n" "$state"; exit 0;;
  "addr add") grep -qx "$3" "$state" && { echo "RTNETLINK answers: File exists" >&2; exit 2; }; echo "$3" >> "$state"; exit 0;;
  "-o -4") while read -r a; do echo "2: eth0    inet $a scope global eth0"; done < "$state"; exit 0;;
esac
exit 1
`;

function fake(opts: { habets: boolean; arping: boolean }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mhats-vip-scripts-'));
  writeFileSync(join(dir, 'ip'), FAKE_IP);
  chmodSync(join(dir, 'ip'), 0o755);
  if (opts.arping) {
    writeFileSync(join(dir, 'arping'), `#!/bin/sh\nif [ "$1" = --help ]; then echo "${opts.habets ? 'ARPing 2.21, by Thomas Habets <thomas@habets.se>' : 'Usage: arping [-AbBDfhqUV] [-c count] [-w timeout] [-I device] [-s source] destination'}"; exit 0; fi\necho "$*" >> "$FAKE_DIR/arping.log"\n`);
    chmodSync(join(dir, 'arping'), 0o755);
  }
  return dir;
}

function run(dir: string, script: string, args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  // PATH: the fake tools, then only what /bin/sh needs for grep (not the host's real ip or arping).
  const r = spawnSync('/bin/sh', ['-c', script, 'mhats', ...args], { encoding: 'utf8', env: { PATH: `${dir}:/usr/bin:/bin`, FAKE_DIR: dir, ...env }, timeout: 10_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const addrs = (dir: string): string[] => (existsSync(join(dir, 'addrs')) ? readFileSync(join(dir, 'addrs'), 'utf8').split('\n').filter(Boolean) : []);

async function arpingCalls(dir: string): Promise<string[]> {
  // Detached: give it a moment to write.
  for (let i = 0; i < 100 && !existsSync(join(dir, 'arping.log')); i++) await new Promise((r) => setTimeout(r, 20));
  return existsSync(join(dir, 'arping.log')) ? readFileSync(join(dir, 'arping.log'), 'utf8').split('\n').filter(Boolean) : [];
}

describe('VIP_DEL', () => {
  test('present: removed with one ip call; absent: "absent", exit 0', () => {
    const dir = fake({ habets: true, arping: true });
    try {
      writeFileSync(join(dir, 'addrs'), '10.0.0.100/32\n');
      const r = run(dir, VIP_DEL, ['eth0', '10.0.0.100/32', '10.0.0.100']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'removed');
      assert.deepEqual(addrs(dir), []);
      assert.deepEqual(readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n'), ['ip addr del 10.0.0.100/32 dev eth0']);
      const again = run(dir, VIP_DEL, ['eth0', '10.0.0.100/32', '10.0.0.100']);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout.trim(), 'absent');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('present but ip fails: exit 1 with the error (never "absent")', () => {
    const dir = fake({ habets: true, arping: true });
    try {
      writeFileSync(join(dir, 'addrs'), '10.0.0.100/32\n');
      // Only the deletion fails: the listing still works.
      const script = VIP_DEL.replace(/ip addr del/g, 'FAKE_IP_FAIL="Operation not permitted" ip addr del');
      const r = run(dir, script, ['eth0', '10.0.0.100/32', '10.0.0.100']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /Operation not permitted/);
      assert.doesNotMatch(r.stdout, /absent|removed/);
      assert.deepEqual(addrs(dir), ['10.0.0.100/32']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('VIP_ADD', () => {
  test("absent: added with one ip call; Habets' arping gets -S VIP -i dev, detached", async () => {
    const dir = fake({ habets: true, arping: true });
    try {
      const r = run(dir, VIP_ADD, ['eth0', '10.0.0.100/32', '10.0.0.100', '2']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'added');
      assert.deepEqual(addrs(dir), ['10.0.0.100/32']);
      assert.deepEqual(readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n'), ['ip addr add 10.0.0.100/32 dev eth0']);
      assert.deepEqual(await arpingCalls(dir), ['-q -U -S 10.0.0.100 -c 2 -W 0.2 -i eth0 10.0.0.100']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("present: \"present\", exit 0, still announced; iputils' arping gets -s VIP -I dev", async () => {
    const dir = fake({ habets: false, arping: true });
    try {
      writeFileSync(join(dir, 'addrs'), '10.0.0.100/32\n');
      const r = run(dir, VIP_ADD, ['eth0', '10.0.0.100/32', '10.0.0.100', '3']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'present');
      assert.deepEqual(addrs(dir), ['10.0.0.100/32']);
      assert.deepEqual(await arpingCalls(dir), ['-q -U -s 10.0.0.100 -c 3 -I eth0 10.0.0.100']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('ip fails and the address is not there: exit 1 with the error; no arping: said on stderr; count 0: no arping', async () => {
    const dir = fake({ habets: true, arping: false });
    try {
      const bad = run(dir, VIP_ADD, ['eth0', '10.0.0.100/32', '10.0.0.100', '2'], { FAKE_IP_FAIL: 'Operation not permitted' });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /Operation not permitted/);
      const r = run(dir, VIP_ADD, ['eth0', '10.0.0.100/32', '10.0.0.100', '2']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /arping not found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const dir2 = fake({ habets: true, arping: true });
    try {
      const r = run(dir2, VIP_ADD, ['eth0', '10.0.0.100/32', '10.0.0.100', '0']);
      assert.equal(r.code, 0, r.stderr);
      await new Promise((res) => setTimeout(res, 200));
      assert.equal(existsSync(join(dir2, 'arping.log')), false);
    } finally {
      rmSync(dir2, { recursive: true, force: true });
    }
  });

  test('the flavour given as $5 is used as is (no arping --help on the critical path); ARPING_FLAVOUR finds it', async () => {
    const dir = fake({ habets: true, arping: true });
    try {
      assert.equal(run(dir, ARPING_FLAVOUR, []).stdout.trim(), 'habets');
      const r = run(dir, VIP_ADD, ['eth0', '10.0.0.100/32', '10.0.0.100', '1', 'iputils']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await arpingCalls(dir), ['-q -U -s 10.0.0.100 -c 1 -I eth0 10.0.0.100']);
      const none = run(dir, VIP_ADD, ['eth0', '10.0.0.100/32', '10.0.0.100', '1', 'none']);
      assert.equal(none.code, 0, none.stderr);
      assert.equal(none.stdout.trim(), 'present');
      assert.match(none.stderr, /arping not found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const dir2 = fake({ habets: false, arping: true });
    const dir3 = fake({ habets: true, arping: false });
    try {
      assert.equal(run(dir2, ARPING_FLAVOUR, []).stdout.trim(), 'iputils');
      assert.equal(run(dir3, ARPING_FLAVOUR, []).stdout.trim(), 'none');
    } finally {
      rmSync(dir2, { recursive: true, force: true });
      rmSync(dir3, { recursive: true, force: true });
    }
  });
});
