/**
 * Every exit code mhats uses, in one table. The failover and switchover
 * codes (0, 1, 10) are MHA's, so existing wrappers keep working.
 */
export const ExitCode = {
  /** Success; for check-repl: replication is healthy. */
  OK: 0,
  /** An error (MHA: failover or switch aborted). */
  ERROR: 1,
  /** Bad command-line usage. */
  USAGE: 2,
  /** The configuration is malformed or invalid. */
  CONFIG: 3,
  /** check-repl: the topology is broken (a replica stopped, pointing elsewhere, ...). */
  TOPOLOGY: 4,
  /** A server (MySQL or SSH) could not be reached. */
  UNREACHABLE: 5,
  /** MHA: failover/switch done, but some replicas could not be recovered. */
  PARTIAL: 10,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export const EXIT_CODE_HELP = `Exit codes:
  0   success (check-repl, status: replication is healthy)
  1   error (failover/switchover: aborted, as in MHA)
  2   bad command-line usage
  3   bad configuration (the message names the file and line)
  4   broken topology (check-repl and status name each host and problem)
  5   a server could not be reached (MySQL or SSH)
  10  failover/switchover done, but some replicas could not be recovered (MHA)`;
