/**
 * The old master watched for its return while its failover runs, from the end of Phase 2
 * (it is dead or fenced, and demoted) until the failover ends: a mysqld restarted writable
 * (systemd's Restart=, no read_only in its my.cnf) is fenced about 100 ms after it answers,
 * not when the monitor's own watch starts after the failover (seconds later with real
 * report hooks, with the new master writable beside it). The same watch as the monitor's
 * (src/engine/return-watch.ts: one attempt at a time, each under a deadline) says when it
 * answers; one session then reads read_only, and a writable one is fenced as the monitor
 * fences it (fenceOldMaster: read_only, super_read_only where it exists, every client
 * session killed, read back). Only the old master is ever touched: nothing of the
 * failover is undone, the new master is never connected to.
 *
 * What to do next is decided by stepReturnWatch() (src/domain/failover/return-during.ts):
 * never two probes or fences in flight, each under a deadline that destroys its sessions;
 * none while the failover's own work on the old master runs (own(), track(): the
 * re-checks before the promotion fence it themselves and must not have their sessions
 * killed). A fence failing never fails the failover: it is logged, journaled and tried
 * again. stop() when the failover ends (whatever its outcome): the monitor's own watch
 * takes over.
 */
import type { ServerConfig } from '../config/types.js';
import { DbError } from '../adapters/mysql/connection.js';
import { initialReturnWatch, stepReturnWatch, type ProbeResult, type ReturnWatchEvent, type ReturnWatchState } from '../domain/failover/return-during.js';
import { Admin, target } from './ops/admin.js';
import { fenceOldMaster } from './ops/fence.js';
import { ReturnWatch, realReturnWatchDeps, returnWatchOptions } from './return-watch.js';
import type { FailoverRun } from './failover-run.js';

/** One probe (connect + read read_only): at most this long. */
export const PROBE_DEADLINE_MS = 2500;
/** One fence (read_only with lock_wait_timeout, the kills, the read back): at most this long. */
export const FENCE_DEADLINE_MS = 10_000;
/** A fence that did not verify read_only: tried again after this. */
export const FENCE_RETRY_MS = 1000;

/** fn under a deadline that aborts its signal (its sessions are destroyed); waits for fn itself to end, so nothing outlives it. */
async function bounded<T>(ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error(`did not finish within ${ms} ms`)), ms);
  try {
    return await fn(ac.signal);
  } finally {
    clearTimeout(timer);
    if (!ac.signal.aborted) ac.abort(new Error('finished'));
  }
}

export class OldMasterReturnWatch {
  readonly #run: FailoverRun;
  readonly #dead: ServerConfig;
  readonly #watch: ReturnWatch;
  #state: ReturnWatchState = initialReturnWatch;
  /** The probe or fence in flight (its result dispatched when it ends). */
  #inflight: Promise<void> | undefined;
  #retry: NodeJS.Timeout | undefined;
  /** When the answer being handled came (performance.now()), for the fence's latency. */
  #answeredAt: number | undefined;
  #refusedSaid = false;
  /** Fences done, and their latencies after the answer (ms): tests, the report. */
  readonly fences: number[] = [];

