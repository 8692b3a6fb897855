/**
 * The mhats console: every cluster's topology, its failover plan and its
 * history, live; a switchover from the page (dry run, confirmation, token,
 * progress) and the acknowledgement of failovers. Served by the manager; no
 * network access beyond it.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { followOverview, getJob, write, type ClusterOverview, type Credentials, type Job, type LinkState, type Overview, type Plan } from './api.js';
import { TopologyDiagram } from './diagram.js';
import { HistoryEntry, ms, when } from './timeline.js';
import './app.css';

// ---------------------------------------------------------------- credentials (in memory; optionally for this tab)

const STORE = 'mhats.console.credentials';
function loadCred(): Credentials {
  try {
    const raw = sessionStorage.getItem(STORE);
    if (raw) return JSON.parse(raw) as Credentials;
  } catch {
    // no storage
  }
  return { token: '', operator: '' };
}

function CredentialsForm({ cred, setCred, writesEnabled }: { cred: Credentials; setCred: (c: Credentials) => void; writesEnabled: boolean }) {
  const [remember, setRemember] = useState(() => sessionStorage.getItem(STORE) !== null);
  const update = (c: Credentials, keep = remember): void => {
    setCred(c);
    if (keep) sessionStorage.setItem(STORE, JSON.stringify(c));
    else sessionStorage.removeItem(STORE);
  };
  if (!writesEnabled) return <p class="muted">Writes are off on this manager (no http.token_file): the console is read-only.</p>;
  return (
    <form class="cred" onSubmit={(ev) => ev.preventDefault()} autocomplete="off">
      <label>
        API token{' '}
        <input type="password" autocomplete="off" data-testid="token-input" value={cred.token} onInput={(ev) => update({ ...cred, token: (ev.target as HTMLInputElement).value })} placeholder="the content of http.token_file" />
      </label>
      <label>
        your name{' '}
        <input type="text" data-testid="operator-input" value={cred.operator} maxLength={64} onInput={(ev) => update({ ...cred, operator: (ev.target as HTMLInputElement).value })} placeholder="for the journal (optional)" />
      </label>
      <label class="muted">
        <input
          type="checkbox"
          checked={remember}
          onChange={(ev) => {
            const on = (ev.target as HTMLInputElement).checked;
            setRemember(on);
            update(cred, on);
          }}
        />{' '}
        remember in this tab
      </label>
    </form>
  );
}

// ---------------------------------------------------------------- the plan

function PlanView({ plan }: { plan: Plan }) {
  return (
    <div class="plan" data-testid={`plan-${plan.cluster}`}>
      <h3>Failover plan</h3>
      <p class="headline" data-testid="plan-headline">
        If the master {plan.master ?? '?'} died now:{' '}
        {plan.would_promote ? (
          <>
            <strong data-testid="plan-candidate">{plan.would_promote}</strong>, because {plan.because}
          </>
        ) : (
          <>
            <strong class="bad">no replica would be promoted</strong>: {plan.because}
          </>
        )}
      </p>
      {plan.rejected.length + plan.excluded.length > 0 ? (
        <ul class="rejected">
          {plan.rejected.map((r) => (
            <li data-testid="plan-rejected">
              <strong>{r.name}</strong> not chosen: {r.reason}
            </li>
          ))}
          {plan.excluded.map((r) => (
            <li data-testid="plan-excluded">
              <strong>{r.name}</strong> left out: {r.reason}
            </li>
          ))}
        </ul>
      ) : null}
      {plan.expected_loss !== null ? (
        <p data-testid="plan-loss">
          Expected loss: {plan.expected_loss}
          {plan.salvage ? <span class="muted">{` · salvage of the binlog tail: ${plan.salvage.planned ? 'planned' : 'not planned'} (${plan.salvage.reason})`}</span> : null}
        </p>
      ) : null}
      {plan.servers.length > 0 ? (
        <details class="plan-steps" data-testid="plan-steps">
          <summary>What the failover would do to each server</summary>
          <ul class="steps">
            {plan.servers.map((s) => (
              <li data-testid={`plan-server-${s.name}`}>
                <strong>{s.name}</strong> {s.role === 'new_master' ? 'becomes the master' : 'replica'}
                <span class="muted">{` · ${s.standing}${s.holds ? ` at ${s.holds}` : ''}${s.delay > 0 ? ` · delayed ${s.delay} s` : ''}${s.deferred ? ' · recovered after promotion' : ''}`}</span>
                {s.steps.length > 0 ? `: ${s.steps.join('; ')}` : ''}
              </li>
            ))}
          </ul>
        </details>
      ) : null}
      {plan.notes.map((n) => (
        <p class="muted">{n}</p>
      ))}
      <p class={plan.automatic_failover.allowed ? 'muted' : 'warn-text'} data-testid="automatic-failover">
        Automatic failover {plan.automatic_failover.allowed ? 'allowed' : `BLOCKED: ${plan.automatic_failover.reason ?? ''}`}
        {plan.based_on_inspection_at ? ` · from the inspection at ${when(plan.based_on_inspection_at)}` : ''}
      </p>
    </div>
  );
}

// ---------------------------------------------------------------- switchover

type Stage =
  | { s: 'closed' }
  | { s: 'form' }
  | { s: 'checking' }
  | { s: 'planned'; plan: { master: string; new_master: string; why: string; steps: string[]; notes: string[] }; checks: Array<{ title: string; ok: boolean; detail: string }> }
  | { s: 'running'; job: Job }
  | { s: 'done'; job: Job }
  | { s: 'error'; error: string; hint?: string | undefined; checks?: Array<{ title: string; ok: boolean; detail: string }> | undefined };

function Checks({ checks }: { checks: Array<{ title: string; ok: boolean; detail: string }> }) {
  return (
    <ul class="checks">
      {checks.map((c) => (
        <li class={c.ok ? 'ok' : 'bad'}>
          {c.ok ? '✓' : '✗'} {c.title}
          {c.detail ? <span class="muted">: {c.detail}</span> : null}
        </li>
      ))}
    </ul>
  );
}

function JobProgress({ job }: { job: Job }) {
  return (
    <div class="job" data-testid="job" data-state={job.state} data-outcome={job.outcome ?? ''}>
      <p>
        <strong>
          {job.kind} {job.old_master ?? '?'} → {job.new_master ?? '?'}
        </strong>{' '}
        <span class={`badge ${job.state === 'done' ? (job.ok ? 'ok' : 'bad') : 'running'}`} data-testid="job-status">
          {job.state === 'done' ? job.outcome : job.state}
        </span>
        {job.write_blocked_ms !== null ? <span class="muted"> · writes blocked {ms(job.write_blocked_ms)}</span> : null}
      </p>
      <ol class="steps">
        {job.steps.map((s) => (
          <li class={s.ok ? 'ok' : 'bad'}>
            {s.ok ? '✓' : '✗'} {s.name} <span class="muted">{ms(s.duration_ms)}</span>
            {s.detail ? <span class="muted"> · {s.detail}</span> : null}
          </li>
        ))}
        {job.state !== 'done' ? <li class="running">…</li> : null}
      </ol>
      {job.reason ? <p>{job.reason}</p> : null}
      {job.notes.map((n) => (
        <p class="muted">{n}</p>
      ))}
    </div>
  );
}

function Switchover({ c, cred, writesEnabled }: { c: ClusterOverview; cred: Credentials; writesEnabled: boolean }) {
  const [stage, setStage] = useState<Stage>({ s: 'closed' });
  const [target, setTarget] = useState('');
  const [origIsSlave, setOrigIsSlave] = useState(true);
  const replicas = c.topology.servers.filter((s) => s.role === 'replica' && !s.no_master);
  const cluster = encodeURIComponent(c.summary.name);

  // Follow a running job until it ends.
  useEffect(() => {
    if (stage.s !== 'running') return undefined;
    const id = stage.job.id;
    const t = window.setInterval(() => {
      void getJob(id).then((j) => {
        if (!j) return;
        setStage(j.state === 'done' ? { s: 'done', job: j } : { s: 'running', job: j });
      });
    }, 500);
    return () => window.clearInterval(t);
  }, [stage.s, stage.s === 'running' ? stage.job.id : '']);

  if (!writesEnabled) return null;
  const dryRun = async (): Promise<void> => {
    setStage({ s: 'checking' });
    const r = await write<{ plan: Extract<Stage, { s: 'planned' }>['plan']; checks: Extract<Stage, { s: 'planned' }>['checks'] }>(`/clusters/${cluster}/switchover`, { dry_run: true, orig_master_is_new_slave: origIsSlave, ...(target ? { new_master: target } : {}) }, cred);
    if (r.ok) setStage({ s: 'planned', plan: r.body.plan, checks: r.body.checks });
    else setStage({ s: 'error', error: r.error, hint: r.hint, checks: r.checks });
  };
  const run = async (newMaster: string): Promise<void> => {
    const r = await write<{ job: Job }>(`/clusters/${cluster}/switchover`, { new_master: newMaster, orig_master_is_new_slave: origIsSlave }, cred);
    if (r.ok) setStage({ s: 'running', job: r.body.job });
    else setStage({ s: 'error', error: r.error, hint: r.hint, checks: r.checks });
  };

  if (stage.s === 'closed') {
    return (
      <button class="primary" data-testid="switchover-button" disabled={c.topology.master === null || c.topology.in_failover} onClick={() => setStage({ s: 'form' })}>
        Switch over…
      </button>
    );
  }
  const close = (
    <button data-testid="switchover-close" onClick={() => setStage({ s: 'closed' })}>
      Close
    </button>
  );
  return (
    <div class="dialog" data-testid="switchover-dialog">
      <h3>Switchover of {c.summary.name}</h3>
      {stage.s === 'form' || stage.s === 'checking' ? (
        <>
          <p>
            <label>
              new master{' '}
              <select data-testid="new-master-select" value={target} onChange={(ev) => setTarget((ev.target as HTMLSelectElement).value)}>
                <option value="">chosen by the rules</option>
                {replicas.map((s) => (
                  <option value={s.name}>{s.name}</option>
                ))}
              </select>
            </label>{' '}
            <label>
              <input type="checkbox" checked={origIsSlave} onChange={(ev) => setOrigIsSlave((ev.target as HTMLInputElement).checked)} /> {c.topology.master} becomes a replica of the new master
            </label>
          </p>
          {cred.token.trim() === '' ? <p class="warn-text">Enter the API token above first.</p> : null}
          <button class="primary" data-testid="dry-run-button" disabled={stage.s === 'checking' || cred.token.trim() === ''} onClick={() => void dryRun()}>
            {stage.s === 'checking' ? 'Checking…' : 'Check and plan (dry run)'}
          </button>{' '}
          {close}
        </>
      ) : null}
      {stage.s === 'planned' ? (
        <>
          <Checks checks={stage.checks} />
          <p>
            Plan: <strong>{stage.plan.master}</strong> → <strong data-testid="planned-new-master">{stage.plan.new_master}</strong>: {stage.plan.why}
          </p>
          <ol class="plan-steps">
            {stage.plan.steps.map((s) => (
              <li>{s.replace(/^\d+\.\s*/, '')}</li>
            ))}
          </ol>
          {stage.plan.notes.map((n) => (
            <p class="muted">{n}</p>
          ))}
          <button class="danger" data-testid="confirm-button" onClick={() => void run(stage.plan.new_master)}>
            Switch {stage.plan.master} → {stage.plan.new_master} now
          </button>{' '}
          {close}
        </>
      ) : null}
      {stage.s === 'running' || stage.s === 'done' ? (
        <>
          <JobProgress job={stage.job} />
          {stage.s === 'done' ? close : null}
        </>
      ) : null}
      {stage.s === 'error' ? (
        <>
          <p class="bad" data-testid="switchover-error">
            {stage.error}
          </p>
          {stage.hint ? <p class="muted">{stage.hint}</p> : null}
          {stage.checks ? <Checks checks={stage.checks} /> : null}
          <button onClick={() => setStage({ s: 'form' })}>Back</button> {close}
        </>
      ) : null}
    </div>
  );
}

