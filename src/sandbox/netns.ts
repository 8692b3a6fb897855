/**
 * Network namespaces for a sandbox: each server (its mariadbd and its own
 * sshd) lives in a namespace of its own, with its own address on a bridge the
 * sandbox creates; the manager (and anything else in the root namespace)
 * reaches them over the bridge. No namespace has a default route: traffic
 * stays on the bridge.
 *
 * Layout, for tag T and subnet S (three octets):
 *   bridge Tbr            S.1/24 (the manager's source address) and S.2/32 (the application's)
 *   namespace Tn, veth Tn (root end, on the bridge) <-> eth0 in Tn, S.(10+n)/24
 *
 * Every name is recorded in sandbox.json before it is created, so `down` (and
 * the synchronous kill on a dying test) removes exactly what was made, even
 * after a half-finished `up`. Faults: cut a host off entirely (its veth down
 * on the root side), or cut only the manager's route to it (a blackhole route
 * to the manager's address inside the host's namespace: the host still talks
 * to the application address and to the other hosts).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { execa } from 'execa';
import { UserError } from '../errors/errors.js';
import { spawnDetached } from './proc.js';
import type { NetnsOptions, SandboxNetns, ServerNetns } from './types.js';

export const DEFAULT_SUBNET = '10.213.200';
const TAG_RE = /^[a-z](?:[a-z0-9-]{0,9}[a-z])?$/;

/** A stable default tag for a sandbox directory: "mhs" + 6 hex digits. */
export function defaultTag(dir: string): string {
  return `mhs${createHash('sha256').update(dir).digest('hex').slice(0, 6)}x`;
}

export function validateTag(tag: string): string {
  if (!TAG_RE.test(tag)) {
    throw new UserError(`netns tag "${tag}": use 1 to 11 characters (lowercase letters, digits, '-'), starting and ending with a letter`, {
      hint: 'namespace and link names are TAG + a number, and a Linux link name has at most 15 characters',
    });
  }
  return tag;
}

export function validateSubnet(subnet: string): string {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(subnet);
  if (!m || m.slice(1).some((x) => Number(x) > 255)) throw new UserError(`netns subnet "${subnet}": give the first three octets of a /24, e.g. 10.213.200`);
  if (m[1] === '127' || m[1] === '0' || Number(m[1]) >= 224) throw new UserError(`netns subnet "${subnet}" is not usable for hosts (loopback, "this network" or multicast)`);
  return subnet;
}

/** The names and addresses a netns sandbox will use (nothing created yet). */
export function planNetns(dir: string, opts: NetnsOptions, count: number): { net: SandboxNetns; hosts: Array<ServerNetns & { address: string }> } {
  const tag = validateTag(opts.tag ?? defaultTag(dir));
  const subnet = validateSubnet(opts.subnet ?? DEFAULT_SUBNET);
  if (count > 21) throw new UserError('a netns sandbox holds at most 21 servers');
  const net: SandboxNetns = { tag, subnet, bridge: `${tag}br`, gateway: `${subnet}.1`, appAddress: `${subnet}.2`, namespaces: [], links: [] };
  const hosts = Array.from({ length: count }, (_, i) => ({ ns: `${tag}${i + 1}`, veth: `${tag}${i + 1}`, address: `${subnet}.${11 + i}` }));
  return { net, hosts };
}

function ipSync(args: string[]): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  return { ok: r.status === 0, stdout: r.stdout ?? '', stderr: (r.stderr ?? r.error?.message ?? '').trim() };
}

async function ip(args: string[]): Promise<string> {
  const r = await execa('ip', args, { timeout: 10_000, reject: false, stdin: 'ignore' });
  if (r.failed) throw new Error(`ip ${args.join(' ')}: ${`${r.stderr}`.trim() || r.shortMessage}`);
  return `${r.stdout}`;
}

function existingNamespaces(): string[] {
  return ipSync(['netns', 'list'])
    .stdout.split('\n')
    .map((l) => l.split(/\s+/)[0] ?? '')
    .filter((n) => n !== '');
}

function existingLinks(): string[] {
  return ipSync(['-o', 'link', 'show'])
    .stdout.split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '')
    .filter((n) => n !== '');
}

/** Refuse (touching nothing) when a name is taken or the subnet is already in use on this machine. */
export function assertNetnsFree(net: SandboxNetns, hosts: ServerNetns[]): void {
  if (!ipSync(['-V']).ok) throw new UserError('a netns sandbox needs iproute2 (the `ip` command)', { hint: 'apt-get install -y iproute2' });
  const ns = new Set(existingNamespaces());
  const links = new Set(existingLinks());
  const taken = [...hosts.map((h) => h.ns).filter((n) => ns.has(n)), ...[net.bridge, ...hosts.map((h) => h.veth)].filter((l) => links.has(l))];
  if (taken.length > 0) {
    throw new UserError(`netns names already in use: ${[...new Set(taken)].join(', ')}`, { hint: 'another sandbox uses this tag: pick another with --netns-tag, or take that one down first' });
  }
  const used = ipSync(['-o', '-4', 'addr', 'show']).stdout.split('\n').find((l) => l.includes(` ${net.subnet}.`));
  const routed = ipSync(['-4', 'route', 'show', 'match', `${net.subnet}.1/32`]).stdout.split('\n').find((l) => l.trim() !== '' && !l.startsWith('default'));
  if (used !== undefined || routed !== undefined) {
    throw new UserError(`netns subnet ${net.subnet}.0/24 is already in use on this machine (${(used ?? routed ?? '').trim().replace(/\s+/g, ' ')})`, { hint: 'pick another with --netns-subnet' });
  }
}

