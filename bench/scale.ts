/**
 * Scale benchmark of the monitoring path: one `mhats manager` with
 * ping_interval=1 watching N simulated MariaDB 10.11 servers (clusters of one
 * master and two replicas) for a window of W seconds, for each N. The servers
 * are MySQL-protocol simulators (bench/scale/sim.ts, a hand-written protocol
 * loop) on 127.1.x.y:3306 in one process (--sim-procs); the manager is the built CLI in its own process.
 *
 * Reported per N: the manager's CPU (% of one core) and RSS (end of the
 * window / peak), event-loop lag p99 and health-check latency p99 (from its
 * /metrics, over the window), failed health checks during the window (every
 * server is healthy, so each one is a missed check), clusters watched
 * healthy, and the detection time of one cluster whose master stops
 * answering while all the others are watched: first failed health check →
 * "MASTER ... IS DEAD" (and kill → dead). A run with that one cluster alone is
 * the reference.
 *
 * This is a load benchmark of the monitoring path. It proves nothing about
 * failover.
 *
 *   npm run bench:scale                      # N = 30, 300, 1000, 3000; 60 s each
 *   npm run bench:scale -- --sizes 30,300 --window 20
 *
 * Writes bench/results/scale.json and bench/results/scale.svg (CPU and RSS against N).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { SimReply, SimRequest, SimServer } from './scale/sim.js';
import { plotScale } from './scale/plot.js';
import { onInterrupt } from './interrupt.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '30,300,1000,3000' },
    window: { type: 'string', default: '60' },
    rate: { type: 'string', default: '50' },
    'max-lag-ms': { type: 'string', default: '20' },
    'ping-type': { type: 'string', default: 'CONNECT' },
    out: { type: 'string', default: 'bench/results' },
    /** The plot, kept with the README. */
    svg: { type: 'string', default: 'docs/bench/scale.svg' },
    label: { type: 'string', default: '' },
    /** Scheduling priority of the manager and the simulators (nice(1); negative needs root). On a shared machine, a negative value keeps other load from being measured as the manager's latency. */
    nice: { type: 'string', default: '0' },
    /** The manager's entry point (a copy of dist/ lets a baseline run while the code changes). */
    manager: { type: 'string', default: 'dist/cli/bin.js' },
    /** Earlier runs (scale.json files, with their label) drawn in the same plot: --compare 'before=bench/results/scale-baseline.json'. */
    compare: { type: 'string', multiple: true, default: [] },
    /** Extra node options for the manager, e.g. --node-arg=--cpu-prof --node-arg=--cpu-prof-dir=/tmp/prof */
    'node-arg': { type: 'string', multiple: true, default: [] },
    /** Simulator processes (each serves every k-th cluster). */
    'sim-procs': { type: 'string', default: '1' },
    /** Skip the reference run of the detection cluster alone (quick profiling runs). */
    'no-alone': { type: 'boolean', default: false },
  },
});
const sizes = values.sizes.split(',').map(Number);
const windowS = Number(values.window);
const rate = Number(values.rate);
const pingType = values['ping-type'];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function addr(i: number): string {
  return `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

interface Layout {
  clusters: Array<{ name: string; servers: SimServer[] }>;
}

function layout(n: number): Layout {
  const clusters: Layout['clusters'] = [];
  const count = Math.max(1, Math.ceil(n / 3));
  for (let c = 0; c < count; c++) {
    const name = `c${String(c).padStart(4, '0')}`;
    const ids = [0, 1, 2].map((k) => c * 3 + k);
    const master = `${name}-db1`;
    clusters.push({
      name,
      servers: ids.map((i, k) => ({ name: `${name}-db${k + 1}`, host: addr(i), port: 3306, serverId: i + 1, master: k === 0 ? undefined : master })),
    });
  }
  return { clusters };
}

function configYaml(l: Layout, stateDir: string): string {
  const lines = [
    `state_dir: ${stateDir}`,
    'http:',
    '  listen: 127.0.80.1:0',
    'defaults:',
    '  user: mhats',
    '  password: bench',
    '  ssh_user: mhats',
    '  repl_user: repl',
    '  repl_password: bench',
    '  ping_interval: 1',
    `  ping_type: ${pingType}`,
    '  manager_workdir: ' + stateDir,
    '  ssh:',
    `    known_hosts: ${join(stateDir, 'known_hosts')}`,
    '    connect_timeout: 2',
    'clusters:',
  ];
  for (const c of l.clusters) {
    lines.push(`  ${c.name}:`, '    servers:');
    for (const s of c.servers) lines.push(`      - { name: ${s.name}, hostname: ${s.host}, port: ${s.port}, candidate_master: true }`);
  }
  return lines.join('\n') + '\n';
}

/** The command under nice(1) when --nice is given: every thread of the process (libuv's pool, V8's helpers) gets the priority. */
function niced(cmd: string[]): [string, string[]] {
  const n = Number(values.nice);
  return n === 0 ? [cmd[0]!, cmd.slice(1)] : ['nice', ['-n', String(n), ...cmd]];
}

class Sim {
  readonly child: ChildProcess;
  #waiters: Array<(r: SimReply) => void> = [];
  constructor() {
    this.child = spawn(...niced([process.execPath, '--import', 'tsx', new URL('./scale/sim.ts', import.meta.url).pathname]), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (r: SimReply) => this.#waiters.shift()?.(r));
  }
  ask(req: SimRequest): Promise<SimReply> {
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      this.child.send(req);
    });
  }
  stop(): void {
    this.child.kill('SIGKILL');
  }
}

interface LogLine {
  time?: number;
  msg: string;
  cluster?: string;
  url?: string;
  [k: string]: unknown;
}

/** The manager under test; its log goes to a file (a pipe the bench reads slowly would block its synchronous log writes). */
class Manager {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  readonly logFile: string;
  #fd: number;
  #offset = 0;
  #buf = '';
  constructor(conf: string, dir: string) {
    this.logFile = join(dir, 'manager.log');
    this.#fd = openSync(this.logFile, 'a+');
    this.child = spawn(...niced([process.execPath, ...values['node-arg'], values.manager, 'manager', '--conf', conf, '--log-format', 'json', '--log-level', 'info']), { stdio: ['ignore', this.#fd, this.#fd] });
  }
  /** Reads what the manager logged since the last call. */
  poll(): void {
    const chunk = Buffer.alloc(1 << 20);
    for (;;) {
      const n = readSync(this.#fd, chunk, 0, chunk.length, this.#offset);
      if (n <= 0) break;
      this.#offset += n;
      this.#buf += chunk.subarray(0, n).toString('utf8');
    }
    let i: number;
    while ((i = this.#buf.indexOf('\n')) >= 0) {
      const line = this.#buf.slice(0, i);
      this.#buf = this.#buf.slice(i + 1);
      try {
        this.lines.push(JSON.parse(line) as LogLine);
      } catch {
        if (line.trim() !== '') process.stderr.write(`[manager] ${line}\n`);
      }
    }
  }
  async waitFor(pred: (l: LogLine) => boolean, timeoutMs: number, from = 0): Promise<LogLine> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      this.poll();
      const l = this.lines.slice(from).find(pred);
      if (l) return l;
      if (this.child.exitCode !== null) throw new Error(`manager exited (${this.child.exitCode})`);
      if (Date.now() > end) throw new Error(`timed out waiting in the manager's log (last: ${this.lines.at(-1)?.msg ?? ''})`);
      await sleep(100);
    }
  }
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.kill('SIGTERM');
    for (let i = 0; i < 100 && this.child.exitCode === null; i++) await sleep(100);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
    closeSync(this.#fd);
  }
}

