/**
 * The VIP moved inside an online switch (built-in vip hooks only: see
 * vipHooksInSwitch in switchover.ts and the README's "Through a VIP").
 *
 *   before the block   each host's arping flavour (the announcement then leaves at once)
 *   leaveOld           released on the old master's host (kept SSH session), before
 *                      read_only: writes through it are blocked from here; then, as
 *                      soon as the release was acknowledged, its add on the new
 *                      master's host starts, beside the database switch
 *   arrived            the new master becomes writable only once the add succeeded
 *   verifyOnNew        after the switch, off the critical path: the check through it
 *   rollback           off the new host first (once its add has settled), back on the
 *                      old host only if that removal succeeded: never on two hosts
 *
 * The rollback's order is a pure plan (vipRollbackPlan) over what was sent and
 * confirmed (VipMoveFacts); VipMove only carries the steps out.
 */
import type { ClusterConfig, ServerConfig } from '../config/types.js';
import { policyFor, type VipHook } from '../config/hooks.js';
import { verdictOf } from '../adapters/hooks/runner.js';
import type { SshPool } from '../adapters/ssh/session.js';
import { vipAcquire, vipArpingFlavour, vipIp, vipRelease, vipVerify, type ArpingFlavour, type VipOptions } from '../adapters/hooks/vip.js';

// ---------------------------------------------------------------- the rollback plan (pure)

/** What the switch has done with the VIP, and what its rollback has done since. */
export interface VipMoveFacts {
  /** The release on the old master's host was sent (acknowledged or not: the address may be gone from there). */
  releaseSent: boolean;
  /** The add on the new master's host: not sent, still running, or settled (whatever it answered: a failed or timed-out add may have put the address there). */
  acquire: 'not-sent' | 'in-flight' | 'settled';
  /** The rollback's removal from the new master's host: not tried, every address confirmed off it (removed or absent), or at least one not confirmed. */
  offNew: 'not-tried' | 'confirmed' | 'failed';
  /** The rollback's add on the old master's host was carried out (each address's result reported on its own). */
  backOnOld: boolean;
}

export const VIP_MOVE_START: Readonly<VipMoveFacts> = { releaseSent: false, acquire: 'not-sent', offNew: 'not-tried', backOnOld: false };

export type VipRollbackStep =
  /** Wait for the add on the new host to settle by its own deadline (a command past it has its remote shell closed). */
  | 'settle-acquire'
  /** Every address off the new master's host. */
  | 'remove-from-new'
  /** Every address back on the old master's host (and checked through, for hooks with verify). */
  | 'add-on-old';

/**
 * The rollback steps still to take, in order, assuming each succeeds; the
 * caller takes the first, records its outcome (vipRollbackAdvance) and asks
 * again. The address may be on the new host from the moment its add was sent,
 * so it is taken off there first, and put back on the old host only once the
 * new host is confirmed clear: never on two hosts. When that removal fails,
 * nothing more is done (the operator moves it by hand). Nothing to undo when
 * the release was never sent (the add is only sent after it).
 */
export function vipRollbackPlan(f: Readonly<VipMoveFacts>): VipRollbackStep[] {
  const steps: VipRollbackStep[] = [];
  if (f.acquire === 'in-flight') steps.push('settle-acquire');
  if (f.acquire !== 'not-sent' && f.offNew === 'not-tried') steps.push('remove-from-new');
  if (f.offNew === 'failed') return steps;
  if (f.releaseSent && !f.backOnOld) steps.push('add-on-old');
  return steps;
}

/** The facts after a rollback step; ok matters only for remove-from-new (every address confirmed off the new host). */
export function vipRollbackAdvance(f: Readonly<VipMoveFacts>, step: VipRollbackStep, ok: boolean): VipMoveFacts {
  switch (step) {
    case 'settle-acquire':
      return { ...f, acquire: 'settled' };
    case 'remove-from-new':
      return { ...f, offNew: ok ? 'confirmed' : 'failed' };
    case 'add-on-old':
      return { ...f, backOnOld: true };
  }
}

