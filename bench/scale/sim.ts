/**
 * The scale benchmark's simulated MariaDB 10.11 servers, as a child process (`fork`/`spawn` with
 * IPC): the parent sends {type:'start', servers}, then {type:'kill', name} to make one server stop
 * answering (its listener closes and its connections are reset, as after a crash; its replicas then
 * report the IO thread reconnecting with error 2003), {type:'drop', name} and {type:'stats'}.
 * The servers themselves: bench/scale/sim-core.ts (a hand-written protocol loop, bench/scale/wire.ts).
 *
 * This is a load generator for the monitoring path only. It proves nothing about failover.
 */
import { SimFleet, type SimServer } from './sim-core.js';

export type { SimServer } from './sim-core.js';

export type SimRequest = { type: 'start'; servers: SimServer[]; rate: number; maxLagMs: number } | { type: 'kill'; name: string } | { type: 'drop'; name: string } | { type: 'stats' } | { type: 'stop' };
export type SimReply = { type: 'started'; listening: number } | { type: 'killed'; name: string; at: number } | { type: 'dropped'; name: string; connections: number } | { type: 'stats'; connections: number; queries: number; unknown: Record<string, number> } | { type: 'error'; message: string };

let fleet: SimFleet | undefined;

process.on('message', (m: SimRequest) => {
  const reply = (r: SimReply): void => void process.send?.(r);
  void (async () => {
    try {
      switch (m.type) {
        case 'start': {
          fleet ??= new SimFleet({ rate: m.rate, maxLagMs: m.maxLagMs });
          const f = fleet;
          for (let i = 0; i < m.servers.length; i += 200) await Promise.all(m.servers.slice(i, i + 200).map((s) => f.listen(s)));
          reply({ type: 'started', listening: f.servers.size });
          break;
        }
        case 'kill':
          reply({ type: 'killed', name: m.name, at: fleet!.kill(m.name) });
          break;
        case 'drop':
          reply({ type: 'dropped', name: m.name, connections: fleet?.drop(m.name) ?? 0 });
          break;
        case 'stats':
          reply({ type: 'stats', connections: fleet?.connections ?? 0, queries: fleet?.queries ?? 0, unknown: fleet?.unknown ?? {} });
          break;
        case 'stop':
          process.exit(0);
      }
    } catch (err) {
      reply({ type: 'error', message: (err as Error).message });
    }
  })();
});
process.on('disconnect', () => process.exit(0));
