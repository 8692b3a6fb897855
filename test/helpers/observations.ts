/** Builders for ServerObservation fixtures in unit tests. */
import type { ReplicaStatus, ServerObservation, ServerProbe } from '../../src/domain/types.js';
import type { ServerSpec } from '../../src/domain/topology.js';

export function spec(name: string, ip: string, extra: Partial<ServerSpec> = {}): ServerSpec {
  return { name, hostname: ip, ip, port: 3306, candidate_master: false, no_master: false, ignore_fail: false, ...extra };
}

export function replicaStatus(sourceHost: string, extra: Partial<ReplicaStatus> = {}): ReplicaStatus {
  return {
    sourceHost,
    sourcePort: 3306,
    sourceUser: 'repl',
    ioRunning: 'Yes',
    sqlRunning: true,
    read: { file: 'mysql-bin.000002', pos: 1000 },
    exec: { file: 'mysql-bin.000002', pos: 1000 },
    relayLogFile: 'relay-bin.000003',
    relayLogPos: 500,
    secondsBehind: 0,
    lastIoErrno: 0,
    lastIoError: '',
    lastSqlErrno: 0,
    lastSqlError: '',
    gtidAutoPosition: false,
    retrievedGtidSet: '',
    executedGtidSet: '',
    sqlDelay: 0,
    filters: { replicateDoDb: '', replicateIgnoreDb: '', replicateDoTable: '', replicateIgnoreTable: '', replicateWildDoTable: '', replicateWildIgnoreTable: '' },
    ...extra,
  };
}

export function obs(name: string, ip: string, serverId: number, extra: Partial<ServerObservation> = {}): ServerObservation {
  return {
    name,
    host: ip,
    port: 3306,
    serverId,
    version: { flavor: 'mariadb', major: 10, minor: 11, patch: 6, raw: '10.11.6-MariaDB' },
    readOnly: true,
    superReadOnly: null,
    logBin: true,
    logSlaveUpdates: true,
    binlogFormat: 'ROW',
    binlog: { file: 'mysql-bin.000002', pos: 1000, doDb: '', ignoreDb: '' },
    gtid: { enabled: true, executed: '0-1-10', binlogPos: '0-1-10', slavePos: '0-1-10', binlogState: '0-1-10' },
    semiSync: { sourceEnabled: false, replicaEnabled: false, sourceActive: false, sourceClients: 0 },
    relayLogPurge: false,
    observedAt: 0,
    replicationUsers: ['repl@127.%'],
    ...extra,
  };
}

export const ok = (o: ServerObservation): ServerProbe => ({ ok: true, obs: o });

/** A healthy master db1 (127.0.0.11) with replicas db2, db3. */
export function healthy(): { specs: ServerSpec[]; probes: ServerProbe[] } {
  return {
    specs: [spec('db1', '127.0.0.11'), spec('db2', '127.0.0.12'), spec('db3', '127.0.0.13')],
    probes: [
      ok(obs('db1', '127.0.0.11', 1, { readOnly: false })),
      ok(obs('db2', '127.0.0.12', 2, { replica: replicaStatus('127.0.0.11') })),
      ok(obs('db3', '127.0.0.13', 3, { replica: replicaStatus('127.0.0.11') })),
    ],
  };
}
