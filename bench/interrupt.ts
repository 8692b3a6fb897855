/**
 * Ctrl-C and SIGTERM for the benchmarks: the registered clean-ups run, newest first (stop the children,
 * take the sandboxes down, remove the temporary directories), then the process exits 130. A second
 * signal, or clean-ups still running after a minute, exit at once. Without this a benchmark stopped
 * by a signal left its servers, network namespaces and directories behind.
 */
type Cleanup = () => void | Promise<void>;

const cleanups: Cleanup[] = [];
let installed = false;
let stopping = false;

/** Registers fn; returns the function that unregisters it (call it once the thing is cleaned up normally). */
export function onInterrupt(fn: Cleanup): () => void {
  cleanups.push(fn);
  if (!installed) {
    installed = true;
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => void interrupted(sig));
  }
  return () => {
    const i = cleanups.lastIndexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

async function interrupted(sig: NodeJS.Signals): Promise<void> {
  if (stopping) process.exit(130);
  stopping = true;
  console.error(`${sig}: cleaning up before exiting (${sig} again to quit at once)`);
  setTimeout(() => {
    console.error('clean-up still running after 60 s: exiting');
    process.exit(130);
  }, 60_000);
  for (const fn of [...cleanups].reverse()) {
    try {
      await fn();
    } catch (err) {
      console.error(`clean-up failed: ${(err as Error).message}`);
    }
  }
  process.exit(130);
}
