/**
 * Runs `mhats manager` as a real child process for integration tests, reads
 * its JSON log lines, and always stops it (by PID) when the test ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliArgs, cliMatch } from './cli.js';

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export class ManagerProcess {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  readonly raw: string[] = [];
  #buf = '';
  exited: { code: number | null; signal: string | null } | undefined;

  constructor(conf: string, extraArgs: string[] = [], pidFileDir?: string) {
    this.child = spawn(process.execPath, [...cliArgs(), 'manager', '--conf', conf, '--log-format', 'json', '--log-level', 'debug', ...extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    if (pidFileDir && this.child.pid) recordPid(pidFileDir, this.child.pid, `${cliMatch()} manager`);
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => this.#feed(d));
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (d: string) => this.raw.push(`[stderr] ${d}`));
    this.child.on('exit', (code, signal) => {
      this.exited = { code, signal };
    });
    process.once('exit', () => {
      if (!this.exited) this.child.kill('SIGKILL');
    });
  }

  #feed(d: string): void {
    this.#buf += d;
    let i: number;
    while ((i = this.#buf.indexOf('\n')) >= 0) {
      const line = this.#buf.slice(0, i);
      this.#buf = this.#buf.slice(i + 1);
      this.raw.push(line);
      try {
        this.lines.push(JSON.parse(line) as LogLine);
      } catch {
        // not JSON
      }
    }
  }

  has(re: RegExp): boolean {
    return this.lines.some((l) => re.test(l.msg));
  }

  /** The first line matching re, logged at or after line index `from`. */
  async waitFor(re: RegExp, timeoutMs = 30_000, from = 0): Promise<LogLine> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const l = this.lines.slice(from).find((x) => re.test(x.msg));
      if (l) return l;
      if (this.exited) throw new Error(`manager exited (${JSON.stringify(this.exited)}) before logging ${re}\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`manager did not log ${re} within ${timeoutMs} ms\n${this.tail(400)}`);
  }

  tail(n = 40): string {
    return this.raw.slice(-n).join('\n');
  }

  /** SIGTERM, then SIGKILL after the deadline. Resolves with how it exited. */
  async stop(timeoutMs = 15_000): Promise<{ code: number | null; signal: string | null }> {
    if (this.exited) return this.exited;
    this.child.kill('SIGTERM');
    const end = Date.now() + timeoutMs;
    while (!this.exited && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    if (!this.exited) {
      this.child.kill('SIGKILL');
      while (!this.exited) await new Promise((r) => setTimeout(r, 50));
      return { code: null, signal: 'SIGKILL (did not stop on SIGTERM)' };
    }
    return this.exited;
  }
}

/** Records a PID for scripts/cleanup-tests.mjs, the safety net after the suite. */
export function recordPid(dir: string, pid: number, match: string): void {
  const f = join(dir, 'test-pids.json');
  const list = existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as unknown[]) : [];
  list.push({ pid, match });
  writeFileSync(f, JSON.stringify(list));
}

export function appendLog(dir: string, text: string): void {
  appendFileSync(join(dir, 'test.log'), text);
}