  private constructor(run: FailoverRun, dead: ServerConfig) {
    this.#run = run;
    this.#dead = dead;
    const deps = run.deps.returnWatchDeps?.(dead) ?? realReturnWatchDeps(target(dead));
    this.#watch = new ReturnWatch(dead.name, deps, returnWatchOptions(run.cluster), () => {
      this.#answeredAt ??= performance.now();
      this.#dispatch({ type: 'answered' });
    });
  }

  /** Starts watching the old master (its first attempt at once). */
  static start(run: FailoverRun, dead: ServerConfig): OldMasterReturnWatch {
    const w = new OldMasterReturnWatch(run, dead);
    run.log.info({ server: dead.name }, `watching ${dead.name} for its return until the failover ends: fenced at once if it comes back writable`);
    w.#watch.start();
    return w;
  }

  /** The failover's own work on the old master: waits for a probe or fence in flight, and none starts while it runs. */
  async own<T>(fn: () => Promise<T>): Promise<T> {
    this.#dispatch({ type: 'own_start' });
    try {
      while (this.#inflight !== undefined) await this.#inflight;
      return await fn();
    } finally {
      this.#dispatch({ type: 'own_end' });
    }
  }

  /** Work of the failover's on the old master already under way (Phase 2's late fence, the re-check after a power-off). */
  track(p: Promise<unknown> | undefined): void {
    if (p === undefined) return;
    this.#dispatch({ type: 'own_start' });
    const end = (): void => this.#dispatch({ type: 'own_end' });
    p.then(end, end);
  }

  /** The failover ends: no new attempt; a probe or fence in flight is waited for (its deadline bounds it). */
  async stop(): Promise<void> {
    this.#dispatch({ type: 'stop' });
    this.#watch.close();
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    this.#retry = undefined;
    while (this.#inflight !== undefined) await this.#inflight;
  }

  #dispatch(e: ReturnWatchEvent): void {
    const { state, action } = stepReturnWatch(this.#state, e, FENCE_RETRY_MS);
    this.#state = state;
    if (action.do === 'probe') this.#start(this.#probe().then((result) => ({ type: 'probed', result }) as const), { type: 'probed', result: 'not_answering' });
    else if (action.do === 'fence') this.#start(this.#fence().then((ok) => ({ type: 'fenced', ok }) as const), { type: 'fenced', ok: false });
    else if (action.do === 'retry') {
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        this.#dispatch({ type: 'answered' });
      }, action.ms);
      this.#retry.unref();
    }
  }

  /** Its event is dispatched when it ends (`failed` if it threw: a journal that could not be written); `#inflight` never rejects. */
  #start(p: Promise<ReturnWatchEvent>, failed: ReturnWatchEvent): void {
    const done = p
      .catch((err: unknown) => {
        this.#run.log.error({ server: this.#dead.name }, `the return watch of ${this.#dead.name}: ${(err as Error).message}`);
        return failed;
      })
      .then((ev) => {
        if (this.#inflight === done) this.#inflight = undefined;
        this.#dispatch(ev);
      });
    this.#inflight = done;
  }

  async #probe(): Promise<ProbeResult> {
    const { cluster, log } = this.#run;
    const dead = this.#dead;
    const result = await bounded(PROBE_DEADLINE_MS, async (signal): Promise<ProbeResult> => {
      let a: Admin | undefined;
      try {
        a = await Admin.open(dead, cluster, { connectTimeoutMs: Math.min(1000, cluster.connect_timeout * 1000), signal });
        const [row] = await a.q(a.d.readOnlyQuery(), 1000);
        a.close();
        const st = row === undefined ? undefined : a.d.parseReadOnly(row);
        return st === undefined ? 'not_answering' : st.readOnly ? 'read_only' : 'writable';
      } catch (err) {
        a?.destroy();
        if (err instanceof DbError && (err.kind === 'auth' || err.kind === 'too_many_connections')) {
          if (!this.#refusedSaid) log.error({ server: dead.name }, `the failed old master ${dead.name} answers again during the failover but refuses the manager (${err.message}): it cannot be checked or fenced over SQL`);
          this.#refusedSaid = true;
          return 'refuses';
        }
        return 'not_answering';
      }
    });
    if (result === 'read_only') {
      log.info({ server: dead.name }, `${dead.name} (the old master) answers during the failover, read-only: left as it is`);
      this.#answeredAt = undefined;
    } else if (result !== 'writable') this.#answeredAt = undefined;
    return result;
  }

  async #fence(): Promise<boolean> {
    const run = this.#run;
    const dead = this.#dead;
    const answeredAt = this.#answeredAt;
    const since = (): number => Math.round(performance.now() - (answeredAt ?? performance.now()));
    const where = run.promoted ? `${run.report.newMaster ?? 'the new master'} is the writable master` : 'no new master is writable yet';
    run.log.error({ server: dead.name }, `the failed old master ${dead.name} is back and WRITABLE while its failover runs (${where}): fencing it`);
    try {
      const detail = await bounded(FENCE_DEADLINE_MS, (signal) => fenceOldMaster(dead, run.cluster, run.log, signal));
      const ms = since();
      this.fences.push(ms);
      this.#answeredAt = undefined;
      run.event(`fence ${dead.name}, back and writable during the failover (${where}): ${detail}; ${ms} ms after it answered`, { server: dead.name, afterAnswerMs: ms, promoted: run.promoted });
      try {
        run.deps.onFenced?.(dead);
      } catch {
        // must not throw (FailoverDeps); never fails the failover
      }
      return true;
    } catch (err) {
      const msg = (err as Error).message;
      run.log.error({ server: dead.name }, `could not fence ${dead.name}, back and writable during the failover: ${msg}; trying again in ${FENCE_RETRY_MS} ms`);
      run.event(`could not fence ${dead.name}, back and writable during the failover: ${msg}`, { server: dead.name, afterAnswerMs: since() });
      return false;
    }
  }
}
