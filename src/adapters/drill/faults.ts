/**
 * Faults on a database host, over SSH as the manager's SSH user: only what
 * that access already allows, plus `kill` and `ip` on the host (root, or
 * passwordless sudo for them). Before anything is done, probe() finds the
 * server's mysqld (its pid_file, checked against /proc/PID/cmdline, so a
 * reused PID is never signalled), its command line (to start it again) and
 * the interface its SSH session arrived on (for netdown); a fault that is not
 * possible there is refused with the reason, touching nothing.
 */
import { readFileSync } from 'node:fs';
import { sshExec, type SshClientOptions, type SshTarget } from '../ssh/client.js';

export interface SshAccess {
  target: SshTarget;
  options: SshClientOptions;
}

export interface HostProbe {
  pidFile: string;
  pid: number | undefined;
  /** mysqld's argv, as /proc/PID/cmdline has it. */
  cmdline: string[];
  /** Interface carrying the address the SSH session arrived on. */
  iface: string | undefined;
  /** That address. */
  address: string | undefined;
  root: boolean;
  sudo: boolean;
  ip: boolean;
  problems: string[];
}

const PROBE = `
pf="$1"
pid=$(tr -d ' \\n' < "$pf" 2>/dev/null)
echo "pid=$pid"
if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ]; then echo "cmdline=$(od -An -v -tx1 "/proc/$pid/cmdline" | tr -d ' \\n')"; fi
echo "uid=$(id -u)"
if sudo -n true 2>/dev/null; then echo "sudo=1"; fi
set -- $SSH_CONNECTION
echo "address=$3"
if command -v ip >/dev/null 2>&1; then
  echo "ip=1"
  echo "iface=$(ip -o addr show 2>/dev/null | awk -v a="$3" '{split($4,x,"/"); if (x[1]==a) {print $2; exit}}')"
fi
`;

function hexToArgv(hex: string): string[] {
  const buf = Buffer.from(hex, 'hex');
  return buf
    .toString('utf8')
    .split('\0')
    .filter((s) => s.length > 0);
}

