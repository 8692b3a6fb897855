import type { Command } from '@commander-js/extra-typings';

export function registerStatus(program: Command): void {
  program.command('status').description('(not yet implemented)');
}
