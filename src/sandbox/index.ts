/**
 * The sandbox API: a local cluster of real servers for demos and the
 * integration tests (`mhats sandbox up|down|status`).
 */
export type { NetnsOptions, SandboxInfo, SandboxNetns, SandboxOptions, SandboxServer, SandboxSsh, ServerNetns } from './types.js';
export {
  readSandbox,
  sandboxDown,
  sandboxKillSync,
  sandboxUp,
  serverAlive,
  startServer,
  stopServer,
  sandboxAddresses,
  sandboxCutHost,
  sandboxCutManagerRoute,
  sandboxHealHost,
  sandboxHostFaults,
  STATE_FILE,
} from './sandbox.js';
export { netnsPids } from './netns.js';
export { poweroffScript } from './poweroff.js';
export { rootSql, replicaStatus, detectFlavor } from './mysqld.js';
export { sshClientArgs } from './sshd.js';
