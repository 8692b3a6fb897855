/**
 * The drill's faults as plans: how to inject each one, what to do when the
 * failover begins, how to heal it, and what outcome to expect. The five of
 * `mhats drill --fault` work on any cluster over SSH; the fault matrix adds
 * plans of its own (src/app/drill/matrix.ts).
 */
import type { ClusterConfig, ServerConfig } from '../../config/types.js';
import { faultImpossible, netdown, probeHost, signalMysqld, signalMysqldLocal, startMysqld, type HostProbe, type SshAccess } from '../../adapters/drill/faults.js';
import type { DrillFault, Verdict } from '../../domain/drill/types.js';
import type { JournalRecord } from '../../domain/guard.js';
import { sandboxCutHost, sandboxHealHost, type SandboxInfo } from '../../sandbox/index.js';
import type { ManagerHandle } from './managers.js';

export type Expectation = 'failover' | 'no-failover' | 'interrupted';

export interface FaultContext {
  cluster: ClusterConfig;
  /** The master when the fault is injected. */
  old: ServerConfig;
  ssh: SshAccess;
  /** What probe() found on the old master's host (before the fault). */
  probe: HostProbe;
  sandbox: SandboxInfo | undefined;
  managers: ManagerHandle[];
  log: (line: string) => void;
  now: () => number;
  notes: string[];
  /** A shell command that starts mysqld on the host (default: the probed command line, detached). */
  startCommand: string | undefined;
  /** netdown without a sandbox: seconds until the host brings its interface back by itself. */
  faultSeconds: number;
  /** The drill's own deadline for the failover (ms). */
  timeoutMs: number;
  /** Servers a fault took out on purpose: not expected among the survivors. */
  excluded: Set<string>;
  /** The failover journal, now. */
  records: () => Promise<JournalRecord[]>;
}

export interface FaultPlan {
  name: string;
  expect: Expectation;
  /** Does the old master come back after healing (then it must be fenced)? */
  oldMasterReturns: boolean;
  /** Why this fault is not possible on this cluster (nothing touched yet); undefined = possible. */
  impossible?: (ctx: FaultContext) => string | undefined;
  inject: (ctx: FaultContext) => Promise<void>;
  /** Called once, when the failover's begin record appears. */
  onBegin?: (ctx: FaultContext, failoverId: string) => Promise<void>;
  heal: (ctx: FaultContext) => Promise<void>;
  /** Extra verdicts of this fault (after healing). */
  verdicts?: (ctx: FaultContext, records: JournalRecord[], failoverIds: string[]) => Promise<Verdict[]>;
  /** Replaces the standard outcome verdict (a fault where a clean refusal is as good as a failover). */
  outcome?: (failover: { id: string; outcome: string | undefined; newMaster?: string | undefined; reason?: string | undefined } | undefined, ctx: FaultContext) => Verdict;
  /** Observation window without a failover (no-failover faults), ms. */
  observeMs?: (ctx: FaultContext) => number;
}

export { probeHost };

/** Start mysqld again on the old master's host unless it runs. */
async function restart(ctx: FaultContext): Promise<void> {
  const p = await probeHost(ctx.ssh, ctx.probe.pidFile, 15_000).catch(() => undefined);
  if (p?.pid !== undefined && p.problems.length === 0) return; // already running
  await startMysqld(ctx.ssh, ctx.probe, ctx.startCommand);
  ctx.log(`started mysqld on ${ctx.old.name} again${ctx.startCommand ? ` (${ctx.startCommand})` : ''}`);
}

/** The fault's signal: on a sandbox host (this machine) sent from here, at once; elsewhere over SSH. */
async function signalAt(ctx: FaultContext, sig: 'KILL' | 'STOP' | 'TERM'): Promise<void> {
  if (ctx.sandbox) signalMysqldLocal(ctx.probe, sig);
  else await signalMysqld(ctx.ssh, ctx.probe, sig);
}

function signalPlan(name: DrillFault, sig: 'KILL' | 'TERM'): FaultPlan {
  return {
    name,
    expect: 'failover',
    oldMasterReturns: true,
    impossible: (ctx) => faultImpossible('signal', ctx.probe, `${ctx.ssh.target.user}@${ctx.old.name}`),
    async inject(ctx) {
      await signalAt(ctx, sig);
      ctx.log(`${name}: kill -${sig} mysqld (pid ${ctx.probe.pid ?? '?'}) on ${ctx.old.name}`);
    },
    heal: restart,
  };
}

