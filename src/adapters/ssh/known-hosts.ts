/**
 * OpenSSH known_hosts parsing and host-key matching (sshd(8) "SSH_KNOWN_HOSTS
 * FILE FORMAT"). Pure: strings and Buffers in, verdicts out; the only
 * dependency is node:crypto for the hashed-entry HMAC and the fingerprints.
 *
 * Supported: plain patterns (`host`, `[host]:port`, comma lists, `*` and `?`
 * wildcards, `!` negation), hashed entries `|1|salt|hmac` (HashKnownHosts),
 * `@revoked` (the key is rejected) and `@cert-authority` (ignored, with a
 * note: mhats does not verify host certificates), comments and blank lines.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type KnownHostsMarker = 'revoked' | 'cert-authority';

export type HostSpec =
  | { kind: 'patterns'; patterns: { negated: boolean; pattern: string }[] }
  | { kind: 'hashed'; salt: Buffer; hash: Buffer };

export interface KnownHostEntry {
  /** 1-based line number in the source, for messages. */
  line: number;
  marker?: KnownHostsMarker | undefined;
  hosts: HostSpec;
  keyType: string;
  keyBase64: string;
}

export interface ParsedKnownHosts {
  entries: KnownHostEntry[];
  /** Lines skipped or ignored, with the reason ("line 4: ..."). */
  notes: string[];
}

export type HostKeyVerdict = 'match' | 'mismatch' | 'unknown' | 'revoked';

/** The name OpenSSH looks up: `host` for port 22, `[host]:port` otherwise (lowercased). */
export function knownHostsName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

export function parseKnownHosts(content: string): ParsedKnownHosts {
  const entries: KnownHostEntry[] = [];
  const notes: string[] = [];
  const lines = content.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = (lines[i] ?? '').trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const fields = raw.split(/[ \t]+/);
    let marker: KnownHostsMarker | undefined;
    const first = fields[0] ?? '';
    if (first.startsWith('@')) {
      if (first === '@revoked') marker = 'revoked';
      else if (first === '@cert-authority') marker = 'cert-authority';
      else {
        notes.push(`line ${lineNo}: unknown marker ${first}, line ignored`);
        continue;
      }
      fields.shift();
    }
    const [hostField, keyType, keyBase64] = fields;
    if (hostField === undefined || keyType === undefined || keyBase64 === undefined) {
      notes.push(`line ${lineNo}: not "hosts keytype key", line ignored`);
      continue;
    }
    if (marker === 'cert-authority') {
      notes.push(`line ${lineNo}: @cert-authority entry ignored (mhats does not verify host certificates; pin the host key instead)`);
      continue;
    }
    if (!/^[A-Za-z0-9+/]+=*$/.test(keyBase64)) {
      notes.push(`line ${lineNo}: key is not base64, line ignored`);
      continue;
    }
    let hosts: HostSpec;
    if (hostField.startsWith('|')) {
      const m = /^\|1\|([A-Za-z0-9+/=]+)\|([A-Za-z0-9+/=]+)$/.exec(hostField);
      if (!m?.[1] || !m[2]) {
        notes.push(`line ${lineNo}: unsupported hashed host format, line ignored`);
        continue;
      }
      hosts = { kind: 'hashed', salt: Buffer.from(m[1], 'base64'), hash: Buffer.from(m[2], 'base64') };
    } else {
      const patterns = hostField
        .split(',')
        .filter((p) => p !== '')
        .map((p) => (p.startsWith('!') ? { negated: true, pattern: p.slice(1).toLowerCase() } : { negated: false, pattern: p.toLowerCase() }));
      hosts = { kind: 'patterns', patterns };
    }
    entries.push({ line: lineNo, marker, hosts, keyType, keyBase64 });
  }
  return { entries, notes };
}

/** OpenSSH match_pattern(): `*` any run, `?` one character, whole string. */
export function wildcardMatch(s: string, pattern: string): boolean {
  // Iterative glob with backtracking on the last `*`.
  let si = 0;
  let pi = 0;
  let star = -1;
  let mark = 0;
  while (si < s.length) {
    const pc = pattern[pi];
    if (pc === '?' || (pc !== undefined && pc !== '*' && pc === s[si])) {
      si++;
      pi++;
    } else if (pc === '*') {
      star = pi++;
      mark = si;
    } else if (star !== -1) {
      pi = star + 1;
      si = ++mark;
    } else return false;
  }
  while (pattern[pi] === '*') pi++;
  return pi === pattern.length;
}

