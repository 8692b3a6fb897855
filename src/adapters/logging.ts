/**
 * Logging with pino, written synchronously to stdout (transports run in a
 * worker thread and lose lines on exit). JSON when stdout is not a TTY (and
 * under systemd, where each line gets a journald priority prefix); a short
 * human-readable line on a TTY. Secrets are redacted by key, and Secret
 * values print as *** anyway.
 */
import { pino, type Logger as PinoLogger } from 'pino';
import type { Logger } from '../ports/logger.js';

const REDACT = [
  'password',
  'repl_password',
  '*.password',
  '*.repl_password',
  '*.*.password',
  'MHATS_NEW_MASTER_PASSWORD',
  '*.MHATS_NEW_MASTER_PASSWORD',
  'env.MHATS_MASTER_PASSWORD',
  'env.MHATS_NEW_MASTER_PASSWORD',
];

export type LogFormat = 'json' | 'pretty' | 'journald';

export interface LogOptions {
  level?: string | undefined;
  format?: LogFormat | undefined;
  /** Where lines go (tests pass their own). Default: stdout. */
  write?: ((line: string) => void) | undefined;
  /** Instead of write: each formatted line with its record (routing by cluster: manager_log). */
  sink?: ((line: string, record: Record<string, unknown>) => void) | undefined;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** syslog priorities for journald's <N> prefix. */
const JOURNALD: Record<number, number> = { 10: 7, 20: 7, 30: 6, 40: 4, 50: 3, 60: 2 };
const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

function pretty(obj: Record<string, unknown>): string {
  const t = new Date(typeof obj.time === 'number' ? obj.time : Date.now()).toISOString().slice(11, 23);
  const lvl = LEVEL_NAMES[obj.level as number] ?? String(obj.level);
  const ctx = [obj.cluster ? `[${String(obj.cluster as string)}]` : ''].filter(Boolean).join(' ');
  const extra = Object.entries(obj)
    .filter(([k]) => !SKIP.has(k) && k !== 'cluster' && k !== 'failover')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${t} ${lvl.padEnd(5)} ${ctx ? `${ctx} ` : ''}${String(obj.msg)}${extra ? `  ${extra}` : ''}`;
}

export function defaultLogFormat(): LogFormat {
  if (process.env.JOURNAL_STREAM || process.env.INVOCATION_ID) return 'journald';
  return process.stdout.isTTY ? 'pretty' : 'json';
}

export function createLogger(opts: LogOptions = {}): Logger & { flush(): void } {
  const format = opts.format ?? defaultLogFormat();
  const sink = opts.sink;
  const plain = opts.write ?? ((line: string) => process.stdout.write(line));
  const stream = {
    write(line: string): void {
      if (format === 'json' && !sink) {
        plain(line);
        return;
      }
      let obj: Record<string, unknown>;
      try {
        obj = JSON.parse(line) as Record<string, unknown>;
      } catch {
        if (sink) sink(line, {});
        else plain(line);
        return;
      }
      const write = sink ? (l: string): void => sink(l, obj) : plain;
      if (format === 'json') write(line);
      else if (format === 'journald') write(`<${JOURNALD[obj.level as number] ?? 6}>${line}`);
      else write(`${pretty(obj)}\n`);
    },
  };
  const logger: PinoLogger = pino(
    {
      level: opts.level ?? process.env.MHATS_LOG_LEVEL ?? 'info',
      base: { pid: process.pid },
      redact: { paths: REDACT, censor: '***' },
      timestamp: pino.stdTimeFunctions.epochTime,
    },
    stream,
  );
  return Object.assign(logger as unknown as Logger, { flush: () => undefined });
}
