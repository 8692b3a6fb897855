/**
 * The drill's invariants, as pure folds: samples, acknowledged writes and the
 * failover report in, one verdict per invariant out. Nothing here talks to a
 * server or reads a clock; the drill runner gathers the data.
 *
 *   one-writable-master   at most one writable master in every sampling round
 *   acked-writes-present  every acknowledged write is on the new master
 *   loss-reported-exactly where the report says writes were lost, the missing
 *                         set is the reported set (up to writes whose
 *                         acknowledgement never arrived: they may be either)
 *   survivors-replicate   every survivor replicates from the new master, no error
 *   checksums-equal       the drill table's checksum is the same everywhere
 *   old-master-fenced     after healing: read_only, and no VIP on its host
 *   hooks-ran             every configured hook ran in each of its phases, with its outcome
 *   manager-running       the manager is still running
 *   outcome               a failover happened (or, for faults that must not cause one, did not)
 */
import type { AckedWrite, DrillRunResult, DrillTimings, LostClaim, ReplicaSample, Round, Sample, Verdict } from './types.js';

// ---------------------------------------------------------------- one writable master

/**
 * A writable master: it answered, read_only is OFF, and it is not a running
 * replica (a replica someone left writable is a misconfiguration check-repl
 * reports, not a second master).
 */
export function isWritableMaster(s: Sample): boolean {
  if (!s.ok || s.readOnly) return false;
  if (s.replica === undefined) return true;
  return !(s.replica.io === 'Yes' && s.replica.sql);
}

export function checkOneWritable(rounds: readonly Round[]): Verdict {
  let first: { at: number; servers: string[] } | undefined;
  let bad = 0;
  let spanStart: number | undefined;
  let longest = 0;
  let prevBad = false;
  for (const r of rounds) {
    const writable = r.samples.filter(isWritableMaster).map((s) => s.server);
    const isBad = writable.length > 1;
    if (isBad) {
      bad++;
      first ??= { at: r.at, servers: writable };
      if (!prevBad) spanStart = r.at;
      longest = Math.max(longest, r.at - (spanStart ?? r.at));
    }
    prevBad = isBad;
  }
  if (rounds.length === 0) return { name: 'one-writable-master', ok: false, detail: 'no samples were taken' };
  if (first === undefined) return { name: 'one-writable-master', ok: true, detail: `at most one writable master in all ${rounds.length} sampling rounds` };
  return {
    name: 'one-writable-master',
    ok: false,
    detail: `TWO WRITABLE MASTERS (${first.servers.join(' and ')}) at +${first.at} ms, in ${bad} of ${rounds.length} rounds (longest stretch ${longest + 100} ms or more)`,
  };
}

/**
 * The old master sampled writable again once another server had been sampled writable (`after`, from
 * firstWritableOther): it came back — a restart, a healed partition — writable beside the new master.
 * The first and last such rounds and how many; undefined when never.
 */
export function oldMasterWritableAgain(rounds: readonly Round[], oldMaster: string, after: number | undefined): { firstAt: number; lastAt: number; rounds: number } | undefined {
  if (after === undefined) return undefined;
  let out: { firstAt: number; lastAt: number; rounds: number } | undefined;
  for (const r of rounds) {
    if (r.at <= after) continue;
    const s = r.samples.find((x) => x.server === oldMaster);
    if (s === undefined || !isWritableMaster(s)) continue;
    out = out === undefined ? { firstAt: r.at, lastAt: r.at, rounds: 1 } : { firstAt: out.firstAt, lastAt: r.at, rounds: out.rounds + 1 };
  }
  return out;
}

/**
 * The drill's note when the old master came back writable after the failover and only the manager's
 * fence made it read-only: its my.cnf lacks read_only=ON (MariaDB's and MySQL's default is OFF), so a
 * restarted mysqld (systemd Restart=, an operator) takes writes until it is fenced.
 */
