/**
 * `mhats sandbox`: a local cluster of real servers (one master, N replicas,
 * each a mariadbd on its own 127.x address) plus one sshd for all of them.
 * Everything lives in one directory; sandbox.json records every PID we
 * started, so `down` stops exactly those and nothing else.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { chmod, mkdir, readFile, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { execa } from 'execa';
import { UserError } from '../errors/errors.js';
import { clientCnf, mhaCnf, mhatsYaml } from './configs.js';
import { poweroffScript } from './poweroff.js';
import {
  accountsSql,
  changeMasterSql,
  detectFlavor,
  ensureTemplate,
  masterCoordinates,
  rootSql,
  serverCnf,
  spawnServer,
  waitReady,
  waitReplicating,
} from './mysqld.js';
import { isAlive, isOurs, killOwnedSync, ownedState, processesNaming, sendSignal, stopOwned, waitGone } from './proc.js';
import { checkSshdConfig, findSshBinaries, hostSshdConfig, prepareSsh, startSshd, verifySsh } from './sshd.js';
import { assertNetnsFree, createBridge, createHost, cutHost, cutManagerRoute, destroyNetnsSync, healHost, hostFaults, planNetns, spawnInNetns } from './netns.js';
import type { SandboxInfo, SandboxOptions, SandboxProfile, SandboxServer, SandboxServerSettings, ServerNetns } from './types.js';

export const STATE_FILE = 'sandbox.json';

/**
 * The production profile: the settings servers run with outside a friendly sandbox (MariaDB's
 * defaults where they differ), one feature per replica so a failover meets all of them at once.
 */
export const PRODUCTION_PROFILE = {
  all: { binlogFormat: 'MIXED', slaveNetTimeout: 60 } satisfies SandboxServerSettings,
  replicas: { logSlaveUpdates: false, relayLogPurge: false } satisfies SandboxServerSettings,
  byName: {
    db3: { relayLogPurge: true },
    db4: { logBin: false },
    db5: { delay: 3600 },
  } as Record<string, SandboxServerSettings>,
  replicas_default: 4,
} as const;

/** The settings of server i (0 = the master) under a profile, with the per-server options over them. */
export function profileSettings(profile: SandboxProfile, name: string, isMaster: boolean, own: SandboxServerSettings | undefined): SandboxServerSettings {
  const base: SandboxServerSettings = profile === 'production' ? { ...PRODUCTION_PROFILE.all, ...(isMaster ? {} : { ...PRODUCTION_PROFILE.replicas, ...PRODUCTION_PROFILE.byName[name] }) } : {};
  return { ...base, ...own };
}

const DEFAULTS = { replicas: 2, baseAddress: '127.0.0.11', port: 3306, sshPort: 2222, clusterName: 'sandbox' } as const;

// ---------------------------------------------------------------- state file

export async function readSandbox(dir: string): Promise<SandboxInfo | undefined> {
  let text: string;
  try {
    text = await readFile(join(resolve(dir), STATE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as SandboxInfo;
  } catch {
    throw new UserError(`${join(resolve(dir), STATE_FILE)} is not valid JSON`, { hint: 'remove the sandbox directory by hand, after stopping its processes' });
  }
}

function readSandboxSync(dir: string): SandboxInfo | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as SandboxInfo;
  } catch {
    return undefined;
  }
}

// Writes of sandbox.json are serialised (parallel server starts update it).
let saving: Promise<void> = Promise.resolve();

function saveState(info: SandboxInfo): Promise<void> {
  const text = `${JSON.stringify(info, null, 2)}\n`;
  const file = join(info.dir, STATE_FILE);
  const next = saving.then(async () => {
    const tmp = `${file}.tmp-${process.pid}`;
    await writeFile(tmp, text, { mode: 0o644 });
    await rename(tmp, file);
  });
  saving = next.catch(() => undefined);
  return next;
}

// ---------------------------------------------------------------- helpers

function parseIPv4(a: string): number[] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  return parts.every((n) => n <= 255) ? parts : undefined;
}

/** db1 gets the base address, db2 the next one, ... (loopback 127.0.0.0/8 only). */
export function sandboxAddresses(base: string, count: number): string[] {
  const p = parseIPv4(base);
  if (!p || p[0] !== 127) throw new UserError(`base address ${base} is not a loopback IPv4 address (127.x.y.z)`, { hint: 'use e.g. --base-address 127.0.0.11' });
  const last = p[3] ?? 0;
  if (last < 1 || last + count - 1 > 254) throw new UserError(`base address ${base} leaves no room for ${count} servers (the last octet must stay within 1..254)`);
  return Array.from({ length: count }, (_, i) => `${p[0]}.${p[1]}.${p[2]}.${last + i}`);
}