export function hashHostName(name: string, salt: Buffer): Buffer {
  return createHmac('sha1', salt).update(name).digest();
}

/** Does this entry's host field select `host` on `port` (OpenSSH semantics)? */
export function entryMatchesHost(entry: KnownHostEntry, host: string, port: number): boolean {
  const name = knownHostsName(host, port);
  if (entry.hosts.kind === 'hashed') {
    const h = hashHostName(name, entry.hosts.salt);
    return h.length === entry.hosts.hash.length && timingSafeEqual(h, entry.hosts.hash);
  }
  let positive = false;
  for (const p of entry.hosts.patterns) {
    if (wildcardMatch(name, p.pattern)) {
      if (p.negated) return false; // a matching negation vetoes the whole line
      positive = true;
    }
  }
  return positive;
}

function sameKey(aBase64: string, bBase64: string): boolean {
  const a = Buffer.from(aBase64, 'base64');
  const b = Buffer.from(bBase64, 'base64');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The verdict for a presented host key:
 * - `revoked`: a matching `@revoked` line carries this key (always wins);
 * - `match`: a matching line carries this key;
 * - `mismatch`: matching lines exist for this key type, none with this key;
 * - `unknown`: no matching line of this key type.
 */
export function matchHostKey(entries: readonly KnownHostEntry[], host: string, port: number, keyType: string, keyBase64: string): HostKeyVerdict {
  let matched = false;
  let sameTypeOther = false;
  for (const e of entries) {
    if (e.marker === 'cert-authority') continue;
    if (!entryMatchesHost(e, host, port)) continue;
    const same = sameKey(e.keyBase64, keyBase64);
    if (e.marker === 'revoked') {
      if (same) return 'revoked';
      continue;
    }
    if (same) matched = true;
    else if (e.keyType === keyType) sameTypeOther = true;
  }
  if (matched) return 'match';
  return sameTypeOther ? 'mismatch' : 'unknown';
}

/** Key types recorded (not revoked) for this host, in file order, deduplicated. */
export function knownKeyTypes(entries: readonly KnownHostEntry[], host: string, port: number): string[] {
  const out: string[] = [];
  for (const e of entries) {
    if (e.marker !== undefined) continue;
    if (!entryMatchesHost(e, host, port)) continue;
    if (!out.includes(e.keyType)) out.push(e.keyType);
  }
  return out;
}

/** OpenSSH `SHA256:` fingerprint of a public key blob (base64, no padding), as `ssh-keygen -lf` prints. */
export function fingerprintSha256(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named inside an SSH public key blob (its first length-prefixed string). */
export function keyTypeOfBlob(keyBlob: Buffer): string | undefined {
  if (keyBlob.length < 4) return undefined;
  const len = keyBlob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > keyBlob.length) return undefined;
  const t = keyBlob.subarray(4, 4 + len).toString('latin1');
  return /^[\x21-\x7e]+$/.test(t) ? t : undefined;
}

/** Normalizes a configured fingerprint: "SHA256:abc=" and "sha256:abc" both become "SHA256:abc". */
export function normalizeFingerprint(fp: string): string {
  const t = fp.trim();
  const m = /^sha256:(.*)$/i.exec(t);
  return m ? `SHA256:${(m[1] ?? '').replace(/=+$/, '')}` : t;
}

/** The pinned fingerprint for a host: `host:port` first, then `host` (case-insensitive host). */
export function pinnedFingerprintFor(pins: Readonly<Record<string, string>>, host: string, port: number): { key: string; fingerprint: string } | undefined {
  const want = [`${host}:${port}`, `[${host}]:${port}`, host].map((k) => k.toLowerCase());
  for (const w of want) {
    for (const [k, v] of Object.entries(pins)) {
      if (k.toLowerCase() === w) return { key: k, fingerprint: normalizeFingerprint(v) };
    }
  }
  return undefined;
}