export function restartedWritableNote(oldMaster: string, newMaster: string | undefined, again: { firstAt: number; lastAt: number; rounds: number } | undefined, fencedAfterMs: number | undefined): string {
  const seen = again === undefined ? '' : ` The drill sampled it writable${newMaster ? ` beside ${newMaster}` : ''} in ${again.rounds} round${again.rounds === 1 ? '' : 's'} (+${again.firstAt}..+${again.lastAt} ms).`;
  const when = fencedAfterMs !== undefined && fencedAfterMs > 0 ? `${fencedAfterMs} ms after it answered again` : 'right after it answered again';
  return `${oldMaster} came back WRITABLE after the failover (its mysqld was started again, as systemd's Restart= does after the kill, and its my.cnf does not say read_only=ON; MariaDB's and MySQL's default is OFF); the manager fenced it ${when}.${seen} Put read_only=ON (and super_read_only=ON where the server has it) in every server's my.cnf: a restarted old master then never takes writes, and mhats makes only the master it promotes writable`;
}

/** When the first server other than `oldMaster` was sampled writable (ms, the drill's clock). */
export function firstWritableOther(rounds: readonly Round[], oldMaster: string, after: number): { at: number; server: string } | undefined {
  for (const r of rounds) {
    if (r.at < after) continue;
    const s = r.samples.find((x) => x.server !== oldMaster && isWritableMaster(x));
    if (s) return { at: r.at, server: s.server };
  }
  return undefined;
}

// ---------------------------------------------------------------- writes and loss

/** Expands a GTID list or range text into one GTID per transaction: MariaDB D-S-N and D-S-A..D-S-B; MySQL UUID:A-B:C. */
export function expandGtids(text: string): string[] | undefined {
  const out: string[] = [];
  for (const raw of text.split(',').map((x) => x.trim()).filter((x) => x !== '')) {
    const range = /^(\d+)-(\d+)-(\d+)\.\.(\d+)-(\d+)-(\d+)$/.exec(raw);
    if (range) {
      const [, d1, s1, a, d2, s2, b] = range;
      if (d1 !== d2 || s1 !== s2 || Number(a) > Number(b) || Number(b) - Number(a) > 1_000_000) return undefined;
      for (let n = Number(a); n <= Number(b); n++) out.push(`${d1}-${s1}-${n}`);
      continue;
    }
    if (/^\d+-\d+-\d+$/.test(raw)) {
      out.push(raw);
      continue;
    }
    const my = /^([0-9a-f-]{36}(?::[a-z0-9_]+)?)((?::\d+(?:-\d+)?)+)$/i.exec(raw);
    if (my) {
      const uuid = my[1]!.toLowerCase();
      for (const iv of my[2]!.slice(1).split(':')) {
        const [a, b] = iv.split('-').map(Number) as [number, number | undefined];
        const end = b ?? a;
        if (end < a || end - a > 1_000_000) return undefined;
        for (let n = a; n <= end; n++) out.push(`${uuid}:${n}`);
      }
      continue;
    }
    return undefined;
  }
  return out;
}

/**
 * The failover report's `lost` text as a claim: "none …", "N transaction(s): GTIDS (…)",
 * or anything else (unknown, binlog ranges) as inexact. A structured list, when the
 * report has one, wins over the text.
 */
export function parseLostClaim(text: string | undefined, gtids?: readonly string[]): LostClaim {
  if (gtids !== undefined) {
    const all = expandGtids(gtids.join(','));
    if (all !== undefined) return all.length === 0 ? { kind: 'none' } : { kind: 'gtids', gtids: all };
  }
  const t = (text ?? '').trim();
  if (t === '' || /^none\b/i.test(t)) return { kind: 'none' };
  const m = /^\d+ transaction\(s\):\s*(.+?)(?:\s+\(.*\))?$/.exec(t);
  if (m) {
    const list = expandGtids(m[1]!);
    if (list !== undefined && list.length > 0) return { kind: 'gtids', gtids: list };
  }
  return { kind: 'inexact', text: t };
}