function checkPort(what: string, n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UserError(`${what} ${n} is not a valid TCP port`);
  return n;
}

/** Fail early, and clearly, when something already listens where a sandbox server must. */
async function probeFree(address: string, port: number, what: string): Promise<void> {
  await new Promise<void>((res, rej) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      rej(
        new UserError(`${address}:${port} (${what}) is not free: ${err.code ?? err.message}`, {
          hint: 'another sandbox or server uses it; pick other addresses with --base-address or other ports with --port/--ssh-port',
        }),
      );
    });
    srv.listen({ host: address, port, exclusive: true }, () => srv.close(() => res()));
  });
}

function password(): string {
  return randomBytes(18).toString('base64url');
}

async function assertRootAndMysqlUser(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new UserError('mhats sandbox must run as root (mariadbd runs as user mysql; root logs in over the unix socket)');
  }
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  if (!passwd.split('\n').some((l) => l.startsWith('mysql:'))) {
    throw new UserError('there is no "mysql" system user to run the sandbox servers as', { hint: 'install mariadb-server (it creates the user)' });
  }
}

function serverDir(s: SandboxServer): string {
  return dirname(s.cnf);
}

function sandboxDirOf(s: SandboxServer): string {
  return dirname(serverDir(s));
}

// ---------------------------------------------------------------- up