// ---------------------------------------------------------------- carrying it out

/** A switchover step, recorded in its report (executeSwitchover's step). */
export type SwitchStep = <T>(name: string, deadlineMs: number, fn: () => Promise<T>, detail?: (r: T) => string | undefined) => Promise<T>;

export interface VipMoveContext {
  cluster: ClusterConfig;
  /** The old master. */
  om: ServerConfig;
  /** The new master. */
  nm: ServerConfig;
  pool: SshPool | undefined;
  /** --timeout, ms: no vip command inside the block waits longer. */
  budgetMs: number;
  step: SwitchStep;
  mono: () => number;
}

export class VipMove {
  readonly hooks: VipHook[];
  /** The addresses, for messages. */
  readonly names: string;
  readonly #c: VipMoveContext;
  readonly #opts: VipOptions;
  #facts: VipMoveFacts = { ...VIP_MOVE_START };
  #acquired: Promise<string> | undefined;
  /** Each host's arping, asked before the write block. */
  #arping: { om?: ArpingFlavour | undefined; nm?: ArpingFlavour | undefined } = {};
  #tRelease = 0;

  constructor(hooks: VipHook[], c: VipMoveContext) {
    this.hooks = hooks;
    this.names = hooks.map((h) => h.address).join(', ');
    this.#c = c;
    this.#opts = { ssh: c.cluster.ssh, pool: c.pool };
  }

  get facts(): Readonly<VipMoveFacts> {
    return this.#facts;
  }