async function run(a: SshAccess, script: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await sshExec(a.target, ['sh', '-c', script, 'mhats-drill', ...args], { ...a.options, timeoutMs });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

export async function probeHost(a: SshAccess, pidFile: string, timeoutMs = 15_000): Promise<HostProbe> {
  const r = await run(a, PROBE, [pidFile], timeoutMs);
  const kv = new Map(
    r.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
  );
  const pid = /^\d+$/.test(kv.get('pid') ?? '') ? Number(kv.get('pid')) : undefined;
  const cmdline = kv.get('cmdline') ? hexToArgv(kv.get('cmdline')!) : [];
  const p: HostProbe = {
    pidFile,
    pid,
    cmdline,
    iface: kv.get('iface') || undefined,
    address: kv.get('address') || undefined,
    root: kv.get('uid') === '0',
    sudo: kv.get('sudo') === '1',
    ip: kv.get('ip') === '1',
    problems: [],
  };
  if (pid === undefined) p.problems.push(`no mysqld PID in ${pidFile} (${r.stderr.trim() || 'empty or unreadable'})`);
  else if (!cmdline.some((c) => /(^|\/)(mysqld|mariadbd)$/.test(c))) p.problems.push(`PID ${pid} from ${pidFile} is not a mysqld/mariadbd (${cmdline[0] ?? 'gone'})`);
  return p;
}

/** What a fault needs on the host, or why it is not possible there (undefined: possible). */
export function faultImpossible(kind: 'signal' | 'netdown' | 'start', p: HostProbe, who: string): string | undefined {
  if (kind !== 'netdown' && p.problems.length > 0) return p.problems.join('; ');
  if (!p.root && !p.sudo) return `${who} is not root and has no passwordless sudo: it cannot ${kind === 'netdown' ? 'take the network interface down' : kind === 'start' ? 'start mysqld' : 'signal mysqld'}`;
  if (kind === 'netdown') {
    if (!p.ip) return 'the host has no `ip` command (iproute2): netdown cannot be injected there';
    if (!p.iface) return `no interface on the host carries ${p.address ?? 'the SSH address'}: netdown cannot find what to take down`;
    if (p.iface === 'lo' || (p.address ?? '').startsWith('127.') || p.address === '::1') {
      return `the host is reached over the loopback interface (${p.address ?? '?'} on ${p.iface}): taking it down would cut off the whole machine, not one database host (use a sandbox with --netns for a real netdown)`;
    }
  }
  return undefined;
}

const SIGNAL = `
pid="$1"; sig="$2"; want="$3"
[ -r "/proc/$pid/cmdline" ] || { echo "PID $pid is gone" >&2; exit 3; }
now=$(od -An -v -tx1 "/proc/$pid/cmdline" | tr -d ' \\n')
[ "$now" = "$want" ] || { echo "PID $pid is not the mysqld probed before" >&2; exit 4; }
$SUDO kill -"$sig" "$pid"
`;

function argvHex(argv: string[]): string {
  return Buffer.from(`${argv.join('\0')}\0`, 'utf8').toString('hex');
}

/** Signal the probed mysqld (KILL, STOP, CONT, TERM), only while /proc/PID/cmdline is still the one probed. */
export async function signalMysqld(a: SshAccess, p: HostProbe, sig: 'KILL' | 'STOP' | 'CONT' | 'TERM', timeoutMs = 15_000): Promise<void> {
  if (p.pid === undefined) throw new Error('no mysqld PID probed');
  const r = await run(a, `SUDO=${p.root ? '' : "'sudo -n'"}\n${SIGNAL}`, [String(p.pid), sig, argvHex(p.cmdline)], timeoutMs);
  if (r.code !== 0) throw new Error(`kill -${sig} ${p.pid} on ${a.target.label} failed (exit ${r.code}): ${r.stderr.trim()}`);
}

/**
 * A sandbox host runs on this machine: its mysqld is signalled from here, at
 * a known instant (a benchmark's fault time is not blurred by an SSH round
 * trip), only while /proc/PID/cmdline is still the one probed.
 */
export function signalMysqldLocal(p: HostProbe, sig: 'KILL' | 'STOP' | 'CONT' | 'TERM'): void {
  if (p.pid === undefined) throw new Error('no mysqld PID probed');
  let now: string;
  try {
    now = readFileSync(`/proc/${p.pid}/cmdline`).toString('hex');
  } catch {
    throw new Error(`PID ${p.pid} is gone`);
  }
  if (now !== argvHex(p.cmdline)) throw new Error(`PID ${p.pid} is not the mysqld probed before`);
  process.kill(p.pid, `SIG${sig}`);
}

/**
 * Take the host's interface down and up again after `seconds`, by a detached
 * process on the host itself (the SSH session is cut with the network, and
 * the network must come back even if the drill dies).
 */
export async function netdown(a: SshAccess, p: HostProbe, seconds: number, timeoutMs = 15_000): Promise<void> {
  if (!p.iface) throw new Error('no interface probed');
  const sudo = p.root ? '' : 'sudo -n ';
  const script = `setsid sh -c 'sleep 0.5; ${sudo}ip link set "$0" down; sleep "$1"; ${sudo}ip link set "$0" up' "$1" "$2" </dev/null >/dev/null 2>&1 &\necho scheduled`;
  const r = await run(a, script, [p.iface, String(Math.max(1, Math.round(seconds)))], timeoutMs);
  if (r.code !== 0 || !r.stdout.includes('scheduled')) throw new Error(`netdown on ${a.target.label} could not be scheduled (exit ${r.code}): ${r.stderr.trim()}`);
}

/** Start mysqld again: `command` (a shell command line) or the probed command line, detached. */
export async function startMysqld(a: SshAccess, p: HostProbe, command: string | undefined, timeoutMs = 20_000): Promise<void> {
  const sudo = p.root ? '' : 'sudo -n ';
  const script = command !== undefined ? `${sudo}sh -c "$1"` : `cd / && ${sudo}setsid "$@" </dev/null >/dev/null 2>&1 &\necho started`;
  const args = command !== undefined ? [command] : p.cmdline;
  if (command === undefined && args.length === 0) throw new Error('no command line probed to start mysqld with');
  const r = await run(a, script, args, timeoutMs);
  if (r.code !== 0) throw new Error(`starting mysqld on ${a.target.label} failed (exit ${r.code}): ${r.stderr.trim()}`);
}

/** Does the host hold this address (a VIP) on any interface? */
export async function holdsAddress(a: SshAccess, address: string, timeoutMs = 10_000): Promise<boolean> {
  const r = await run(a, `ip -o addr show | awk -v a="$1" '{split($4,x,"/"); if (x[1]==a) f=1} END {print f ? "yes" : "no"}'`, [address], timeoutMs);
  if (r.code !== 0) throw new Error(`ip addr on ${a.target.label} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r.stdout.trim() === 'yes';
}