export async function sandboxUp(opts: SandboxOptions): Promise<SandboxInfo> {
  const dir = resolve(opts.dir);
  if (/\s/.test(dir)) throw new UserError(`sandbox directory "${dir}" contains whitespace; choose a path without spaces`);
  const profile: SandboxProfile = opts.profile ?? 'friendly';
  if (profile !== 'friendly' && profile !== 'production') throw new UserError(`--profile ${String(profile)}: use friendly or production`);
  const replicas = opts.replicas ?? (profile === 'production' ? PRODUCTION_PROFILE.replicas_default : DEFAULTS.replicas);
  if (!Number.isInteger(replicas) || replicas < 0 || replicas > 20) throw new UserError(`--replicas ${replicas}: give a whole number from 0 to 20`);
  const port = checkPort('port', opts.port ?? DEFAULTS.port);
  const sshPort = checkPort('ssh port', opts.sshPort ?? DEFAULTS.sshPort);
  const clusterName = opts.clusterName ?? DEFAULTS.clusterName;
  if (!/^[A-Za-z0-9_.-]+$/.test(clusterName)) throw new UserError(`cluster name "${clusterName}": use letters, digits, '_', '.', '-'`);
  const gtid = opts.gtid ?? false;
  const withSsh = opts.ssh ?? true;
  const netnsPlan = opts.netns ? planNetns(dir, opts.netns === true ? {} : opts.netns, replicas + 1) : undefined;
  const addresses = netnsPlan ? netnsPlan.hosts.map((h) => h.address) : sandboxAddresses(opts.baseAddress ?? DEFAULTS.baseAddress, replicas + 1);

  await assertRootAndMysqlUser();
  const flavor = await detectFlavor();
  const sshBins = withSsh ? await findSshBinaries() : undefined;

  const existing = await readSandbox(dir);
  if (existing) {
    if (runningProcesses(existing).length > 0) {
      throw new UserError(`a sandbox is already running in ${dir}`, { hint: `run \`mhats sandbox down --dir ${dir}\` first, or use another --dir` });
    }
    await sandboxDown(dir); // leftovers of a dead one
  } else {
    // down removes the whole directory, so it must be the sandbox's own.
    const entries = await readdir(dir).catch(() => [] as string[]);
    if (entries.length > 0) {
      throw new UserError(`${dir} exists and is not empty (and holds no sandbox.json)`, { hint: 'give --dir a new or empty directory: `sandbox down` removes it entirely' });
    }
  }

  if (netnsPlan) {
    assertNetnsFree(netnsPlan.net, netnsPlan.hosts);
  } else {
    for (const a of addresses) await probeFree(a, port, 'MySQL');
    if (withSsh) for (const a of addresses) await probeFree(a, sshPort, 'ssh');
  }

  await mkdir(dir, { recursive: true, mode: 0o755 });
  await chmod(dir, 0o755); // mysql must be able to reach its datadir below it

  const servers: SandboxServer[] = addresses.map((address, i) => {
    const name = `db${i + 1}`;
    const sd = join(dir, name);
    return {
      name,
      address,
      port,
      serverId: i + 1,
      role: i === 0 ? 'master' : 'replica',
      datadir: join(sd, 'data'),
      socket: join(sd, 'mysqld.sock'),
      pidFile: join(sd, 'mysqld.pid'),
      cnf: join(sd, 'my.cnf'),
      errorLog: join(sd, 'error.log'),
      pid: 0,
      settings: profileSettings(profile, name, i === 0, opts.servers?.[name]),
      ...(netnsPlan ? { netns: { ns: netnsPlan.hosts[i]!.ns, veth: netnsPlan.hosts[i]!.veth } satisfies ServerNetns } : {}),
    };
  });
  const info: SandboxInfo = {
    dir,
    clusterName,
    gtid,
    profile,
    servers,
    adminUser: 'mhats',
    adminPasswordFile: join(dir, 'mhats.password'),
    replUser: 'repl',
    replPasswordFile: join(dir, 'repl.password'),
    configFile: join(dir, 'mhats.yaml'),
    mhaConfigFile: join(dir, 'app1.cnf'),
    clientConfigFile: join(dir, 'mhats-client.cnf'),
    flavor: flavor.kind,
    serverBinary: flavor.server,
    ...(netnsPlan ? { netns: netnsPlan.net } : {}),
    ...(opts.startReadOnly === true ? { startReadOnly: true } : {}),
    ...(opts.powerFencing === true ? { shutdownScript: join(dir, 'poweroff.sh') } : {}),
  };
  await saveState(info); // from here on, `down` can clean up whatever we start

  try {
    if (info.netns && netnsPlan) {
      const net = info.netns;
      await createBridge(net, () => saveState(info));
      for (const h of netnsPlan.hosts) await createHost(net, h, () => saveState(info));
    }
    const adminPassword = password();
    const replPassword = password();
    await writeFile(info.adminPasswordFile, `${adminPassword}\n`, { mode: 0o600 });
    await writeFile(info.replPasswordFile, `${replPassword}\n`, { mode: 0o600 });
    await Promise.all([mkdir(join(dir, 'state'), { recursive: true }), mkdir(join(dir, 'work'), { recursive: true })]);

    const template = await ensureTemplate(flavor);

    const sshReady = (async () => {
      if (!sshBins) return;
      const ssh = await prepareSsh(sshBins, dir, addresses, sshPort);
      info.ssh = ssh;
      await saveState(info);
      if (!info.netns) {
        ssh.pid = await startSshd(sshBins, ssh);
        await saveState(info);
        await verifySsh(sshBins, ssh, addresses);
        return;
      }
      // One sshd per host, in its namespace, on its address.
      for (const s of servers) {
        const files = await hostSshdConfig(ssh, s.name, s.address);
        await checkSshdConfig(sshBins, files.configFile);
        s.sshd = { pid: spawnInNetns(s.netns!.ns, sshBins.sshd, ['-D', '-e', '-f', files.configFile], files.logFile), ...files };
        await saveState(info);
      }
      const byAddress = new Map(servers.map((s) => [s.address, s.sshd!]));
      await verifySsh(sshBins, ssh, addresses, 20_000, (a) => byAddress.get(a) ?? { pid: 0, logFile: ssh.logFile });
    })();

    const serversReady = Promise.all(
      servers.map(async (s) => {
        await mkdir(serverDir(s), { recursive: true, mode: 0o750 });
        await execa('cp', ['-a', template, s.datadir], { timeout: 60_000 });
        await writeFile(s.cnf, serverCnf({ server: s, flavor, gtid, extra: opts.extraServerOptions ?? [], startReadOnly: opts.startReadOnly === true }), { mode: 0o644 });
        await execa('chown', ['-R', 'mysql:mysql', serverDir(s)], { timeout: 30_000 });
        s.pid = spawnServer(flavor, s);
        await saveState(info);
        await waitReady(s);
        await rootSql(s, accountsSql(flavor, { user: info.adminUser, password: adminPassword }, { user: info.replUser, password: replPassword }, info.netns ? `${info.netns.subnet}.%` : '127.%'));
      }),
    );
    const results = await Promise.allSettled([serversReady, sshReady]);
    for (const r of results) if (r.status === 'rejected') throw r.reason;

    const master = servers[0];
    if (!master) throw new Error('no master');
    if (opts.startReadOnly === true) await rootSql(master, 'SET GLOBAL read_only=OFF');
    const coords = gtid ? undefined : await masterCoordinates(flavor, master);
    await Promise.all(
      servers.slice(1).map(async (r) => {
        await rootSql(r, changeMasterSql(flavor, { master, replUser: info.replUser, replPassword, gtid, coords, delay: r.settings?.delay, heartbeat: profile === 'production' ? null : 1 }));
        await waitReplicating(flavor, r);
      }),
    );

    if (info.shutdownScript) await writeFile(info.shutdownScript, poweroffScript(info), { mode: 0o755 });
    await writeFile(info.configFile, mhatsYaml(info), { mode: 0o644 });
    await writeFile(info.mhaConfigFile, mhaCnf(info, adminPassword, replPassword), { mode: 0o600 });
    await writeFile(info.clientConfigFile, clientCnf(info, adminPassword), { mode: 0o600 });
    await saveState(info);
    return info;
  } catch (err) {
    await saving.catch(() => undefined);
    try {
      await sandboxDown(dir);
    } catch (downErr) {
      const msg = downErr instanceof Error ? downErr.message : String(downErr);
      process.stderr.write(`mhats: cleaning up the half-started sandbox failed too: ${msg}\n`);
    }
    throw err;
  }
}

