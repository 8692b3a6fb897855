/**
 * The MariaDB/MySQL client tools (mariadb-binlog/mysqlbinlog, mariadb/mysql)
 * that binlog apply and extract run, found in MHA's client_bindir or on PATH,
 * and the quoting of values in the private --defaults-extra-file they read.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';

/** The first of `names` that is executable in `bindir` (or on PATH), with what to do when none is. */
export async function findTool(names: string[], bindir: string | undefined): Promise<string> {
  const dirs = bindir ? [bindir] : (process.env.PATH ?? '/usr/bin:/bin').split(':');
  for (const d of dirs) {
    for (const n of names) {
      const p = join(d, n);
      try {
        await access(p, constants.X_OK);
        return p;
      } catch {
        // next
      }
    }
  }
  throw new Error(`none of ${names.join(', ')} found in ${bindir ? `client_bindir ${bindir}` : 'PATH'}: install the MariaDB/MySQL client on the manager host, or set client_bindir`);
}

/** A value for an option file: double-quoted, backslashes and quotes escaped. */
export function cnfValue(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
