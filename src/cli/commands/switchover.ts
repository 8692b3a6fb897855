import type { Command } from '@commander-js/extra-typings';

export function registerSwitchover(program: Command): void {
  program.command('switchover').description('(not yet implemented)');
}