// ---------------------------------------------------------------- down

interface Proc {
  what: string;
  pid: number;
  marker: string;
}

function processes(info: SandboxInfo): Proc[] {
  const list: Proc[] = info.servers.map((s) => ({ what: `${s.name} (mariadbd)`, pid: s.pid, marker: s.cnf }));
  for (const s of info.servers) if (s.sshd) list.push({ what: `${s.name} (sshd)`, pid: s.sshd.pid, marker: s.sshd.configFile });
  if (info.ssh) list.push({ what: 'sshd', pid: info.ssh.pid, marker: info.ssh.configFile });
  return list.filter((p) => p.pid > 1);
}

/** Servers started again under another PID than the recorded one (by hand, or by a drill over SSH): found by their options file. */
function strayServers(info: SandboxInfo): Proc[] {
  const known = new Set(processes(info).map((p) => p.pid));
  return info.servers.flatMap((s) => processesNaming(`--defaults-file=${s.cnf}`).filter((pid) => !known.has(pid)).map((pid) => ({ what: `${s.name} (mariadbd, restarted as PID ${pid})`, pid, marker: `--defaults-file=${s.cnf}` })));
}

function runningProcesses(info: SandboxInfo): Proc[] {
  return processes(info).filter((p) => isOurs(p.pid, p.marker));
}

const KNOWN_FILES = ['mhats.yaml', 'app1.cnf', 'mhats-client.cnf', 'mhats.password', 'repl.password', 'ssh', 'state', 'work'];

/**
 * Remove the sandbox directory. `up` only uses a new or empty directory, so
 * one holding sandbox.json is all ours (tests may add files to it). Without
 * sandbox.json, remove only what a sandbox writes, then the directory if empty.
 */
async function removeFiles(dir: string, info: SandboxInfo | undefined): Promise<void> {
  if (info) {
    await rm(dir, { recursive: true, force: true });
    return;
  }
  const names = new Set(KNOWN_FILES);
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const e of entries) {
    if (/^db\d+$/.test(e) && existsSync(join(dir, e, 'my.cnf'))) names.add(e);
    if (e.startsWith(`${STATE_FILE}.tmp-`)) names.add(e);
  }
  await Promise.all([...names].map((n) => rm(join(dir, n), { recursive: true, force: true })));
  await rm(join(dir, STATE_FILE), { force: true });
  try {
    await rmdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTEMPTY') throw err;
  }
}

/**
 * Stop every process the sandbox in `dir` started (by recorded PID, only
 * while its cmdline still names our config), then remove its files.
 * Succeeds on a missing or half-started sandbox.
 */
export async function sandboxDown(dir: string, opts: { log?: (line: string) => void } = {}): Promise<void> {
  const d = resolve(dir);
  const log = opts.log ?? ((line: string) => process.stderr.write(`mhats: ${line}\n`));
  const info = await readSandbox(d);
  if (info) {
    const results = await Promise.all(
      processes(info).map(async (p) => ({ p, state: await stopOwned(p.pid, p.marker) })),
    );
    for (const { p, state } of results) {
      if (state === 'foreign') log(`not stopping PID ${p.pid}: it is no longer ${p.what} of this sandbox (its command line does not name ${p.marker})`);
    }
    await Promise.all(strayServers(info).map((p) => stopOwned(p.pid, p.marker)));
    if (info.netns) {
      const problems = destroyNetnsSync(info.netns);
      if (problems.length > 0) throw new Error(`could not remove the sandbox's network: ${problems.join('; ')}`);
    }
  }
  await removeFiles(d, info);
}

