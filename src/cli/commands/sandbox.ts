import type { Command } from '@commander-js/extra-typings';

export function registerSandbox(program: Command): void {
  program.command('sandbox').description('(not yet implemented)');
}
