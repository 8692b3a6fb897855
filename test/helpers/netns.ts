/**
 * A lab of network namespaces for the hook tests: "hosts" with their own
 * address on a bridge the test creates, each running its own sshd, no
 * default route (traffic stays on the bridge). Everything is named
 * `mhats-t-<tag>...`, recorded in <dir>/netns.json (and the processes in
 * <dir>/test-pids.json for scripts/cleanup-tests.mjs), and removed by
 * down(), which is idempotent and also runs first, for leftovers of a crashed
 * run with the same tag.
 *
 * Layout, for tag "h" and subnet 10.213.S.0/24:
 *   bridge mhats-t-hbr  10.213.S.1/24 (the root namespace: the manager, the tests)
 *   ns mhats-t-h<name>  eth0 10.213.S.<n>/24, lo up, sshd on <addr>:<sshPort>
 * `ip netns exec` bind-mounts /etc/netns/<ns>/hosts over /etc/hosts for every
 * process started in a namespace, sshd's sessions included: an rsync to
 * /etc/hosts over that sshd writes the namespace's own hosts file (a bind
 * mount, so only --inplace works, as on the field notes).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { findSshBinaries, prepareSsh, sshClientArgs } from '../../src/sandbox/sshd.js';
import { isOurs, spawnDetached } from '../../src/sandbox/proc.js';
import type { SandboxSsh } from '../../src/sandbox/types.js';

export const NETNS_PREFIX = 'mhats-t-';

export interface LabHost {
  name: string;
  ns: string;
  addr: string;
}

interface LabState {
  bridge: string;
  namespaces: string[];
  links: string[];
  pids: Array<{ pid: number; match: string }>;
}

function ip(args: string[], allowFail = false): string {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0 && !allowFail) throw new Error(`ip ${args.join(' ')}: ${r.stderr || r.error?.message || `exit ${r.status}`}`);
  return r.stdout;
}

/** Remove what a lab with this state (or this tag's names) left: processes by recorded PID, then namespaces, links, /etc/netns dirs. Idempotent. */
export function labDownSync(dir: string, tag: string): void {
  const stateFile = join(dir, 'netns.json');
  let st: LabState | undefined;
  try {
    st = JSON.parse(readFileSync(stateFile, 'utf8')) as LabState;
  } catch {
    st = undefined;
  }
  for (const p of st?.pids ?? []) {
    if (isOurs(p.pid, p.match) || readCmd(p.pid).includes(p.match)) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  const prefix = `${NETNS_PREFIX}${tag}`;
  const existing = ip(['netns', 'list'], true)
    .split('\n')
    .map((l) => l.split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(prefix));
  const namespaces = [...new Set([...(st?.namespaces ?? []), ...existing])];
  for (const ns of namespaces) {
    // Every process inside one of our namespaces was started by this lab.
    for (const pid of ip(['netns', 'pids', ns], true).split('\n').map(Number).filter((n) => n > 1)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    ip(['netns', 'del', ns], true);
    rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
  }
  const links = ip(['-o', 'link', 'show'], true)
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '')
    .filter((n) => n.startsWith(prefix));
  for (const l of new Set([...(st?.links ?? []), ...links])) ip(['link', 'del', l], true);
  rmSync(stateFile, { force: true });
}

function readCmd(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

export class NetnsLab {
  readonly bridge: string;
  readonly hosts = new Map<string, LabHost>();
  readonly state: LabState;
  ssh!: SandboxSsh;
  sshdBin = 'sshd';

  constructor(
    readonly dir: string,
    readonly tag: string,
    readonly subnet: number,
    readonly sshPort: number,
  ) {
    this.bridge = `${NETNS_PREFIX}${tag}br`;
    this.state = { bridge: this.bridge, namespaces: [], links: [], pids: [] };
  }

  get gateway(): string {
    return `10.213.${this.subnet}.1`;
  }

  addr(n: number): string {
    return `10.213.${this.subnet}.${n}`;
  }

  private save(): void {
    writeFileSync(join(this.dir, 'netns.json'), JSON.stringify(this.state, null, 2));
    writeFileSync(join(this.dir, 'test-pids.json'), JSON.stringify(this.state.pids));
  }

  /** Bridge + one namespace per host (name -> last octet), each with an sshd. */
  async up(hosts: Record<string, number>, etcHosts: Record<string, string> = {}): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    labDownSync(this.dir, this.tag);
    this.save();
    this.state.links.push(this.bridge);
    this.save();
    ip(['link', 'add', this.bridge, 'type', 'bridge']);
    ip(['addr', 'add', `${this.gateway}/24`, 'dev', this.bridge]);
    ip(['link', 'set', this.bridge, 'up']);
    for (const [name, n] of Object.entries(hosts)) {
      const ns = `${NETNS_PREFIX}${this.tag}${name}`;
      if (ns.length > 14) throw new Error(`namespace name ${ns} too long for a veth name`);
      const addr = this.addr(n);
      this.state.namespaces.push(ns);
      this.state.links.push(ns);
      this.save();
      ip(['netns', 'add', ns]);
      ip(['link', 'add', ns, 'type', 'veth', 'peer', 'name', `${ns}p`]);
      ip(['link', 'set', `${ns}p`, 'netns', ns]);
      ip(['link', 'set', ns, 'master', this.bridge, 'up']);
      ip(['-n', ns, 'link', 'set', `${ns}p`, 'name', 'eth0']);
      ip(['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0']);
      ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      mkdirSync(`/etc/netns/${ns}`, { recursive: true });
      writeFileSync(`/etc/netns/${ns}/hosts`, etcHosts[name] ?? `127.0.0.1\tlocalhost\n`);
      this.hosts.set(name, { name, ns, addr });
    }
    await this.startSshds();
  }

  host(name: string): LabHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no lab host ${name}`);
    return h;
  }

  /** Start a daemon inside a namespace (detached, recorded). `marker` must be in its command line. */
  spawn(name: string, file: string, args: string[], marker: string, log: string): number {
    const pid = spawnDetached('ip', ['netns', 'exec', this.host(name).ns, file, ...args], log);
    this.state.pids.push({ pid, match: marker });
    this.save();
    return pid;
  }

  /** Run a command inside a namespace, with a deadline. */
  async exec(name: string, file: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    const r = await execa('ip', ['netns', 'exec', this.host(name).ns, file, ...args], { timeout: opts.timeoutMs ?? 15_000, reject: false, input: opts.input, stdin: opts.input === undefined ? 'ignore' : 'pipe' });
    return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  }

  private async startSshds(): Promise<void> {
    const bins = await findSshBinaries();
    this.sshdBin = bins.sshd;
    const addrs = [...this.hosts.values()].map((h) => h.addr);
    this.ssh = await prepareSsh(bins, this.dir, addrs, this.sshPort);
    const base = await readFile(this.ssh.configFile, 'utf8');
    const noListen = base.split('\n').filter((l) => !l.startsWith('ListenAddress ')).join('\n');
    await Promise.all(
      [...this.hosts.values()].map(async (h) => {
        const cfg = join(this.dir, 'ssh', `sshd_config.${h.name}`);
        await writeFile(cfg, `ListenAddress ${h.addr}:${this.sshPort}\n${noListen}`, { mode: 0o600 });
        this.spawn(h.name, bins.sshd, ['-D', '-e', '-f', cfg], cfg, join(this.dir, 'ssh', `sshd.${h.name}.log`));
      }),
    );
    // Wait for a verified key login on each (from the root namespace, over the bridge).
    await Promise.all(
      addrs.map(async (a) => {
        const end = Date.now() + 20_000;
        for (;;) {
          const r = await execa(bins.ssh, [...sshClientArgs(this.ssh, a), 'true'], { timeout: 8000, reject: false, stdin: 'ignore' });
          if (r.exitCode === 0) return;
          if (Date.now() > end) throw new Error(`sshd on ${a}:${this.sshPort} does not accept logins: ${String(r.stderr)}`);
          await new Promise((res) => setTimeout(res, 200));
        }
      }),
    );
  }

  down(): void {
    labDownSync(this.dir, this.tag);
  }
}

/** Does this machine let the tests build namespaces (root, iproute2)? */
export function netnsAvailable(): boolean {
  if (process.getuid?.() !== 0) return false;
  return existsSync('/usr/sbin/ip') || existsSync('/sbin/ip') || existsSync('/usr/bin/ip');
}
