/**
 * hook_password_args: whether an MHA script gets MHA's --new_master_password /
 * --orig_master_password on its command line.
 *
 *   never   never (the script reads MHATS_NEW_MASTER_PASSWORD / MHATS_ORIG_MASTER_PASSWORD);
 *   always  always, as MHA does;
 *   auto    (default) only to a script whose text mentions the option: a script
 *           derived from MHA's samples (GetOptions 'new_master_password=s') gets
 *           what it reads, and nothing else sees a password in its arguments.
 *
 * A password on a command line is visible to every local user (ps, /proc):
 * whenever one is passed, a warning says so once per script, and how to switch.
 */
import { readFileSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

export type PasswordArgsPolicy = 'auto' | 'always' | 'never';

const MAX_SCRIPT_BYTES = 1024 * 1024;

/** The files a configured command runs: each word that names a readable regular file (the script, or `perl /path/script`). */
export function scriptFiles(command: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const words = command.trim().split(/\s+/).filter((w) => w !== '' && !w.startsWith('-'));
  const out: string[] = [];
  for (const [i, w] of words.entries()) {
    const cands = isAbsolute(w) || w.includes('/') ? [w] : i === 0 ? (env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, w)) : [];
    for (const c of cands) {
      try {
        const st = statSync(c);
        if (st.isFile() && st.size <= MAX_SCRIPT_BYTES) {
          out.push(c);
          break;
        }
      } catch {
        // not a file
      }
    }
  }
  return out;
}

const mentions = new Map<string, { mtimeMs: number; text: string }>();

/** Does the script's text mention `--<option>` (or the bare option name, as GetOptions declares it)? */
export function scriptMentions(command: string, option: string, env: NodeJS.ProcessEnv = process.env): boolean {
  for (const f of scriptFiles(command, env)) {
    let text: string;
    try {
      const st = statSync(f);
      const c = mentions.get(f);
      if (c && c.mtimeMs === st.mtimeMs) text = c.text;
      else {
        text = readFileSync(f, 'latin1');
        mentions.set(f, { mtimeMs: st.mtimeMs, text });
      }
    } catch {
      continue;
    }
    if (text.includes(option)) return true;
  }
  return false;
}

/** Which of `options` to pass on the command line under the policy. */
export function passwordOptionsFor(policy: PasswordArgsPolicy, command: string, options: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] {
  if (policy === 'never') return [];
  if (policy === 'always') return [...options];
  return options.filter((o) => scriptMentions(command, o, env));
}

const warned = new Set<string>();

/** The warning for a script that gets a password in its arguments: once per script and process, else undefined. */
export function passwordWarningOnce(command: string, options: readonly string[], policy: PasswordArgsPolicy): string | undefined {
  if (options.length === 0) return undefined;
  const key = `${command}\u0000${options.join(',')}`;
  if (warned.has(key)) return undefined;
  warned.add(key);
  const vars = options.map((o) => `MHATS_${o.toUpperCase()}`).join(' / ');
  return `${command} gets ${options.map((o) => `--${o}`).join(' and ')} on its command line (hook_password_args: ${policy}${policy === 'auto' ? ', because the script mentions it' : ''}): every local user can read it in the process list (ps, /proc) while the script runs. To keep it out: make the script read ${vars} from its environment, then set hook_password_args: never`;
}

/** Tests: forget what was warned and read. */
export function resetPasswordArgsState(): void {
  warned.clear();
  mentions.clear();
}