  #ms(h: VipHook): number {
    return Math.max(1000, Math.min(h.timeout * 1000, this.#c.budgetMs));
  }

  /** Before the write block, when a hook announces the address: which arping each host has. */
  async askArping(): Promise<void> {
    if (!this.hooks.some((h) => h.arping_count > 0)) return;
    const { om, nm, cluster, step } = this.#c;
    const [fo, fn] = await step(`arping on ${om.name} and ${nm.name}`, 6000, () => Promise.all([om, nm].map((s) => vipArpingFlavour(cluster, s, 5000, this.#opts))), (fs) =>
      fs.map((f, i) => `${[om, nm][i]!.name}: ${f ?? 'unknown (looked for when announcing)'}`).join(', '),
    ).catch(() => [undefined, undefined]);
    this.#arping = { om: fo, nm: fn };
  }

  /**
   * Opens the write block through the VIP: the address leaves the old host first (throws when a release
   * fails), then its add on the new host starts in the background, beside the database switch.
   *
   * Before read_only: an application writing through the VIP has its next packet dropped and learns of
   * the move at its TCP retransmission, from the new host (a reset), with nothing to loop on. read_only
   * first would make it reconnect to the old host in a loop, and a connect caught by the release waits
   * for the SYN's 1 s retransmission.
   */
  async leaveOld(): Promise<void> {
    const { om, nm, cluster, step, mono } = this.#c;
    const deadline = Math.max(...this.hooks.map((h) => this.#ms(h))) + 1000;
    this.#tRelease = mono();
    await step(`${om.name}: release ${this.names} (writes through it blocked)`, deadline, async () => {
      this.#facts = { ...this.#facts, releaseSent: true };
      const rs = await Promise.all(this.hooks.map((h) => vipRelease(h, cluster, om, this.#ms(h), this.#opts)));
      const bad = rs.find((r) => !r.ok);
      if (bad) throw new Error(`vip hook (online_change_stop): ${bad.detail}`);
      return rs.map((r) => r.detail).join('; ');
    }, (d) => d);
    // Only after the old host acknowledged the removal: never on two hosts.
    this.#facts = { ...this.#facts, acquire: 'in-flight' };
    this.#acquired = step(`${nm.name}: acquire ${this.names} (beside the database switch)`, deadline, async () => {
      const rs = await Promise.all(this.hooks.map((h) => vipAcquire(h, cluster, nm, this.#ms(h), this.#opts, this.#arping.nm)));
      const bad = rs.find((r) => !r.ok);
      if (bad) throw new Error(`vip hook (online_change_start): ${bad.detail}`);
      return rs.map((r) => r.detail).join('; ');
    }, (d) => d);
    this.#acquired.catch(() => undefined);
  }

  /** Before the new master takes writes: the address is on its host (throws otherwise: roll back). */
  async arrived(): Promise<void> {
    await this.#acquired;
  }

  /** ms from the release on the old host to now. */
  sinceRelease(): number {
    return Math.round(this.#c.mono() - this.#tRelease);
  }

  /**
   * After the switch (the new master is writable already): connections through each address with verify
   * reach the new master. Resolves to the failure of a hook whose policy aborts, else undefined; a failure
   * the policy lets go is a warning. Undefined when no hook verifies.
   */
  verifyOnNew(warn: (msg: string) => void): Promise<string | undefined> | undefined {
    const checked = this.hooks.filter((h) => h.verify);
    if (checked.length === 0) return undefined;
    const { nm, step } = this.#c;
    return step(`verify: ${this.names} reaches ${nm.name}`, Math.max(...this.hooks.map((h) => h.timeout * 1000)) + 2000, async () => {
      const rs = await Promise.all(checked.map(async (h) => ({ h, bad: await vipVerify(h, nm, h.timeout * 1000) })));
      const aborting: string[] = [];
      for (const { h, bad } of rs) {
        if (bad === undefined) continue;
        const msg = `vip hook ${h.name}: ${h.address} added on ${nm.name}, but ${bad}`;
        if (verdictOf(policyFor(h, 'online_change_start'), 'online_change_start', false, undefined, false) === 'abort') aborting.push(msg);
        else warn(`${msg} (on_failure continue)`);
      }
      if (aborting.length > 0) throw new Error(`online-change start hook failed (${aborting.join('; ')})`);
      return rs.map(({ h, bad }) => (bad === undefined ? `${vipIp(h)}:${nm.port} answers from ${nm.name}` : `${h.address}: ${bad}`)).join('; ');
    }, (d) => d).then(
      () => undefined,
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    );
  }

  /** The switch rolls back: the VIP back on the old master's host, by vipRollbackPlan. */
  async rollback(actions: string[], problems: string[]): Promise<void> {
    const { om, nm, cluster } = this.#c;
    for (let next = vipRollbackPlan(this.#facts)[0]; next !== undefined; next = vipRollbackPlan(this.#facts)[0]) {
      let ok = true;
      switch (next) {
        case 'settle-acquire':
          await this.#acquired?.catch(() => undefined);
          break;
        case 'remove-from-new':
          for (const h of this.hooks) {
            const r = await vipRelease(h, cluster, nm, h.timeout * 1000, this.#opts);
            if (r.ok) {
              if (r.removed) actions.push(`${nm.name}: ${r.detail}`);
            } else {
              ok = false;
              problems.push(`${h.address} may still be on ${nm.name} (${r.detail}): NOT put back on ${om.name}, so that it is never on two hosts; remove it from ${nm.name}, then add it on ${om.name} by hand`);
            }
          }
          break;
        case 'add-on-old':
          for (const h of this.hooks) {
            const r = await vipAcquire(h, cluster, om, h.timeout * 1000, this.#opts, this.#arping.om);
            if (!r.ok) {
              problems.push(`${h.address} could not be put back on ${om.name} (${r.detail}): add it there by hand`);
              continue;
            }
            const bad = h.verify ? await vipVerify(h, om, h.timeout * 1000) : undefined;
            if (bad !== undefined) problems.push(`${r.detail}, but ${bad}`);
            else actions.push(`${om.name}: ${r.detail}`);
          }
          break;
      }
      this.#facts = vipRollbackAdvance(this.#facts, next, ok);
    }
  }
}