/** Synchronous last resort for process 'exit'/signal handlers: SIGKILL our processes, remove the files. */
export function sandboxKillSync(dir: string): void {
  const d = resolve(dir);
  const info = readSandboxSync(d);
  if (!info) return;
  const all = (): Proc[] => [...processes(info), ...strayServers(info)];
  for (const p of all()) killOwnedSync(p.pid, p.marker);
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline && all().some((p) => isOurs(p.pid, p.marker))) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  if (info.netns) destroyNetnsSync(info.netns);
  rmSync(d, { recursive: true, force: true });
}

// ---------------------------------------------------------------- one server

/**
 * Signal one server by its recorded PID (only while it is still ours).
 * SIGTERM and SIGKILL wait until it has exited (SIGTERM escalates to SIGKILL
 * after 60 s); SIGSTOP/SIGCONT return at once.
 */
export async function stopServer(server: SandboxServer, signal: 'SIGKILL' | 'SIGTERM' | 'SIGSTOP' | 'SIGCONT'): Promise<void> {
  const state = ownedState(server.pid, server.cnf);
  if (state === 'gone') return;
  if (state === 'foreign') throw new Error(`${server.name}: PID ${server.pid} is not this sandbox's server any more; not signalling it`);
  switch (signal) {
    case 'SIGSTOP':
    case 'SIGCONT':
      sendSignal(server.pid, signal);
      return;
    case 'SIGKILL':
      sendSignal(server.pid, 'SIGKILL');
      if (!(await waitGone(server.pid, 15_000))) throw new Error(`${server.name}: PID ${server.pid} did not exit after SIGKILL`);
      return;
    case 'SIGTERM':
      await stopOwned(server.pid, server.cnf, 60_000);
      return;
  }
}

/**
 * Start a stopped server again with its own options file, wait until it
 * answers, and record the new PID in sandbox.json. A server that is still
 * running is returned unchanged.
 */
export async function startServer(server: SandboxServer): Promise<SandboxServer> {
  if (isOurs(server.pid, server.cnf)) return server;
  const flavor = await detectFlavor();
  const updated: SandboxServer = { ...server, pid: spawnServer(flavor, server) };
  const dir = sandboxDirOf(server);
  const info = await readSandbox(dir);
  if (info) {
    info.servers = info.servers.map((s) => (s.name === server.name ? { ...s, pid: updated.pid } : s));
    await saveState(info);
  }
  await waitReady(updated);
  return updated;
}

/** Whether the server's recorded PID is alive and still ours. */
export function serverAlive(server: SandboxServer): boolean {
  return isAlive(server.pid) && isOurs(server.pid, server.cnf);
}

// ---------------------------------------------------------------- network faults (netns sandboxes)

function netHost(info: SandboxInfo, name: string): { net: NonNullable<SandboxInfo['netns']>; host: ServerNetns } {
  const s = info.servers.find((x) => x.name === name);
  if (!s) throw new UserError(`no server ${name} in the sandbox in ${info.dir}`);
  if (!info.netns || !s.netns) throw new UserError(`the sandbox in ${info.dir} does not run its hosts in network namespaces`, { hint: 'start it with `mhats sandbox up --netns`' });
  return { net: info.netns, host: s.netns };
}

/** Cut a server's host off entirely (its veth down on the root side): neither SQL nor SSH answers, connects time out. */
export async function sandboxCutHost(info: SandboxInfo, name: string): Promise<void> {
  const { host } = netHost(info, name);
  await cutHost(host);
}

/** Cut only the manager's route to a server's host; the application address and the other hosts still reach it. */
export async function sandboxCutManagerRoute(info: SandboxInfo, name: string): Promise<void> {
  const { net, host } = netHost(info, name);
  await cutManagerRoute(net, host);
}

/** Undo every network fault on a server's host (also an `ip link set eth0 down` made inside it). */
export async function sandboxHealHost(info: SandboxInfo, name: string): Promise<void> {
  const { net, host } = netHost(info, name);
  await healHost(net, host);
}

/** The network faults on a server's host now. */
export async function sandboxHostFaults(info: SandboxInfo, name: string): Promise<{ cut: boolean; managerRouteCut: boolean; innerLinkDown: boolean }> {
  const { net, host } = netHost(info, name);
  return hostFaults(net, host);
}