export interface WritesInput {
  acked: readonly AckedWrite[];
  /** Writes sent whose acknowledgement never arrived (error, timeout): they may or may not be anywhere. */
  inDoubt: readonly number[];
  /** Sequence numbers present on the new master (or, without a failover, on the master). */
  present: readonly number[];
  claim: LostClaim;
  /** The server the writes were checked on, for messages. */
  checkedOn: string;
}

function seqList(seqs: readonly number[], max = 12): string {
  const s = [...seqs].sort((a, b) => a - b);
  return s.length <= max ? s.join(', ') : `${s.slice(0, max).join(', ')}, … (${s.length} in all)`;
}

/** acked-writes-present and loss-reported-exactly. */
export function checkWrites(w: WritesInput): { verdicts: [Verdict, Verdict]; missing: AckedWrite[] } {
  const present = new Set(w.present);
  const missing = w.acked.filter((a) => !present.has(a.seq));
  const ackedPresent: Verdict =
    missing.length === 0
      ? { name: 'acked-writes-present', ok: true, detail: `all ${w.acked.length} acknowledged writes are on ${w.checkedOn}` }
      : { name: 'acked-writes-present', ok: false, detail: `${missing.length} of ${w.acked.length} acknowledged writes are NOT on ${w.checkedOn}: seq ${seqList(missing.map((m) => m.seq))}` };

  const claim = w.claim;
  let exact: Verdict;
  if (claim.kind === 'none') {
    exact =
      missing.length === 0
        ? { name: 'loss-reported-exactly', ok: true, detail: 'nothing lost, and the report says none' }
        : { name: 'loss-reported-exactly', ok: false, detail: `the report says nothing was lost, but ${missing.length} acknowledged write(s) are missing` };
  } else if (claim.kind === 'inexact') {
    exact =
      missing.length === 0
        ? { name: 'loss-reported-exactly', ok: true, detail: `nothing acknowledged is missing (the report says: ${claim.text})` }
        : { name: 'loss-reported-exactly', ok: false, detail: `${missing.length} acknowledged write(s) are missing and the report does not list them (it says: ${claim.text})` };
  } else {
    const reported = new Set(claim.gtids);
    const withoutGtid = missing.filter((m) => m.gtid === undefined);
    const unreported = missing.filter((m) => m.gtid !== undefined && !reported.has(m.gtid));
    const ackedGtids = new Map(w.acked.filter((a) => a.gtid !== undefined).map((a) => [a.gtid!, a.seq]));
    const claimedButPresent = claim.gtids.filter((g) => ackedGtids.has(g) && present.has(ackedGtids.get(g)!));
    const claimedUnknown = claim.gtids.filter((g) => !ackedGtids.has(g));
    const problems: string[] = [];
    if (unreported.length > 0) problems.push(`${unreported.length} missing write(s) are not in the report (seq ${seqList(unreported.map((m) => m.seq))})`);
    if (withoutGtid.length > 0) problems.push(`${withoutGtid.length} missing write(s) have no known GTID to compare`);
    if (claimedButPresent.length > 0) problems.push(`the report claims ${claimedButPresent.length} transaction(s) lost that are on ${w.checkedOn} (${claimedButPresent.slice(0, 5).join(', ')})`);
    if (claimedUnknown.length > w.inDoubt.length) problems.push(`the report claims ${claimedUnknown.length} lost transaction(s) the writer never had acknowledged, more than its ${w.inDoubt.length} unacknowledged write(s)`);
    exact =
      problems.length === 0
        ? { name: 'loss-reported-exactly', ok: true, detail: `the report lists ${claim.gtids.length} lost transaction(s): exactly the ${missing.length} missing acknowledged write(s)${claimedUnknown.length > 0 ? ` plus ${claimedUnknown.length} whose acknowledgement never arrived` : ''}` }
        : { name: 'loss-reported-exactly', ok: false, detail: problems.join('; ') };
  }
  return { verdicts: [ackedPresent, exact], missing };
}

// ---------------------------------------------------------------- survivors and checksums