export function builtinFault(kind: DrillFault): FaultPlan {
  switch (kind) {
    case 'crash':
      return signalPlan('crash', 'KILL');
    case 'stop':
      return signalPlan('stop', 'TERM');
    case 'hang':
      return {
        name: 'hang',
        expect: 'failover',
        oldMasterReturns: true,
        impossible: (ctx) => faultImpossible('signal', ctx.probe, `${ctx.ssh.target.user}@${ctx.old.name}`),
        async inject(ctx) {
          await signalAt(ctx, 'STOP');
          ctx.log(`hang: kill -STOP mysqld (pid ${ctx.probe.pid ?? '?'}) on ${ctx.old.name}`);
        },
        async heal(ctx) {
          // The engine may have killed the hung mysqld: then there is nothing to resume, start it.
          try {
            await signalMysqld(ctx.ssh, ctx.probe, 'CONT');
            ctx.log(`healed: kill -CONT mysqld on ${ctx.old.name}`);
          } catch (err) {
            ctx.notes.push(`the hung mysqld of ${ctx.old.name} was gone at healing (${(err as Error).message}); started again`);
            await restart(ctx);
          }
        },
      };
    case 'netdown':
      return netdownPlan();
    case 'restart-during-failover':
      return {
        name: 'restart-during-failover',
        expect: 'failover',
        oldMasterReturns: true,
        impossible: (ctx) => faultImpossible('signal', ctx.probe, `${ctx.ssh.target.user}@${ctx.old.name}`) ?? faultImpossible('start', ctx.probe, `${ctx.ssh.target.user}@${ctx.old.name}`),
        async inject(ctx) {
          await signalMysqld(ctx.ssh, ctx.probe, 'KILL');
          ctx.log(`restart-during-failover: kill -KILL mysqld (pid ${ctx.probe.pid ?? '?'}) on ${ctx.old.name}; it starts again when the failover begins`);
        },
        async onBegin(ctx, id) {
          // Writable, as systemd restarting a server whose my.cnf leaves read_only off: the dangerous case.
          await startMysqld(ctx.ssh, ctx.probe.cmdline.length > 0 && ctx.startCommand === undefined ? { ...ctx.probe, cmdline: [...ctx.probe.cmdline, '--read-only=OFF'] } : ctx.probe, ctx.startCommand);
          ctx.log(`failover ${id} began: started mysqld on ${ctx.old.name} again, writable (read_only=OFF)`);
        },
        heal: restart,
      };
  }
}

function netdownPlan(): FaultPlan {
  let scheduledUpAt = 0;
  return {
    name: 'netdown',
    expect: 'failover',
    oldMasterReturns: true,
    impossible: (ctx) => faultImpossible('netdown', ctx.probe, `${ctx.ssh.target.user}@${ctx.old.name}`),
    async inject(ctx) {
      if (ctx.sandbox?.netns) {
        // A netns sandbox host is cut off from here at once (no delay for an SSH session to return); healed after the failover.
        await sandboxCutHost(ctx.sandbox, ctx.old.name);
        ctx.log(`netdown: ${ctx.old.name}'s host cut off from everything (sandbox)`);
        return;
      }
      // With a sandbox the drill heals it as soon as the failover is over; the host's own timer is the backstop.
      const seconds = ctx.sandbox ? Math.max(ctx.faultSeconds, Math.ceil(ctx.timeoutMs / 1000) + 60) : ctx.faultSeconds;
      await netdown(ctx.ssh, ctx.probe, seconds);
      scheduledUpAt = ctx.now() + 500 + seconds * 1000;
      ctx.log(`netdown: ${ctx.probe.iface ?? '?'} on ${ctx.old.name} goes down in 0.5 s, and up again by itself after ${seconds} s`);
    },
    async heal(ctx) {
      if (ctx.sandbox) {
        await sandboxHealHost(ctx.sandbox, ctx.old.name);
        ctx.log(`healed: ${ctx.old.name}'s network is back (sandbox)`);
      } else {
        const wait = scheduledUpAt - ctx.now() + 2000;
        if (wait > 0) {
          ctx.log(`waiting ${Math.round(wait / 1000)} s for ${ctx.old.name} to bring its interface back`);
          await new Promise((r) => setTimeout(r, wait));
        }
      }
      // Powered off meanwhile (a shutdown_script): it is switched on again.
      await restart(ctx);
    },
  };
}
