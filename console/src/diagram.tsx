/**
 * The topology as an SVG drawn in the browser: the master on top, each
 * replica below the server it replicates from, an arrow per replication
 * stream (coloured by the threads' state, labelled with the lag), and the
 * servers outside the cluster (failed and fenced old masters, unreachable
 * ones) on a last row.
 */
import type { ServerView, Topology } from './api.js';

const W = 200;
const H = 92;
const GX = 36;
const GY = 64;
const PAD = 12;

interface Placed {
  s: ServerView;
  x: number;
  y: number;
}

/** Rows: the master(s), then each server under its source; servers outside the tree on the last row. */
export function layout(t: Topology): { rows: ServerView[][]; outside: ServerView[] } {
  const byName = new Map(t.servers.map((s) => [s.name, s]));
  const roots = t.servers.filter((s) => s.role === 'master' || (s.role === 'replica' && (s.source === null || !byName.has(s.source)) && t.master === null && s.read_only === false));
  const placed = new Set(roots.map((s) => s.name));
  const rows: ServerView[][] = [roots];
  for (let depth = 0; depth < 8; depth++) {
    const parents = new Set(rows[rows.length - 1]!.map((s) => s.name));
    const next = t.servers.filter((s) => !placed.has(s.name) && s.role === 'replica' && s.source !== null && parents.has(s.source));
    if (next.length === 0) break;
    for (const s of next) placed.add(s.name);
    rows.push(next);
  }
  return { rows: rows.filter((r) => r.length > 0), outside: t.servers.filter((s) => !placed.has(s.name)) };
}

function streamClass(s: ServerView): string {
  if (s.io_thread === 'Yes' && s.sql_thread === true) return 'ok';
  if (s.io_thread === 'Connecting') return 'warn';
  return 'bad';
}

function threads(s: ServerView): string {
  if (s.role !== 'replica') return '';
  const io = s.io_thread === 'Yes' ? 'IO ✓' : s.io_thread === 'Connecting' ? 'IO …' : 'IO ✗';
  const sql = s.sql_thread ? 'SQL ✓' : 'SQL ✗';
  return `${io}  ${sql}`;
}

function lag(s: ServerView): string {
  if (s.role !== 'replica') return '';
  return s.lag_seconds === null ? 'lag ?' : `lag ${s.lag_seconds} s`;
}

function truncate(text: string, n: number): string {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

function Node({ p, master }: { p: Placed; master: string | null }) {
  const s = p.s;
  const role = s.fenced ? 'FAILED · FENCED' : s.role === 'unreachable' ? 'UNREACHABLE' : s.role === 'unknown' ? 'NOT SEEN' : s.role === 'master' ? 'MASTER' : 'REPLICA';
  const marker = s.maintenance ? `${role} · MAINT` : role;
  const cls = `node role-${s.role}${s.fenced ? ' fenced' : ''}${s.errors.length > 0 ? ' has-errors' : ''}${s.name === master ? ' is-master' : ''}${s.maintenance ? ' in-maintenance' : ''}`;
  const ro = s.read_only === null ? '' : s.read_only ? 'read_only' : 'WRITABLE';
  return (
    <g class={cls} transform={`translate(${p.x},${p.y})`} data-testid={`node-${s.name}`} data-role={s.role} data-fenced={String(s.fenced)} data-maintenance={String(s.maintenance !== null)}>
      <title>
        {[`${s.name} (${s.host}:${s.port})`, s.version ?? '', s.gtid ? `GTID ${s.gtid}` : '', s.binlog ? `binlog ${s.binlog}` : '', s.maintenance ? `in maintenance until ${s.maintenance.expires_at}: ${s.maintenance.reason} (${s.maintenance.owner})` : '', ...s.errors].filter(Boolean).join('\n')}
      </title>
      <rect class="box" width={W} height={H} rx="8" />
      <text class="name" x="12" y="22">
        {s.name}
      </text>
      <text class="marker" x={W - 10} y="21" text-anchor="end">
        {marker}
      </text>
      <text class="host" x="12" y="40">
        {truncate(`${s.host}:${s.port}`, 30)}
      </text>
      <text class={`ro ${s.read_only === false ? 'rw' : ''}`} x="12" y="58">
        {ro}
      </text>
      <text class="threads" x={W - 10} y="58" text-anchor="end">
        {threads(s)}
      </text>
      <text class="err" x="12" y="78">
        {s.errors.length > 0 ? truncate(s.errors[0]!, s.fenced ? 28 : 34) : s.role === 'master' && s.binlog ? truncate(`binlog ${s.binlog}`, 34) : lag(s)}
      </text>
      {s.fenced ? <path class="cross" d={`M ${W - 18} ${H - 18} l 10 10 m 0 -10 l -10 10`} /> : null}
    </g>
  );
}

export function TopologyDiagram({ t }: { t: Topology }) {
  const { rows, outside } = layout(t);
  const allRows = outside.length > 0 ? [...rows, outside] : rows;
  const cols = Math.max(1, ...allRows.map((r) => r.length));
  const width = PAD * 2 + cols * W + (cols - 1) * GX;
  const height = PAD * 2 + allRows.length * H + (allRows.length - 1) * GY + (outside.length > 0 ? 14 : 0);
  const placed = new Map<string, Placed>();
  allRows.forEach((row, i) => {
    const rowWidth = row.length * W + (row.length - 1) * GX;
    const x0 = (width - rowWidth) / 2;
    const y = PAD + i * (H + GY) + (outside.length > 0 && i === allRows.length - 1 ? 14 : 0);
    row.forEach((s, j) => placed.set(s.name, { s, x: x0 + j * (W + GX), y }));
  });
  const edges = [...placed.values()].filter((p) => p.s.role === 'replica' && p.s.source !== null && placed.has(p.s.source) && !outside.includes(p.s));
  return (
    <svg class="topology" viewBox={`0 0 ${width} ${height}`} width={width} role="img" aria-label={`topology of ${t.cluster}`} data-testid={`topology-${t.cluster}`}>
      <defs>
        {['ok', 'warn', 'bad'].map((c) => (
          <marker id={`arrow-${c}`} class={`arrowhead ${c}`} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" />
          </marker>
        ))}
      </defs>
      {edges.map((p) => {
        const from = placed.get(p.s.source!)!;
        const x1 = from.x + W / 2;
        const y1 = from.y + H;
        const x2 = p.x + W / 2;
        const y2 = p.y - 2;
        const c = streamClass(p.s);
        const mx = (x1 + x2) / 2;
        const my = (y1 + y2) / 2;
        return (
          <g class={`edge ${c}`} data-testid={`edge-${p.s.source}-${p.s.name}`}>
            <path d={`M ${x1} ${y1} C ${x1} ${my}, ${x2} ${my}, ${x2} ${y2}`} marker-end={`url(#arrow-${c})`} />
            <text x={mx + 6} y={my + 4}>
              {lag(p.s)}
            </text>
          </g>
        );
      })}
      {outside.length > 0 ? (
        <text class="outside-label" x={PAD} y={PAD + (allRows.length - 1) * (H + GY) + 6}>
          outside the cluster
        </text>
      ) : null}
      {[...placed.values()].map((p) => (
        <Node p={p} master={t.master} />
      ))}
    </svg>
  );
}