/** The main thread's time waiting for a CPU on a run queue (ns, /proc/PID/schedstat): starvation by other load, not the manager's own work. */
function runQueueWaitNs(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]);
  } catch {
    return NaN;
  }
}

function procStat(pid: number): { cpuTicks: number; sysTicks: number; rssKb: number; hwmKb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { cpuTicks, sysTicks: Number(f[12]), rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

const CLK_TCK = 100;

type Samples = Map<string, number>;

function parseMetrics(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

function sum(s: Samples, pred: (k: string) => boolean): number {
  let t = 0;
  for (const [k, v] of s) if (pred(k)) t += v;
  return t;
}

/** p99 of the health-check latency from the histogram's bucket deltas (upper bound of the bucket). */
function histP99(a: Samples, b: Samples, name: string): number {
  const buckets = new Map<number, number>();
  for (const [k, v] of b) {
    if (!k.startsWith(`${name}_bucket{`)) continue;
    const le = /le="([^"]+)"/.exec(k)?.[1] ?? '+Inf';
    const bound = le === '+Inf' ? Infinity : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + v - (a.get(k) ?? 0));
  }
  const sorted = [...buckets.entries()].sort((x, y) => x[0] - y[0]);
  if (process.env.SCALE_DEBUG) console.log(sorted);
  const total = sorted.at(-1)?.[1] ?? 0;
  for (const [bound, count] of sorted) if (count >= total * 0.99) return bound * 1000;
  return NaN;
}

