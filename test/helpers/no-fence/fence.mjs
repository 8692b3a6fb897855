// The test build's fencing: none. Replaces both src/engine/ops/fence.ts and
// src/engine/ops/fencing.ts, so it has the exports of both.
export class NotAnswering extends Error {
  constructor(message) {
    super(message);
    this.name = 'NotAnswering';
  }
}

export async function fenceOldMaster(server, _cluster, log) {
  log.warn({ server: server.name }, `TEST BUILD: not fencing ${server.name}`);
  return 'not fenced (test build without fencing)';
}

export async function refence(server, _cluster, log) {
  log.warn({ server: server.name }, `TEST BUILD: not fencing ${server.name} again`);
  return { state: 'unreachable', detail: 'not fenced (test build without fencing)' };
}

export async function fenceOverSql() {
  return { sql: 'not_answering', sessionsKilled: 0, detail: 'not fenced (test build without fencing)' };
}

export async function killMysqldOverSsh() {
  return { outcome: 'not_running', pids: [], detail: 'not killed (test build without fencing)' };
}

export async function fenceHard(server, _cluster, o) {
  o.log.warn({ server: server.name }, `TEST BUILD: not fencing ${server.name}`);
  return { sql: 'not_answering', sessionsKilled: 0, kill: 'disabled', safe: false, detail: 'not fenced (test build without fencing)' };
}

export const KILL_MYSQLD = 'exit 0';

export function parseKillOutput() {
  return { outcome: 'not_running', pids: [], detail: 'test build without fencing' };
}

export function skipSqlFence() {
  return undefined;
}
