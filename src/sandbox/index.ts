/**
 * The sandbox API: a local cluster of real servers for demos and the
 * integration tests (`mhats sandbox up|down|status`).
 */
export type { SandboxInfo, SandboxOptions, SandboxServer, SandboxSsh } from './types.js';
export { readSandbox, sandboxDown, sandboxKillSync, sandboxUp, serverAlive, startServer, stopServer, sandboxAddresses, STATE_FILE } from './sandbox.js';
export { rootSql, replicaStatus, detectFlavor } from './mysqld.js';
export { sshClientArgs } from './sshd.js';
