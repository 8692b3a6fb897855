import type { Command } from '@commander-js/extra-typings';

export function registerCheckRepl(program: Command): void {
  program.command('check-repl').description('(not yet implemented)');
}
