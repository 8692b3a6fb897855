import { ExitCode, type ExitCodeValue } from './exit-codes.js';

/**
 * An error meant for the operator: it is printed as one clear line (plus an
 * optional hint), never with a stack trace, and maps to an exit code.
 */
export class UserError extends Error {
  readonly exitCode: ExitCodeValue;
  readonly hint: string | undefined;
  constructor(message: string, opts: { exitCode?: ExitCodeValue; hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'UserError';
    this.exitCode = opts.exitCode ?? ExitCode.ERROR;
    this.hint = opts.hint;
  }
}

/** A configuration problem, located at file:line where known. */
export class ConfigError extends UserError {
  readonly file: string;
  readonly line: number | undefined;
  constructor(file: string, line: number | undefined, message: string, hint?: string) {
    super(`${file}${line === undefined ? '' : `:${line}`}: ${message}`, { exitCode: ExitCode.CONFIG, ...(hint === undefined ? {} : { hint }) });
    this.name = 'ConfigError';
    this.file = file;
    this.line = line;
  }
}
