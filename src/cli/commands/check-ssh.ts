import type { Command } from '@commander-js/extra-typings';

export function registerCheckSsh(program: Command): void {
  program.command('check-ssh').description('(not yet implemented)');
}