function Ack({ c, cred }: { c: ClusterOverview; cred: Credentials }) {
  const [msg, setMsg] = useState<string>();
  const af = c.summary.automatic_failover;
  if (af.allowed) return null;
  const ack = async (): Promise<void> => {
    const r = await write<{ acknowledged: Array<{ id: string }> }>(`/clusters/${encodeURIComponent(c.summary.name)}/ack`, {}, cred);
    setMsg(r.ok ? `acknowledged: ${r.body.acknowledged.map((a) => a.id).join(', ') || 'nothing open'}` : r.error);
  };
  return (
    <span class="ack">
      <button data-testid="ack-button" disabled={cred.token.trim() === ''} title="re-allow automatic failover (mhats ack)" onClick={() => void ack()}>
        Acknowledge failovers
      </button>
      {msg ? <span class="muted"> {msg}</span> : null}
    </span>
  );
}

// ---------------------------------------------------------------- maintenance

const DURATIONS = ['30m', '1h', '2h', '4h', '8h', '1d'];

function Maintenance({ c, cred, writesEnabled }: { c: ClusterOverview; cred: Credentials; writesEnabled: boolean }) {
  const [open, setOpen] = useState(false);
  const [target, setTarget] = useState('');
  const [reason, setReason] = useState('');
  const [dur, setDur] = useState('1h');
  const [msg, setMsg] = useState<string>();
  const m = c.topology.maintenance;
  const name = c.summary.name;
  const start = async (): Promise<void> => {
    const r = await write<{ entry: { id: string } }>('/maintenance', { cluster: name, ...(target ? { server: target } : {}), reason, for: dur }, cred);
    setMsg(r.ok ? `started ${r.body.entry.id}` : `${r.error}${r.fields ? '' : ''}`);
    if (r.ok) {
      setOpen(false);
      setReason('');
    }
  };
  const stop = async (id: string): Promise<void> => {
    const r = await write<{ stopped: Array<{ id: string }> }>('/maintenance/stop', { id }, cred);
    setMsg(r.ok ? `ended ${r.body.stopped.map((x) => x.id).join(', ') || 'nothing (already over)'}` : r.error);
  };
  if (m.entries.length === 0 && !writesEnabled) return null;
  return (
    <div class="maint" data-testid={`maintenance-${name}`}>
      {m.entries.length > 0 ? (
        <ul>
          {m.entries.map((e) => (
            <li data-testid="maintenance-entry">
              <strong>{e.scope === 'global' ? 'every cluster' : e.scope === 'server' ? e.server : e.cluster}</strong> in maintenance until {when(e.expires_at)}: {e.reason} <span class="muted">({e.owner})</span>{' '}
              {writesEnabled && e.scope !== 'global' ? (
                <button data-testid="maintenance-stop" disabled={cred.token.trim() === ''} onClick={() => void stop(e.id)}>
                  End
                </button>
              ) : null}
            </li>
          ))}
        </ul>
      ) : null}
      {writesEnabled ? (
        open ? (
          <div class="form">
            <select data-testid="maintenance-target" value={target} onChange={(ev) => setTarget((ev.target as HTMLSelectElement).value)}>
              <option value="">the whole cluster (no automatic failover)</option>
              {c.topology.servers.map((s) => (
                <option value={s.name}>{s.name} (never promoted)</option>
              ))}
            </select>
            <input type="text" data-testid="maintenance-reason" placeholder="reason (required)" maxLength={500} value={reason} onInput={(ev) => setReason((ev.target as HTMLInputElement).value)} />
            <select data-testid="maintenance-for" value={dur} onChange={(ev) => setDur((ev.target as HTMLSelectElement).value)}>
              {DURATIONS.map((d) => (
                <option value={d}>for {d}</option>
              ))}
            </select>
            <button class="primary" data-testid="maintenance-start" disabled={reason.trim() === '' || cred.token.trim() === ''} onClick={() => void start()}>
              Start maintenance
            </button>
            <button onClick={() => setOpen(false)}>Cancel</button>
          </div>
        ) : (
          <button data-testid="maintenance-button" onClick={() => setOpen(true)}>
            Maintenance…
          </button>
        )
      ) : null}
      {msg ? <span class="muted"> {msg}</span> : null}
    </div>
  );
}