async function scrape(url: string): Promise<Samples> {
  const r = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(30_000) });
  return parseMetrics(await r.text());
}

export interface Row {
  servers: number;
  clusters: number;
  cpuPct: number;
  /** The part of cpuPct spent in the kernel (sockets: connect, write, close). */
  sysPct?: number;
  /** Share of the window the manager's event-loop thread was runnable but waiting for a CPU (other load on the machine). */
  waitPct?: number;
  rssEndMb: number;
  rssPeakMb: number;
  /** The highest RSS sampled within the window (rssPeakMb is the process's high-water mark, startup included). */
  rssWindowPeakMb?: number;
  /** When the highest sampled RSS was seen, and when the window began (s after the manager started). */
  rssPeakAtS?: number;
  windowFromS?: number;
  /** [s after start, RSS MB] every 0.5 s until the end of the window. */
  rssSeries?: Array<[number, number]>;
  loopLagP99Ms: number;
  checkP99Ms: number;
  checks: number;
  failedChecks: number;
  healthy: number;
  broken: number;
  detectMs: number | undefined;
  killToDeadMs: number | undefined;
  unknownStatements: Record<string, number>;
  /** V8 heap used / reserved and memory outside the heap (buffers) at the end of the window, MB (the manager's /metrics). */
  heapUsedMb?: number;
  heapTotalMb?: number;
  externalMb?: number;
  /** CPU of the simulator processes (% of one core), for context. */
  simCpuPct: number;
  /** The machine's 1-minute load average at the end of the window (2 cores, shared). */
  load1: number;
}