/** The bridge with the manager's and the application's addresses. `record` persists the state before each creation. */
export async function createBridge(net: SandboxNetns, record: () => Promise<void>): Promise<void> {
  net.links.push(net.bridge);
  await record();
  await ip(['link', 'add', net.bridge, 'type', 'bridge']);
  await ip(['addr', 'add', `${net.gateway}/24`, 'dev', net.bridge]);
  await ip(['addr', 'add', `${net.appAddress}/32`, 'dev', net.bridge]);
  await ip(['link', 'set', net.bridge, 'up']);
}

/** One host: its namespace, a veth pair into it (eth0 with the host's address), lo up. */
export async function createHost(net: SandboxNetns, host: ServerNetns & { address: string }, record: () => Promise<void>): Promise<void> {
  net.namespaces.push(host.ns);
  net.links.push(host.veth);
  await record();
  await ip(['netns', 'add', host.ns]);
  await ip(['link', 'add', host.veth, 'type', 'veth', 'peer', 'name', `${host.veth}p`]);
  await ip(['link', 'set', `${host.veth}p`, 'netns', host.ns]);
  await ip(['link', 'set', host.veth, 'master', net.bridge, 'up']);
  await ip(['-n', host.ns, 'link', 'set', `${host.veth}p`, 'name', 'eth0']);
  await ip(['-n', host.ns, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0']);
  await ip(['-n', host.ns, 'link', 'set', 'eth0', 'up']);
  await ip(['-n', host.ns, 'link', 'set', 'lo', 'up']);
}

/** Start a daemon inside a namespace, detached (ip netns exec execs it: the PID is the daemon's). */
export function spawnInNetns(ns: string, file: string, args: string[], logFile?: string): number {
  return spawnDetached('ip', ['netns', 'exec', ns, file, ...args], logFile);
}

/** PIDs of the processes in a namespace. */
export function netnsPids(ns: string): number[] {
  return ipSync(['netns', 'pids', ns])
    .stdout.split('\n')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 1);
}

/**
 * Remove a netns sandbox's network: stop whatever still runs in its
 * namespaces (only this sandbox starts processes there), delete the
 * namespaces, the links and any /etc/netns/NS. Synchronous (it also runs
 * from process-exit handlers) and idempotent; names of the tag that were
 * not recorded (a crash between creating and recording cannot happen, but a
 * hand-made leftover can) are removed too.
 */
export function destroyNetnsSync(net: SandboxNetns): string[] {
  const problems: string[] = [];
  const ours = (n: string): boolean => n === net.bridge || new RegExp(`^${net.tag}\\d+p?$`).test(n);
  const namespaces = [...new Set([...net.namespaces, ...existingNamespaces().filter(ours)])];
  // SIGTERM first, then SIGKILL what is left: a shell of an SSH session killed outright can leave
  // its rc files' locks behind (pyenv's rehash lock then stalls every later root login by 60 s).
  const signalAll = (sig: NodeJS.Signals): number => {
    let n = 0;
    for (const ns of namespaces) {
      for (const pid of netnsPids(ns)) {
        try {
          process.kill(pid, sig);
          n++;
        } catch {
          // gone
        }
      }
    }
    return n;
  };
  if (signalAll('SIGTERM') > 0) {
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && namespaces.some((ns) => netnsPids(ns).length > 0)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    signalAll('SIGKILL');
  }
  for (const ns of namespaces) {
    const r = ipSync(['netns', 'del', ns]);
    if (!r.ok && existingNamespaces().includes(ns)) problems.push(`namespace ${ns}: ${r.stderr}`);
    rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
  }
  const links = [...new Set([...net.links, ...existingLinks().filter(ours)])];
  const present = new Set(existingLinks());
  for (const l of links) {
    if (!present.has(l)) continue;
    const r = ipSync(['link', 'del', l]);
    if (!r.ok && existingLinks().includes(l)) problems.push(`link ${l}: ${r.stderr}`);
  }
  return problems;
}

// ---------------------------------------------------------------- faults

/** Cut a host off entirely: its veth down on the root side. Neither SQL nor SSH answers; connects time out. */
export async function cutHost(host: ServerNetns): Promise<void> {
  await ip(['link', 'set', host.veth, 'down']);
}

/** Cut only the manager's route to a host: inside its namespace, replies to the manager's address go to a blackhole. */
export async function cutManagerRoute(net: SandboxNetns, host: ServerNetns): Promise<void> {
  await ip(['-n', host.ns, 'route', 'replace', 'blackhole', `${net.gateway}/32`]);
}

/** Undo every network fault on a host: veth up on both ends, no blackhole route. Idempotent. */
export async function healHost(net: SandboxNetns, host: ServerNetns): Promise<void> {
  await ip(['link', 'set', host.veth, 'up']);
  await ip(['-n', host.ns, 'link', 'set', 'eth0', 'up']);
  const routes = await ip(['-n', host.ns, 'route', 'show', 'type', 'blackhole']);
  if (routes.includes(net.gateway)) await ip(['-n', host.ns, 'route', 'del', 'blackhole', `${net.gateway}/32`]);
}

/** What faults are on a host now (for status and tests). */
export async function hostFaults(net: SandboxNetns, host: ServerNetns): Promise<{ cut: boolean; managerRouteCut: boolean; innerLinkDown: boolean }> {
  const outer = await ip(['-o', 'link', 'show', host.veth]);
  const inner = await ip(['-n', host.ns, '-o', 'link', 'show', 'eth0']);
  const routes = await ip(['-n', host.ns, 'route', 'show', 'type', 'blackhole']);
  const up = (l: string): boolean => /<[^>]*\bUP\b[^>]*>/.test(l);
  return { cut: !up(outer), managerRouteCut: routes.includes(net.gateway), innerLinkDown: !up(inner) };
}
