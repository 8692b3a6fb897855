// The test build's fencing: none. Same exports as src/engine/ops/fence.ts.
export async function fenceOldMaster(server, _cluster, log) {
  log.warn({ server: server.name }, `TEST BUILD: not fencing ${server.name}`);
  return 'not fenced (test build without fencing)';
}
