/** Captures what a CLI call writes (strings only: the test runner's own messages, buffers, still reach it). */
export async function capture<T>(fn: () => Promise<T>): Promise<{ value: T; out: string; err: string }> {
  const o = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  let out = '';
  let err = '';
  process.stdout.write = ((s: string | Uint8Array, ...rest: never[]) => (typeof s === 'string' ? ((out += s), true) : o(s, ...rest)));
  process.stderr.write = ((s: string | Uint8Array, ...rest: never[]) => (typeof s === 'string' ? ((err += s), true) : e(s, ...rest)));
  const code = process.exitCode;
  try {
    return { value: await fn(), out, err };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
    // A command's exit code is its return value here, not this test process's.
    process.exitCode = code;
  }
}
