/**
 * Every mhats command has --help that documents its exit codes, and every
 * command that reads (reports state without changing it) has --json. Walks the
 * real command tree, so a new command without them fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from '@commander-js/extra-typings';
import { buildProgram } from '../../src/cli/main.js';

function helpOf(c: Command<unknown[], Record<string, unknown>, Record<string, unknown>>): string {
  let text = '';
  c.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  c.outputHelp();
  return text;
}

type AnyCommand = Command<unknown[], Record<string, unknown>, Record<string, unknown>>;

function leaves(c: AnyCommand, path: string[] = []): Array<{ name: string; cmd: AnyCommand }> {
  return c.commands.flatMap((s) => {
    const name = [...path, s.name()];
    return s.commands.length === 0 ? [{ name: name.join(' '), cmd: s }] : leaves(s, name);
  });
}

/** Commands that only read and report: --json is required. */
const READERS = ['status', 'check-repl', 'check-ssh', 'config check', 'maintenance list', 'errant show', 'sandbox status', 'hooks test'];

test('every command has --help with its exit codes', () => {
  const all = leaves(buildProgram() as unknown as AnyCommand).filter((l) => l.name !== 'help');
  assert.ok(all.length >= 20, all.map((l) => l.name).join(', '));
  const missing = all.filter((l) => !/exit codes?/i.test(helpOf(l.cmd))).map((l) => l.name);
  assert.deepEqual(missing, [], `no exit codes in --help of: ${missing.join(', ')}`);
});

test('every command that reads has --json', () => {
  const all = new Map(leaves(buildProgram() as unknown as AnyCommand).map((l) => [l.name, l.cmd]));
  const missing = READERS.filter((n) => all.has(n) && !/--json/.test(helpOf(all.get(n)!)));
  assert.deepEqual(missing, []);
  const unknown = READERS.filter((n) => !all.has(n));
  assert.deepEqual(unknown, [], 'a reader named here is not a command (renamed?)');
});
