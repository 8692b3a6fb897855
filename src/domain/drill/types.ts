/**
 * The failover drill's data: what the sampler saw, what the writer had
 * acknowledged, what the failover report claimed. Pure shapes; the
 * invariants (invariants.ts) fold them into verdicts.
 */

export const DRILL_FAULTS = ['crash', 'hang', 'netdown', 'stop', 'restart-during-failover'] as const;
export type DrillFault = (typeof DRILL_FAULTS)[number];

/** One server's replication state, as SHOW SLAVE/REPLICA STATUS reports it. */
export interface ReplicaSample {
  sourceHost: string;
  sourcePort: number;
  /** 'Yes', 'No', 'Connecting', ... */
  io: string;
  sql: boolean;
  ioErrno: number;
  ioError: string;
  sqlErrno: number;
  sqlError: string;
}

/** One answer (or non-answer) of one server, in one sampling round. */
export type Sample =
  | { server: string; ok: true; readOnly: boolean; replica?: ReplicaSample | undefined }
  | { server: string; ok: false; error: string };

/** The servers' answers to one round of queries (every 100 ms), started at `at` (ms, the drill's clock). */
export interface Round {
  at: number;
  samples: Sample[];
}

/** A write the endpoint acknowledged: its sequence number, who took it, and its GTID where the server told. */
export interface AckedWrite {
  seq: number;
  at: number;
  /** Address of the server that acknowledged it (the endpoint's answer to SELECT @@server_id, when known). */
  by?: string | undefined;
  gtid?: string | undefined;
}

/** What the failover report says was lost. */
export type LostClaim =
  | { kind: 'none' }
  /** An exact list of transactions (GTIDs, one per transaction). */
  | { kind: 'gtids'; gtids: string[] }
  /** Something was, or may have been, lost, but not as a list the drill can compare ("unknown", binlog ranges). */
  | { kind: 'inexact'; text: string };

export type InvariantName =
  | 'outcome'
  | 'one-writable-master'
  | 'acked-writes-present'
  | 'loss-reported-exactly'
  | 'survivors-replicate'
  | 'checksums-equal'
  | 'old-master-fenced'
  | 'hooks-ran'
  | 'manager-running'
  /** Fault-specific checks of the matrix. */
  | 'hook-killed'
  | 'no-second-failover'
  | 'unfinished-reported';

export interface Verdict {
  name: InvariantName;
  ok: boolean;
  /** One line a DBA can act on. */
  detail: string;
}

/** fault → detect → writable → done, in ms after the fault (undefined: did not happen). */
export interface DrillTimings {
  detectMs?: number | undefined;
  writableMs?: number | undefined;
  doneMs?: number | undefined;
  /** First write the application got acknowledged after the fault. */
  writesResumedMs?: number | undefined;
}

export interface DrillRunResult {
  run: number;
  fault: string;
  oldMaster: string;
  newMaster?: string | undefined;
  failoverId?: string | undefined;
  outcome?: string | undefined;
  timings: DrillTimings;
  acked: number;
  inDoubt: number;
  missing: number;
  reportedLost: string;
  verdicts: Verdict[];
  ok: boolean;
  notes: string[];
}
