/** The sandbox's public shapes (also what sandbox.json holds). */

export interface SandboxOptions {
  /** Directory holding everything of this sandbox (absolute, or resolved against cwd). */
  dir: string;
  /** Number of replicas (default 2). */
  replicas?: number;
  /** GTID replication (MASTER_USE_GTID=slave_pos) instead of binlog file/position. */
  gtid?: boolean;
  /** Address of db1; db2, db3, ... take the next ones (default 127.0.0.11). */
  baseAddress?: string;
  /** MySQL port on every address (default 3306). */
  port?: number;
  /** sshd port on every address (default 2222). */
  sshPort?: number;
  /** Cluster name in mhats.yaml (default 'sandbox'). */
  clusterName?: string;
  /** Start an sshd for the sandbox hosts (default true). */
  ssh?: boolean;
  /** Extra my.cnf lines for every server (e.g. 'max_connections=50'). */
  extraServerOptions?: string[];
  /**
   * Every server's my.cnf says read_only=ON, the master included (it is made
   * writable once, at runtime), as production servers should be set up: a
   * master that restarts comes back read-only. Default: the master's says OFF.
   */
  startReadOnly?: boolean;
  /**
   * Power fencing: write poweroff.sh (MHA's shutdown_script contract: it
   * "powers off" a sandbox host, i.e. SIGKILLs its mariadbd by PID and, on a
   * netns host, drops every address but the host's own) and name it as
   * shutdown_script in mhats.yaml and app1.cnf, as production setups with
   * IPMI or a cloud API do. Without it, a master cut off from the network
   * stays writable behind the partition until the manager fences it on return.
   */
  powerFencing?: boolean;
  /**
   * Run each server (its mariadbd and its own sshd) in a network namespace of
   * its own, on a bridge the sandbox creates, so network faults are real. The
   * manager stays in the root namespace. `true` takes the defaults.
   */
  netns?: boolean | NetnsOptions;
  /**
   * 'friendly' (default): settings that make failover easy (log_slave_updates=ON, relay_log_purge=0,
   * ROW, a binlog everywhere, slave_net_timeout=4). 'production': what servers run with in
   * production (see PRODUCTION_PROFILE in sandbox.ts): MIXED, slave_net_timeout=60,
   * log_slave_updates=OFF on the replicas, relay_log_purge=ON on db3, no binlog on db4,
   * MASTER_DELAY=3600 on db5 (as many as there are replicas; default 4 replicas).
   */
  profile?: SandboxProfile;
  /** Per server (by name): settings over the profile's. */
  servers?: Record<string, SandboxServerSettings>;
}

export interface NetnsOptions {
  /**
   * Prefix of every namespace and link name (bridge TAGbr, hosts TAG1, TAG2, ...):
   * lowercase letters, digits and '-', starting and ending with a letter, at
   * most 11 characters (link names stay within 15). Default: derived from the
   * directory, so parallel sandboxes do not clash.
   */
  tag?: string;
  /** The /24 the hosts live on, as its first three octets (default 10.213.200). */
  subnet?: string;
}

/** The network of a netns sandbox (recorded before anything is created, so `down` removes it all). */
export interface SandboxNetns {
  tag: string;
  subnet: string;
  bridge: string;
  /** The root namespace's address on the bridge: the manager's source address. */
  gateway: string;
  /** A second root-namespace address on the bridge, for application traffic (the drill's writer): a manager-only route cut spares it. */
  appAddress: string;
  /** Namespaces and links created (or about to be). */
  namespaces: string[];
  links: string[];
}

/** A server's place in a netns sandbox. */
export interface ServerNetns {
  /** Its network namespace. */
  ns: string;
  /** The root-namespace end of its veth pair (on the bridge); `ip link set VETH down` cuts the host off. */
  veth: string;
}

/** A server's own sshd (netns sandboxes: one per namespace). */
export interface ServerSshd {
  pid: number;
  configFile: string;
  logFile: string;
}

export type SandboxProfile = 'friendly' | 'production';

export interface SandboxServerSettings {
  logBin?: boolean;
  logSlaveUpdates?: boolean;
  relayLogPurge?: boolean;
  binlogFormat?: 'ROW' | 'MIXED' | 'STATEMENT';
  slaveNetTimeout?: number;
  /** MASTER_DELAY of a replica, seconds. */
  delay?: number;
  /** Extra my.cnf lines for this server. */
  extra?: string[];
}

export interface SandboxServer {
  /** db1, db2, ... */
  name: string;
  address: string;
  port: number;
  serverId: number;
  /** The role given at `up` (the live role may differ after a failover). */
  role: 'master' | 'replica';
  datadir: string;
  socket: string;
  pidFile: string;
  cnf: string;
  errorLog: string;
  /** PID of the mariadbd/mysqld process; 0 while not started. */
  pid: number;
  /** The settings it was started with (profile and per-server options). */
  settings?: SandboxServerSettings;
  /** Netns sandboxes: the server's namespace and veth. */
  netns?: ServerNetns;
  /** Netns sandboxes: the sshd in the server's namespace. */
  sshd?: ServerSshd;
}

export interface SandboxSsh {
  /** PID of the `sshd -D` listener; 0 while not started (and always 0 in a netns sandbox: each server has its own, SandboxServer.sshd). */
  pid: number;
  port: number;
  user: string;
  identityFile: string;
  knownHostsFile: string;
  /** The host public key, "ssh-ed25519 AAAA...". */
  hostPublicKey: string;
  /** The sshd configuration file (its cmdline names it). */
  configFile: string;
  logFile: string;
}

export interface SandboxInfo {
  dir: string;
  clusterName: string;
  gtid: boolean;
  servers: SandboxServer[];
  adminUser: string;
  adminPasswordFile: string;
  replUser: string;
  replPasswordFile: string;
  /** mhats.yaml */
  configFile: string;
  /** app1.cnf (MHA format) */
  mhaConfigFile: string;
  /** `[client]` options file for the manager account (mode 0600), for `mariadb --defaults-extra-file=`. */
  clientConfigFile: string;
  ssh?: SandboxSsh;
  profile?: SandboxProfile;
  /** 'mariadb' or 'mysql', and the server binary used. */
  flavor: 'mariadb' | 'mysql';
  serverBinary: string;
  /** Set when the hosts run in network namespaces. */
  netns?: SandboxNetns;
  /** Every server's my.cnf says read_only=ON (see SandboxOptions). */
  startReadOnly?: boolean;
  /** The shutdown_script the configs name (see SandboxOptions.powerFencing). */
  shutdownScript?: string;
}
