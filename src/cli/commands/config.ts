import type { Command } from '@commander-js/extra-typings';

export function registerConfig(program: Command): void {
  program.command('config').description('(not yet implemented)');
}
