/**
 * The built-in vip hook's address, taken early: as soon as the stop hooks
 * have taken it off the old master (Phase 2), the candidate chosen in Phase 1
 * adds it and sends its gratuitous ARP, while it is still read_only and long
 * before it is promoted. Between the release and this add no host owns the
 * address: a client's connection attempt in that gap is a SYN nobody answers,
 * resent by the client's kernel only after a second. Taken early, the gap is
 * one SSH round trip instead of the whole of Phases 3.1–3.5, clients that
 * connect meanwhile get fast read-only errors from the candidate, and by the
 * start phase the neighbours already know the new MAC (its check through the
 * VIP connects at once).
 *
 * Never on two hosts: the early add comes after the release (or after a
 * power-off: the old host unreachable, as in the start phase), only on a
 * candidate seen read_only, only for a hook whose stop step succeeded. When
 * the new master turns out to be another server (3.1's exact positions, a
 * 3.4 fallback), the address is removed from the early holder before the
 * start phase adds it on the new master; if that removal fails, the start
 * phase does not add it (the hook fails with its policy). A failover that
 * stops before promotion removes it from the early holder. The start phase
 * still runs every hook in its order (the vip hook finds the address present,
 * announces it again and verifies it): MHA's scripts keep MHA's order, only
 * this built-in step moved.
 */
import type { VipHook } from '../config/hooks.js';
import type { ServerConfig } from '../config/types.js';
import { releaseVips, runVip } from '../adapters/hooks/vip.js';
import type { HookRecord } from '../adapters/hooks/types.js';
import type { FailoverRun } from './failover-run.js';

/** Which vip hooks may be taken early by the candidate (pure). */
export function earlyVipHooks(startVips: readonly VipHook[], stopRecords: readonly HookRecord[], candidateReadOnly: boolean | undefined): VipHook[] {
  if (candidateReadOnly !== true) return [];
  return startVips.filter((h) => stopRecords.some((r) => r.name === h.name && r.type === 'vip' && r.phase === 'stop' && r.ok));
}

export class EarlyVip {
  readonly holder: ServerConfig;
  readonly hooks: VipHook[];
  readonly done: Promise<void>;
  readonly #run: FailoverRun;
  readonly #old: ServerConfig;

  private constructor(run: FailoverRun, old: ServerConfig, holder: ServerConfig, hooks: VipHook[]) {
    this.#run = run;
    this.#old = old;
    this.holder = holder;
    this.hooks = hooks;
    this.done = this.#acquire();
  }

  /** Starts the early add on the candidate (in the background), or undefined when no hook qualifies. */
  static start(run: FailoverRun, old: ServerConfig, candidate: ServerConfig, hooks: VipHook[]): EarlyVip | undefined {
    return hooks.length === 0 ? undefined : new EarlyVip(run, old, candidate, hooks);
  }

  async #acquire(): Promise<void> {
    const run = this.#run;
    const results = await Promise.all(
      this.hooks.map((h) =>
        runVip({ ...h, verify: false }, { kind: 'failover', phase: 'start', cluster: run.cluster, id: run.id, origMaster: this.#old, newMaster: this.holder }, { ssh: run.cluster.ssh, pool: run.deps.sshPool }).catch((err: unknown) => ({ ok: false, detail: (err as Error).message })),
      ),
    );
    results.forEach((r, i) => {
      const h = this.hooks[i]!;
      run.event(`vip ${h.name}: taken early by the candidate ${this.holder.name} (read_only until promoted)${r.ok ? '' : ' FAILED'}: ${r.detail}`, { hook: h.name, ok: r.ok });
    });
  }

  /**
   * Before the start phase: waits for the early add; when the new master is another server, removes
   * the address from the early holder first. Returns the hooks the start phase must NOT run (their
   * address could not be removed from the early holder: adding it on the new master would put it on
   * two hosts).
   */
  async handOver(newMaster: ServerConfig, timeoutMs: number): Promise<VipHook[]> {
    await this.done;
    if (newMaster.name === this.holder.name) return [];
    const run = this.#run;
    const released = await releaseVips(this.hooks, run.cluster, this.holder, { ssh: run.cluster.ssh, pool: run.deps.sshPool, timeoutMs });
    const stuck: VipHook[] = [];
    released.forEach((r, i) => {
      run.event(`vip ${r.hook}: the new master is ${newMaster.name}, not the candidate ${this.holder.name}: ${r.outcome === 'failed' ? `could NOT remove it there (${r.detail}): not adding it on ${newMaster.name}` : r.detail}`);
      if (r.outcome === 'failed') stuck.push(this.hooks[i]!);
    });
    return stuck;
  }

  /** The failover stopped before promotion: the candidate gives the address back (best effort). */
  async giveBack(timeoutMs: number): Promise<void> {
    await this.done;
    const run = this.#run;
    const released = await releaseVips(this.hooks, run.cluster, this.holder, { ssh: run.cluster.ssh, pool: run.deps.sshPool, timeoutMs }).catch((err: unknown) => [{ hook: '*', outcome: 'failed' as const, detail: (err as Error).message }]);
    for (const r of released) run.event(`vip ${r.hook}: the failover stopped before promotion: ${r.outcome === 'failed' ? `could NOT remove it from ${this.holder.name}: ${r.detail}` : r.detail}`);
  }
}