export interface SurvivorState {
  name: string;
  /** undefined: it did not answer. */
  replica: ReplicaSample | null | undefined;
}

/** Every survivor replicates from the new master (host:port, by any of its addresses), both threads running, no error. */
export function checkSurvivors(newMaster: { name: string; addresses: readonly string[]; port: number }, survivors: readonly SurvivorState[]): Verdict {
  const problems: string[] = [];
  for (const s of survivors) {
    const r = s.replica;
    if (r === undefined) {
      problems.push(`${s.name} does not answer`);
      continue;
    }
    if (r === null) {
      problems.push(`${s.name} is not a replica`);
      continue;
    }
    if (!newMaster.addresses.includes(r.sourceHost) || r.sourcePort !== newMaster.port) problems.push(`${s.name} replicates from ${r.sourceHost}:${r.sourcePort}, not from ${newMaster.name}`);
    if (r.io !== 'Yes' || !r.sql) problems.push(`${s.name}: IO ${r.io}, SQL ${r.sql ? 'Yes' : 'No'}`);
    if (r.ioErrno !== 0) problems.push(`${s.name}: IO error ${r.ioErrno}: ${r.ioError}`);
    if (r.sqlErrno !== 0) problems.push(`${s.name}: SQL error ${r.sqlErrno}: ${r.sqlError}`);
  }
  if (survivors.length === 0) return { name: 'survivors-replicate', ok: true, detail: `no other survivor than ${newMaster.name}` };
  return problems.length === 0
    ? { name: 'survivors-replicate', ok: true, detail: `${survivors.map((s) => s.name).join(', ')} replicate from ${newMaster.name} without error` }
    : { name: 'survivors-replicate', ok: false, detail: problems.join('; ') };
}

/** The drill table's checksum on the new master and every survivor (undefined: could not be taken). */
export function checkChecksums(sums: ReadonlyMap<string, string | undefined>): Verdict {
  const entries = [...sums.entries()];
  const missing = entries.filter(([, v]) => v === undefined).map(([k]) => k);
  if (missing.length > 0) return { name: 'checksums-equal', ok: false, detail: `no checksum from ${missing.join(', ')}` };
  const distinct = new Set(entries.map(([, v]) => v));
  if (distinct.size <= 1) return { name: 'checksums-equal', ok: true, detail: `the same checksum on ${entries.map(([k]) => k).join(', ')}` };
  return { name: 'checksums-equal', ok: false, detail: `checksums differ: ${entries.map(([k, v]) => `${k} ${v ?? '?'}`).join(', ')}` };
}

// ---------------------------------------------------------------- old master, hooks, manager

export interface OldMasterState {
  name: string;
  /** After healing: its read_only (undefined: it did not answer within the deadline). */
  readOnly: boolean | undefined;
  /** Is the VIP still on its host? undefined: no VIP configured (or could not be checked: see vipError). */
  holdsVip?: boolean | undefined;
  vipError?: string | undefined;
  /** ms from its first answer after healing until it was read_only (0: already). */
  fencedAfterMs?: number | undefined;
}

export function checkOldMasterFenced(o: OldMasterState): Verdict {
  if (o.readOnly === undefined) return { name: 'old-master-fenced', ok: false, detail: `${o.name} did not answer after healing: its state is unknown` };
  const problems: string[] = [];
  if (!o.readOnly) problems.push(`${o.name} is WRITABLE (read_only=OFF) after healing`);
  if (o.holdsVip === true) problems.push(`${o.name}'s host still holds the VIP`);
  if (o.vipError !== undefined) problems.push(`the VIP on ${o.name}'s host could not be checked: ${o.vipError}`);
  if (problems.length > 0) return { name: 'old-master-fenced', ok: false, detail: problems.join('; ') };
  const when = o.fencedAfterMs === undefined || o.fencedAfterMs === 0 ? '' : ` (${o.fencedAfterMs} ms after it answered again)`;
  return { name: 'old-master-fenced', ok: true, detail: `${o.name} is read_only${o.holdsVip === false ? ', without the VIP' : ''}${when}` };
}