async function runOne(n: number, window: number): Promise<Row> {
  const l = layout(n);
  const servers = l.clusters.length * 3;
  mkdirSync(values.out, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'mhats-scale-'));
  const procs = Math.max(1, Number(values['sim-procs']));
  const sims = Array.from({ length: procs }, () => new Sim());
  const home = new Map<string, Sim>();
  let mgr: Manager | undefined;
  const cleanUp = onInterrupt(async () => {
    await mgr?.stop();
    for (const s of sims) s.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    for (let p = 0; p < procs; p++) {
      const mine = l.clusters.filter((_, i) => i % procs === p);
      for (const c of mine) for (const s of c.servers) home.set(s.name, sims[p]!);
      const r = await sims[p]!.ask({ type: 'start', servers: mine.flatMap((c) => c.servers), rate, maxLagMs: Number(values['max-lag-ms']) });
      if (r.type !== 'started') throw new Error(`simulator: ${JSON.stringify(r)}`);
    }
    writeFileSync(join(dir, 'known_hosts'), '');
    const conf = join(dir, 'mhats.yaml');
    writeFileSync(conf, configYaml(l, dir));
    mgr = new Manager(conf, dir);
    const pid = mgr.child.pid!;
    // RSS from the start (the peak may come before the window: loading the config, the first inspections).
    const spawnedAt = performance.now();
    const rssSeries: Array<[number, number]> = [];
    const rssTimer = setInterval(() => {
      try {
        rssSeries.push([Math.round((performance.now() - spawnedAt) / 100) / 10, Math.round(procStat(pid).rssKb / 1024)]);
      } catch {
        // exited
      }
    }, 500);
    const httpLine = await mgr.waitFor((x) => typeof x.url === 'string' && x.msg.startsWith('HTTP endpoint on'), 60_000);
    const url = httpLine.url!;
    await mgr.waitFor((x) => x.msg.startsWith('ready:'), 120_000);
    await sleep(5000); // warm-up: every loop past its first inspection
    const m0 = await scrape(url);
    const s0 = procStat(pid);
    const w0 = runQueueWaitNs(pid);
    const sim0 = sims.reduce((t, x) => t + procStat(x.child.pid!).cpuTicks, 0);
    const t0 = performance.now();
    let peakKb = s0.rssKb;
    const end = t0 + window * 1000;
    while (performance.now() < end) {
      await sleep(Math.min(1000, end - performance.now()));
      peakKb = Math.max(peakKb, procStat(pid).rssKb);
    }
    const s1 = procStat(pid);
    clearInterval(rssTimer);
    const windowFrom = Math.round((t0 - spawnedAt) / 100) / 10;
    const peakAt = rssSeries.reduce((best, x) => (x[1] > best[1] ? x : best), [0, 0] as [number, number]);
    const w1 = runQueueWaitNs(pid);
    const sim1 = sims.reduce((t, x) => t + procStat(x.child.pid!).cpuTicks, 0);
    const t1 = performance.now();
    const load1 = loadavg()[0]!;
    const m1 = await scrape(url);
    const cpuPct = (((s1.cpuTicks - s0.cpuTicks) / CLK_TCK) * 1000 * 100) / (t1 - t0);
    const failed = sum(m1, (k) => k.startsWith('mhats_health_check_failures_total')) - sum(m0, (k) => k.startsWith('mhats_health_check_failures_total'));
    const checks = sum(m1, (k) => k.startsWith('mhats_health_check_duration_seconds_count')) - sum(m0, (k) => k.startsWith('mhats_health_check_duration_seconds_count'));
    const watching = sum(m1, (k) => k.startsWith('mhats_monitor_state{') && k.includes('state="watching"'));
    const broken = sum(m1, (k) => k.startsWith('mhats_monitor_state{') && k.includes('state="broken"'));
    const lag = (m1.get('nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000;
    const checkP99 = histP99(m0, m1, 'mhats_health_check_duration_seconds');
    // Statements the simulators do not know, sent while monitoring (before the kill: after it, the failover's own statements follow).
    const unknown: Record<string, number> = {};
    for (const s of sims) {
      const st = await s.ask({ type: 'stats' });
      if (st.type === 'stats') for (const [q, c] of Object.entries(st.unknown)) unknown[q] = (unknown[q] ?? 0) + c;
    }
    // Detection: the first cluster's master stops answering; everything else is still watched.
    const victim = l.clusters[0]!;
    const master = victim.servers[0]!.name;
    mgr.poll();
    const from = mgr.lines.length;
    const k = await home.get(master)!.ask({ type: 'kill', name: master });
    let detectMs: number | undefined;
    let killToDeadMs: number | undefined;
    try {
      const dead = await mgr.waitFor((x) => x.cluster === victim.name && x.msg.startsWith(`MASTER ${master} IS DEAD`), 60_000, from);
      const first = mgr.lines.slice(from).find((x) => x.cluster === victim.name && x.msg.startsWith(`health check of ${master} failed (1/`));
      if (k.type === 'killed') killToDeadMs = dead.time! - k.at;
      if (first) detectMs = dead.time! - first.time!;
    } catch (err) {
      console.error(`  detection not measured: ${(err as Error).message}`);
    }
    return {
      servers,
      clusters: l.clusters.length,
      cpuPct: Math.round(cpuPct),
      sysPct: Math.round((((s1.sysTicks - s0.sysTicks) / CLK_TCK) * 1000 * 100) / (t1 - t0)),
      waitPct: Math.round(((w1 - w0) / 1e6 / (t1 - t0)) * 100),
      rssEndMb: Math.round(s1.rssKb / 1024),
      rssPeakMb: Math.round(Math.max(peakKb, s1.hwmKb) / 1024),
      rssWindowPeakMb: Math.round(peakKb / 1024),
      rssPeakAtS: peakAt[0],
      windowFromS: windowFrom,
      rssSeries,
      loopLagP99Ms: Math.round(lag),
      checkP99Ms: checkP99,
      checks,
      failedChecks: failed,
      healthy: watching,
      broken,
      detectMs,
      killToDeadMs,
      unknownStatements: unknown,
      heapUsedMb: Math.round((m1.get('nodejs_heap_size_used_bytes') ?? NaN) / 2 ** 20),
      heapTotalMb: Math.round((m1.get('nodejs_heap_size_total_bytes') ?? NaN) / 2 ** 20),
      externalMb: Math.round((m1.get('nodejs_external_memory_bytes') ?? NaN) / 2 ** 20),
      simCpuPct: Math.round((((sim1 - sim0) / CLK_TCK) * 1000 * 100) / (t1 - t0)),
      load1: Math.round(load1 * 10) / 10,
    };
  } finally {
    await mgr?.stop();
    for (const s of sims) s.stop();
    if (mgr) copyFileSync(mgr.logFile, join(values.out, `manager-${n}.log`));
    rmSync(dir, { recursive: true, force: true });
    cleanUp();
  }
}

function table(rows: Row[], alone: Row | undefined): string {
  const fmt = (n: number): string => n.toLocaleString('en-US');
  const out = [
    '| servers (clusters) | CPU, % of one core | RSS MB, end / peak | event-loop lag p99 | health check p99 | failed checks in the window | clusters healthy | detection: 1st failed check → dead (kill → dead) | manager waiting for a CPU | simulator CPU; load avg |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const det = r.detectMs === undefined ? 'n/a' : `${fmt(r.detectMs)} ms (${fmt(r.killToDeadMs ?? NaN)} ms)`;
    out.push(`| ${fmt(r.servers)} (${fmt(r.clusters)}) | ${r.cpuPct} | ${fmt(r.rssEndMb)} / ${fmt(r.rssPeakMb)} | ${fmt(r.loopLagP99Ms)} ms | ≤ ${fmt(r.checkP99Ms)} ms | ${fmt(r.failedChecks)} of ${fmt(r.checks)} | ${fmt(r.healthy)}/${fmt(r.clusters)}${r.broken ? ` (${fmt(r.broken)} broken)` : ''} | ${det} | ${r.waitPct ?? '?'}% | ${r.simCpuPct}%; ${r.load1} |`);
  }
  if (alone) out.push(`| reference: the detection cluster alone (1) | ${alone.cpuPct} | ${fmt(alone.rssEndMb)} / ${fmt(alone.rssPeakMb)} | ${fmt(alone.loopLagP99Ms)} ms | ≤ ${fmt(alone.checkP99Ms)} ms | ${fmt(alone.failedChecks)} of ${fmt(alone.checks)} | ${alone.healthy}/1 | ${alone.detectMs === undefined ? 'n/a' : `${fmt(alone.detectMs)} ms (${fmt(alone.killToDeadMs ?? NaN)} ms)`} | ${alone.waitPct ?? '?'}% | ${alone.simCpuPct}%; ${alone.load1} |`);
  return out.join('\n');
}

const rows: Row[] = [];
console.log(`mhats scale benchmark: ping_interval=1 (${pingType}), clusters of 3 simulated MariaDB 10.11 servers writing ${rate} tx/s, ${windowS} s window per size${Number(values.nice) !== 0 ? `, manager and simulators at nice ${values.nice}` : ''}`);
const alone = values['no-alone'] ? undefined : await runOne(3, Math.min(windowS, 20));
if (alone) console.log(`  alone: ${JSON.stringify({ ...alone, rssSeries: undefined })}`);
for (const n of sizes) {
  const r = await runOne(n, windowS);
  rows.push(r);
  console.log(`  N=${n}: ${JSON.stringify({ ...r, rssSeries: undefined })}`);
}
console.log('');
console.log(table(rows, alone));
mkdirSync(values.out, { recursive: true });
writeFileSync(join(values.out, `scale${values.label ? `-${values.label}` : ''}.json`), JSON.stringify({ at: new Date().toISOString(), windowS, rate, pingType, rows, alone }, null, 2));
const series = [
  ...values.compare.map((c) => {
    const [label, file] = c.includes('=') ? [c.slice(0, c.indexOf('=')), c.slice(c.indexOf('=') + 1)] : [c, c];
    return { label, rows: (JSON.parse(readFileSync(file, 'utf8')) as { rows: Row[] }).rows };
  }),
  { label: values.label || 'this run', rows },
];
mkdirSync(dirname(values.svg), { recursive: true });
writeFileSync(values.svg, plotScale(series, `mhats manager, ping_interval=1, ${windowS} s per size, clusters of 3 simulated MariaDB 10.11`));
console.log(`\nwritten: ${join(values.out, `scale${values.label ? `-${values.label}` : ''}.json`)}, ${values.svg}`);
process.exit(0);