// ---------------------------------------------------------------- rejoin of an old master

type RejoinReport = {
  server: string;
  outcome: string;
  reason: string;
  master: string | null;
  divergent: { count: number; gtids: string[]; range: { from: string; to: string } | null; transactions: Array<{ file: string; start: number; end: number; gtid: string | null }> } | null;
  extract_file: string | null;
  reseed: string[];
  steps: string[];
};

function RejoinReportView({ r }: { r: RejoinReport }) {
  const ok = r.outcome === 'rejoined' || r.outcome === 'already' || r.outcome === 'would_rejoin';
  return (
    <div class="rejoin-report" data-testid="rejoin-report" data-outcome={r.outcome}>
      <p>
        <span class={`badge ${ok ? 'ok' : 'bad'}`}>{r.outcome.replace('_', ' ')}</span> {r.reason}
      </p>
      {r.steps.length > 0 ? (
        <ul class="steps">
          {r.steps.map((x) => (
            <li>{x}</li>
          ))}
        </ul>
      ) : null}
      {r.divergent ? (
        <>
          <p class="bad">
            {r.divergent.count} divergent transaction(s){r.divergent.range ? `, binlog ${r.divergent.range.from} .. ${r.divergent.range.to}` : ''}:
          </p>
          <ul class="steps">
            {r.divergent.transactions.slice(0, 20).map((t) => (
              <li>
                {t.gtid ?? '(no GTID)'} <span class="muted">{`${t.file}:${t.start}-${t.end}`}</span>
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {r.extract_file ? <p class="muted">extracted for review: {r.extract_file}</p> : null}
      {r.reseed.map((l) => (
        <p class="muted">{l}</p>
      ))}
    </div>
  );
}

function Rejoin({ c, cred, writesEnabled }: { c: ClusterOverview; cred: Credentials; writesEnabled: boolean }) {
  const [state, setState] = useState<{ server: string; report?: RejoinReport | undefined; error?: string | undefined; busy?: boolean }>();
  const failed = c.topology.servers.filter((s) => s.role === 'failed');
  if (!writesEnabled || (failed.length === 0 && state === undefined)) return null;
  const call = async (server: string, dryRun: boolean): Promise<void> => {
    setState({ server, busy: true });
    const r = await write<{ rejoin: RejoinReport }>(`/clusters/${encodeURIComponent(c.summary.name)}/rejoin`, { server, dry_run: dryRun }, cred);
    if (r.ok) setState({ server, report: r.body.rejoin });
    else setState({ server, error: r.error, report: (r as { rejoin?: RejoinReport }).rejoin });
  };
  return (
    <div class="maint" data-testid={`rejoin-${c.summary.name}`}>
      {failed.map((s) => (
        <span>
          <button data-testid={`rejoin-check-${s.name}`} disabled={cred.token.trim() === '' || state?.busy === true} onClick={() => void call(s.name, true)} title="mhats rejoin --dry-run">
            Can {s.name} rejoin?
          </button>{' '}
        </span>
      ))}
      {state?.busy ? <span class="muted">checking {state.server}…</span> : null}
      {state?.error ? <p class="bad">{state.error}</p> : null}
      {state?.report ? <RejoinReportView r={state.report} /> : null}
      {state?.report?.outcome === 'would_rejoin' ? (
        <button class="primary" data-testid="rejoin-confirm" onClick={() => void call(state.server, false)}>
          Rejoin {state.server} as a replica of {state.report.master ?? '?'}
        </button>
      ) : null}
      {state && !state.busy ? <button onClick={() => setState(undefined)}>Close</button> : null}
    </div>
  );
}

// ---------------------------------------------------------------- a cluster

function Cluster({ c, cred, writesEnabled }: { c: ClusterOverview; cred: Credentials; writesEnabled: boolean }) {
  const t = c.topology;
  return (
    <section class="cluster" data-testid={`cluster-${c.summary.name}`}>
      <header>
        <h2>{c.summary.name}</h2>
        <span class={`badge state-${t.state}`} data-testid="cluster-state">
          {t.state.replace('_', ' ')}
        </span>
        <span>
          master <strong data-testid="master-name">{t.master ?? '—'}</strong>
        </span>
        {t.activity ? (
          <span class="badge running" data-testid="activity">
            {t.activity.what}
          </span>
        ) : null}
        {t.mode ? <span class="muted">{t.mode === 'gtid' ? 'GTID' : t.mode === 'position' ? 'binlog positions' : t.mode}</span> : null}
        {t.maintenance.held ? (
          <span class="badge maint-held" data-testid="maintenance-held">
            IN MAINTENANCE{t.maintenance.held_dead_master ? ': the master is dead and NOT failed over' : ': no automatic failover'}
          </span>
        ) : null}
        <span class="actions">
          <Ack c={c} cred={cred} />
        </span>
      </header>
      <Maintenance c={c} cred={cred} writesEnabled={writesEnabled} />
      <Rejoin c={c} cred={cred} writesEnabled={writesEnabled} />
      <div class="diagram">
        <TopologyDiagram t={t} />
      </div>
      {t.errors.length + t.warnings.length > 0 ? (
        <ul class="findings">
          {t.errors.map((e) => (
            <li class="bad">{e}</li>
          ))}
          {t.warnings.map((w) => (
            <li class="warn-text">{w}</li>
          ))}
        </ul>
      ) : null}
      <div class="two">
        <PlanView plan={c.plan} />
        <div class="switch">
          <Switchover c={c} cred={cred} writesEnabled={writesEnabled} />
        </div>
      </div>
      <div class="history" data-testid={`history-${c.summary.name}`}>
        <h3>History</h3>
        {c.history.length === 0 ? <p class="muted">No failover or switchover recorded yet.</p> : c.history.map((e) => <HistoryEntry key={`${e.kind}:${e.id}`} e={e} />)}
      </div>
    </section>
  );
}

// ---------------------------------------------------------------- the page

function App() {
  const [o, setO] = useState<Overview>();
  const [link, setLink] = useState<LinkState>({ mode: 'connecting', lastUpdate: undefined });
  const [cred, setCred] = useState<Credentials>(loadCred);
  const [, tick] = useState(0);
  useEffect(() => followOverview(setO, setLink), []);
  useEffect(() => {
    const t = window.setInterval(() => tick((n) => n + 1), 1000);
    return () => window.clearInterval(t);
  }, []);
  const age = link.lastUpdate === undefined ? undefined : Math.round((Date.now() - link.lastUpdate) / 1000);
  const writesEnabled = o?.manager.writes.enabled ?? false;
  return (
    <>
      <header class="top">
        <h1>mhats</h1>
        {o ? (
          <span data-testid="manager">
            manager {o.manager.version} · <strong class={o.manager.role === 'leader' ? '' : 'warn-text'}>{o.manager.role}</strong>
            {o.manager.ha.mode === 'etcd' ? ` (leader: ${o.manager.ha.leader ?? '?'})` : ''} · {o.manager.ready ? 'ready' : 'not ready'} · writes {writesEnabled ? 'on' : 'off'}
          </span>
        ) : null}
        <span class={`link ${link.mode}`} data-testid="link" data-mode={link.mode}>
          {link.mode === 'live' ? '● live' : link.mode === 'polling' ? '● polling' : '○ connecting'}
          {age !== undefined ? ` · updated ${age} s ago` : ''}
          {link.error ? ` · ${link.error}` : ''}
        </span>
      </header>
      <CredentialsForm cred={cred} setCred={setCred} writesEnabled={writesEnabled} />
      {o === undefined ? <p class="muted">Loading…</p> : o.clusters.length === 0 ? <p>This manager watches no cluster.</p> : o.clusters.map((c) => <Cluster key={c.summary.name} c={c} cred={cred} writesEnabled={writesEnabled} />)}
      <footer class="muted">
        API: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> · <a href="/status">/status</a> · <a href="/metrics">/metrics</a>
      </footer>
    </>
  );
}

render(<App />, document.getElementById('app')!);