export interface HookRun {
  name: string;
  phase: string;
  verdict: string;
}

/**
 * Which hooks a failover must have run, by how far it got: none for a refusal
 * (nothing changed), stop and report for one that failed after Phase 2 began
 * (MHA runs report_script at the end of any failover that reached it), every
 * failover phase for one that promoted.
 */
export function hooksExpected(configured: ReadonlyArray<{ name: string; phases: readonly string[] }>, outcome: string | undefined, reachedShutdown: boolean): Array<{ name: string; phase: string }> {
  const phases = outcome === 'success' || outcome === 'partial' ? ['stop', 'start', 'report'] : outcome === 'failed' && reachedShutdown ? ['stop', 'report'] : [];
  return configured.flatMap((h) => h.phases.filter((p) => phases.includes(p)).map((phase) => ({ name: h.name, phase })));
}

/** Every configured hook ran in each phase it is configured for, and its outcome is recorded. */
export function checkHooks(expected: ReadonlyArray<{ name: string; phase: string }>, ran: readonly HookRun[]): Verdict {
  if (expected.length === 0) return { name: 'hooks-ran', ok: true, detail: 'no hooks configured' };
  const missing = expected.filter((e) => !ran.some((r) => r.name === e.name && r.phase === e.phase));
  const outcomes = ran.map((r) => `${r.name}/${r.phase} ${r.verdict}`).join(', ');
  if (missing.length > 0) return { name: 'hooks-ran', ok: false, detail: `did not run: ${missing.map((m) => `${m.name}/${m.phase}`).join(', ')}${outcomes ? `; ran: ${outcomes}` : ''}` };
  return { name: 'hooks-ran', ok: true, detail: outcomes };
}

export function checkManager(running: boolean, detail: string): Verdict {
  return { name: 'manager-running', ok: running, detail };
}

export type Expectation = 'failover' | 'no-failover';

export function checkOutcome(expect: Expectation, failover: { id: string; outcome: string | undefined; newMaster?: string | undefined; reason?: string | undefined } | undefined, waitedMs: number): Verdict {
  if (expect === 'no-failover') {
    return failover === undefined
      ? { name: 'outcome', ok: true, detail: `no failover in ${Math.round(waitedMs / 1000)} s, as expected` }
      : { name: 'outcome', ok: false, detail: `a failover ran (${failover.id}, ${failover.outcome ?? 'unfinished'}) where none should` };
  }
  if (failover === undefined) return { name: 'outcome', ok: false, detail: `no failover within ${Math.round(waitedMs / 1000)} s` };
  if (failover.outcome === undefined) return { name: 'outcome', ok: false, detail: `failover ${failover.id} did not finish within ${Math.round(waitedMs / 1000)} s` };
  if (failover.outcome === 'success') return { name: 'outcome', ok: true, detail: `failover ${failover.id} to ${failover.newMaster ?? '?'} succeeded` };
  return { name: 'outcome', ok: false, detail: `failover ${failover.id}: ${failover.outcome}${failover.reason ? `: ${failover.reason}` : ''}` };
}

// ---------------------------------------------------------------- timings and the run

export function timings(faultAt: number, t: { beginAt?: number | undefined; writableAt?: number | undefined; endAt?: number | undefined; firstAckAfterFault?: number | undefined }): DrillTimings {
  const rel = (x: number | undefined): number | undefined => (x === undefined ? undefined : Math.max(0, Math.round(x - faultAt)));
  return { detectMs: rel(t.beginAt), writableMs: rel(t.writableAt), doneMs: rel(t.endAt), writesResumedMs: rel(t.firstAckAfterFault) };
}

export function allHold(verdicts: readonly Verdict[]): boolean {
  return verdicts.length > 0 && verdicts.every((v) => v.ok);
}

export function brokenInvariants(results: readonly DrillRunResult[]): string[] {
  return [...new Set(results.flatMap((r) => r.verdicts.filter((v) => !v.ok).map((v) => v.name)))];
}
