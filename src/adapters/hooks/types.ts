/** Results of hooks, as reported to the failover/switchover and in `mhats hooks test`. */
import type { HookPhase, HookPolicy, HookType } from '../../config/hooks.js';

/** One target of a multi-host hook (an app server of the hosts hook). */
export interface HostReport {
  host: string;
  ok: boolean;
  detail: string;
  durationMs: number;
}

/** What a built-in hook returns. */
export interface BuiltinResult {
  ok: boolean;
  detail: string;
  hosts?: HostReport[] | undefined;
}

/** ok; failed but continue (policy continue, or MHA exit 10); failed and the failover must stop. */
export type HookVerdictKind = 'ok' | 'continue' | 'abort';

export interface HookRecord {
  name: string;
  type: HookType;
  phase: HookPhase;
  policy: HookPolicy;
  verdict: HookVerdictKind;
  ok: boolean;
  /** Exit code of a script (mha-script, command); null when killed. */
  exitCode?: number | null | undefined;
  timedOut: boolean;
  durationMs: number;
  detail: string;
  hosts?: HostReport[] | undefined;
  /** The argv run (scripts), for the operator; never holds a secret (passwords shown as xxx). */
  argv?: string[] | undefined;
  /** Warnings for the operator (a password passed on the command line). */
  warnings?: string[] | undefined;
}

export interface PhaseOutcome {
  phase: HookPhase;
  records: HookRecord[];
  /** The hook that stopped the phase (verdict abort), if any. */
  aborted?: HookRecord | undefined;
  /** MHA shutdown_script: exit 0 = power off (SSH gone), 10 = SSH reachable, mysqld killed. */
  sshReachable?: boolean | undefined;
}
