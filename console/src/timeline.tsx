/**
 * History: each failover and switchover as a timeline of its phases (one bar
 * per phase, placed at its start, as long as it lasted, labelled with its
 * duration), with the outcome, the loss and the hooks' outcomes;
 * acknowledgements and API writes as one line each.
 */
import type { JournalEntry } from './api.js';

const LABEL_W = 300;
const BAR_W = 520;
const ROW = 20;

export function ms(n: number | null | undefined): string {
  if (n === null || n === undefined) return '?';
  if (n < 1000) return `${Math.round(n)} ms`;
  if (n < 60_000) return `${(n / 1000).toFixed(n < 10_000 ? 2 : 1)} s`;
  return `${Math.floor(n / 60_000)} min ${Math.round((n % 60_000) / 1000)} s`;
}

export function when(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  return `${d.toLocaleDateString()} ${d.toLocaleTimeString()}`;
}

type Bars = Array<{ name: string; started_at: string; duration_ms: number; ok: boolean; detail?: string | undefined }>;

function Gantt({ bars, start, total, label, testid = 'phase' }: { bars: Bars; start: number; total: number; label: string; testid?: string }) {
  // The span covers every bar even when the recorded total is shorter (phases are timed apart from the whole).
  const span = Math.max(1, total, ...bars.map((b) => Date.parse(b.started_at) - start + b.duration_ms));
  const height = bars.length * ROW + 4;
  const end = LABEL_W + BAR_W;
  return (
    <svg class="gantt" viewBox={`0 0 ${LABEL_W + BAR_W + 90} ${height}`} role="img" aria-label={label}>
      {bars.map((b, i) => {
        const x = Math.min(end - 2, LABEL_W + (Math.max(0, Date.parse(b.started_at) - start) / span) * BAR_W);
        const w = Math.max(2, Math.min((b.duration_ms / span) * BAR_W, end - x));
        const y = i * ROW + 2;
        return (
          <g class={`bar ${b.ok ? 'ok' : 'bad'}`} data-testid={testid}>
            <title>{`${b.name}: ${ms(b.duration_ms)}${b.detail ? `\n${b.detail}` : ''}`}</title>
            <text class="phase-name" x="0" y={y + 13}>
              {b.name.length > 44 ? `${b.name.slice(0, 43)}…` : b.name}
            </text>
            <rect x={x} y={y + 2} width={w} height={ROW - 6} rx="3" />
            <text class="phase-ms" x={x + w + 6} y={y + 13}>
              {ms(b.duration_ms)}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

function outcomeClass(o: string): string {
  if (o === 'success') return 'ok';
  if (o === 'running') return 'running';
  if (o === 'partial' || o === 'refused' || o === 'rolled_back') return 'warn';
  return 'bad';
}

export function HistoryEntry({ e }: { e: JournalEntry }) {
  switch (e.kind) {
    case 'failover': {
      const start = Date.parse(e.started_at);
      const total = e.duration_ms ?? Math.max(0, ...e.phases.map((p) => Date.parse(p.started_at) + p.duration_ms - start));
      return (
        <div class="entry failover" data-testid="history-entry" data-kind="failover" data-outcome={e.outcome} data-id={e.id}>
          <div class="entry-head">
            <span class={`badge ${outcomeClass(e.outcome)}`}>{e.outcome}</span>
            <strong>
              {e.trigger === 'auto' ? 'Automatic failover' : 'Manual failover'}: {e.dead_master} → {e.new_master ?? '?'}
            </strong>
            <span class="muted">
              {when(e.started_at)} · {ms(e.duration_ms)}
              {e.promoted_at ? ` · writable after ${ms(Date.parse(e.promoted_at) - start)}` : ''}
            </span>
          </div>
          <div class="entry-why muted">{e.why}</div>
          {e.phases.length > 0 ? <Gantt bars={e.phases} start={start} total={total} label={`phases of failover ${e.id}`} /> : null}
          {e.steps.length > 0 ? (
            <details class="failover-steps">
              <summary>
                {e.steps.length} step(s) on the servers{e.steps.some((x) => !x.ok) ? `, ${e.steps.filter((x) => !x.ok).length} failed` : ''}
              </summary>
              <Gantt bars={e.steps.map((x) => ({ ...x, name: `${x.server}: ${x.name}` }))} start={start} total={total} label={`steps of failover ${e.id}`} testid="step" />
            </details>
          ) : null}
          <ul class="facts">
            {e.reason ? <li>{e.reason}</li> : null}
            {e.planned ? (
              <li class="muted" data-testid="planned">
                planned: {e.planned.new_master ?? 'no new master'}, expected loss {e.planned.expected_loss}
                {e.planned.revision > 1 ? ` (plan revised ${e.planned.revision - 1} time(s))` : ''}
              </li>
            ) : null}
            <li data-testid="loss">
              loss: <strong>{e.lost ?? (e.outcome === 'running' ? 'not known yet' : 'not reported')}</strong>
            </li>
            {e.hooks.map((h) => (
              <li class={`hook ${h.verdict === 'ok' ? 'ok' : 'bad'}`} data-testid="hook">
                hook {h.name} ({h.phase}): {h.verdict}
                {h.exit_code !== undefined && h.exit_code !== null ? `, exit ${h.exit_code}` : ''}
                {h.timed_out ? ', timed out' : ''}
              </li>
            ))}
            {e.acked ? <li class="muted">acknowledged by {e.acked_by ?? '?'}</li> : null}
            {e.rejoined ? <li class="muted">{e.dead_master} is a member of the cluster again (rejoined, or adopted as its master)</li> : null}
          </ul>
        </div>
      );
    }
    case 'switchover': {
      const start = Date.parse(e.started_at);
      return (
        <div class="entry switchover" data-testid="history-entry" data-kind="switchover" data-outcome={e.outcome} data-id={e.id}>
          <div class="entry-head">
            <span class={`badge ${outcomeClass(e.outcome)}`}>{e.outcome}</span>
            <strong>
              Switchover: {e.from} → {e.to}
            </strong>
            <span class="muted">
              {when(e.started_at)} · {ms(e.duration_ms)} · by {e.by}
            </span>
          </div>
          {e.steps.length > 0 ? <Gantt bars={e.steps} start={start} total={e.duration_ms ?? 0} label={`steps of switchover ${e.id}`} /> : null}
          <ul class="facts">
            {e.reason ? <li>{e.reason}</li> : null}
            {e.write_blocked_ms !== null ? (
              <li>
                writes blocked for <strong>{ms(e.write_blocked_ms)}</strong>
              </li>
            ) : null}
          </ul>
        </div>
      );
    }
    case 'ack':
      return (
        <div class="entry line" data-testid="history-entry" data-kind="ack">
          <span class="muted">{when(e.at)}</span> failover {e.id} acknowledged by {e.by}
        </div>
      );
    case 'maintenance':
      return (
        <div class="entry line" data-testid="history-entry" data-kind="maintenance">
          <span class="muted">{when(e.started_at)}</span> maintenance of {e.scope === 'global' ? 'every cluster' : e.scope === 'server' ? `${e.server ?? '?'}` : `${e.cluster ?? '?'}`} by {e.owner}: {e.reason}{' '}
          <span class="muted">
            {e.active ? `(in force until ${when(e.expires_at)})` : e.stopped_at ? `(ended ${when(e.stopped_at)} by ${e.stopped_by ?? '?'})` : `(expired ${when(e.expires_at)})`}
          </span>
        </div>
      );
    case 'write':
      return (
        <div class="entry line" data-testid="history-entry" data-kind="write">
          <span class="muted">{when(e.at)}</span> API {e.action} by {e.by}: {e.status} {e.outcome}
          {e.detail ? <span class="muted"> ({e.detail})</span> : null}
        </div>
      );
  }
}
