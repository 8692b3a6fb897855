/** Watching a restarted old master come back: when it first answered, whether it was writable, when it went read-only. */
import { openSession, type DbTarget } from '../../src/adapters/mysql/connection.js';

export interface Seen {
  firstAnswerAt: number | undefined;
  sawWritable: boolean;
  readOnlyAt: number | undefined;
}

/** Samples read_only with a fresh connection every ~20 ms until it is read-only, or until `deadline` (epoch ms). */
export async function sampleUntilReadOnly(t: DbTarget, deadline: number): Promise<Seen> {
  const seen: Seen = { firstAnswerAt: undefined, sawWritable: false, readOnlyAt: undefined };
  while (Date.now() < deadline) {
    const s = await openSession(t, { connectTimeoutMs: 500, queryTimeoutMs: 1000 }).catch(() => undefined);
    if (s !== undefined) {
      try {
        const rows = await s.query<{ ro: number | string }>('SELECT @@global.read_only AS ro');
        const at = Date.now();
        seen.firstAnswerAt ??= at;
        if (Number(rows[0]?.ro) === 0) seen.sawWritable = true;
        else {
          seen.readOnlyAt = at;
          s.destroy();
          return seen;
        }
      } catch {
        // killed by the fence, or not ready: try again
      }
      s.destroy();
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return seen;
}
