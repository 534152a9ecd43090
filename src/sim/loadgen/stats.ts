// Aggregation of session results into the load test report (pure functions).
import type { SessionOutcome, SessionResult } from './session.ts';

/** Linear interpolation between closest ranks (numpy's default), on sorted input. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

export interface Summary {
  count: number;
  mean?: number;
  p50?: number;
  p90?: number;
  p95?: number;
  p99?: number;
  max?: number;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { count: 0 };
  const s = [...values].sort((a, b) => a - b);
  const round = (x: number): number => Math.round(x * 10) / 10;
  return {
    count: s.length,
    mean: round(s.reduce((a, b) => a + b, 0) / s.length),
    p50: round(percentile(s, 50)),
    p90: round(percentile(s, 90)),
    p95: round(percentile(s, 95)),
    p99: round(percentile(s, 99)),
    max: round(s[s.length - 1]!),
  };
}

// `upgrade` is every session's connect -> upgrade; `queued` and `slowServer` are the same time for
// the late upgrades put down to a slot wait or to a slow server (session.ts says how).
export const LATENCY_KEYS = ['upgrade', 'queued', 'slowServer', 'stt', 'vad', 'llm', 'ttsStart', 'response'] as const;
export type LatencyKey = (typeof LATENCY_KEYS)[number];

export interface LoadReport {
  sessions: Record<SessionOutcome, number> & { total: number; skipped: number; okFraction: number };
  /** Close codes of sessions the server dropped, e.g. {"1011": 2, "1012": 4}. */
  dropCloseCodes: Record<string, number>;
  /** Per dropped session: close code, close reason and the server's last error text, counted. */
  dropReasons: Record<string, number>;
  /** Sessions whose upgrade came late: waiting for a slot, or on a slow server that had a slot free. */
  queueCauses: { slot: number; slowServer: number };
  /** HTTP statuses of refused upgrades. */
  httpStatuses: Record<string, number>;
  /** Most frequent client-side errors. */
  errors: Record<string, number>;
  latencyMs: Record<LatencyKey, Summary>;
  replies: { total: number; afterUserTurn: number; completed: number };
  userTurns: number;
  perTarget: Record<string, { sessions: number; completed: number; dropped: number }>;
  wallMs: number;
}

export function buildReport(results: readonly SessionResult[], opts: { skipped?: number; wallMs: number }): LoadReport {
  const outcomes: Record<SessionOutcome, number> = { completed: 0, dropped: 0, refused: 0, failed: 0, aborted: 0 };
  const dropCloseCodes: Record<string, number> = {};
  const dropReasons: Record<string, number> = {};
  const queueCauses = { slot: 0, slowServer: 0 };
  const httpStatuses: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const lat: Record<LatencyKey, number[]> = { upgrade: [], queued: [], slowServer: [], stt: [], vad: [], llm: [], ttsStart: [], response: [] };
  const perTarget: LoadReport['perTarget'] = {};
  let replies = 0;
  let afterUser = 0;
  let repliesDone = 0;
  let userTurns = 0;
  const bump = (m: Record<string, number>, k: string): void => {
    m[k] = (m[k] ?? 0) + 1;
  };
  for (const r of results) {
    outcomes[r.outcome]++;
    if (r.outcome === 'dropped' && r.closeCode !== undefined) {
      bump(dropCloseCodes, String(r.closeCode));
      const error = r.serverErrors.filter((e) => e.type === 'fatal').at(-1)?.message;
      const reason = r.closeReason === undefined || r.closeReason === '' ? '(no reason)' : JSON.stringify(r.closeReason);
      bump(dropReasons, `${r.closeCode} ${reason}${error !== undefined && error !== r.closeReason ? `, error ${JSON.stringify(error)}` : ''}`);
    }
    if (r.queueCause === 'slot') queueCauses.slot++;
    else if (r.queueCause === 'slow-server') queueCauses.slowServer++;
    if (r.httpStatus !== undefined) bump(httpStatuses, String(r.httpStatus));
    if (r.error !== undefined && r.outcome !== 'completed') bump(errors, r.error);
    if (r.queuedMs !== undefined) {
      lat.upgrade.push(r.queuedMs);
      if (r.queueCause === 'slot') lat.queued.push(r.queuedMs);
      else if (r.queueCause === 'slow-server') lat.slowServer.push(r.queuedMs);
    }
    const t = (perTarget[r.url || '(none)'] ??= { sessions: 0, completed: 0, dropped: 0 });
    t.sessions++;
    if (r.outcome === 'completed') t.completed++;
    if (r.outcome === 'dropped') t.dropped++;
    userTurns += r.userTurns;
    for (const rep of r.replies) {
      replies++;
      if (rep.afterUserTurn) afterUser++;
      if (rep.completed) repliesDone++;
      if (rep.sttMs !== undefined) lat.stt.push(rep.sttMs);
      if (rep.vadMs !== undefined) lat.vad.push(rep.vadMs);
      if (rep.llmMs !== undefined) lat.llm.push(rep.llmMs);
      if (rep.ttsStartMs !== undefined) lat.ttsStart.push(rep.ttsStartMs);
      if (rep.responseMs !== undefined) lat.response.push(rep.responseMs);
    }
  }
  const topErrors = Object.fromEntries(Object.entries(errors).sort((a, b) => b[1] - a[1]).slice(0, 10));
  const total = results.length;
  return {
    sessions: { total, ...outcomes, skipped: opts.skipped ?? 0, okFraction: total === 0 ? 0 : Math.round((outcomes.completed / total) * 1000) / 1000 },
    dropCloseCodes,
    dropReasons,
    queueCauses,
    httpStatuses,
    errors: topErrors,
    latencyMs: Object.fromEntries(LATENCY_KEYS.map((k) => [k, summarize(lat[k])])) as Record<LatencyKey, Summary>,
    replies: { total: replies, afterUserTurn: afterUser, completed: repliesDone },
    userTurns,
    perTarget,
    wallMs: Math.round(opts.wallMs),
  };
}

const LATENCY_LABELS: Record<LatencyKey, string> = {
  upgrade: 'upgrade (connect -> upgrade, all)',
  queued: '  late: waiting for a slot',
  slowServer: '  late: slow server, slot free',
  stt: 'stt (speech start -> 1st transcript)',
  vad: 'vad (speech end -> response.created)',
  llm: 'llm (response.created -> 1st word)',
  ttsStart: 'tts start (1st word -> 1st audio)',
  response: 'response (speech end -> 1st audio)',
};

/** The human-readable report. */
export function formatReport(r: LoadReport): string {
  const s = r.sessions;
  const lines: string[] = [];
  lines.push(`sessions: ${s.total} (completed ${s.completed}, dropped ${s.dropped}, refused ${s.refused}, failed ${s.failed}, aborted ${s.aborted}${s.skipped > 0 ? `, skipped ${s.skipped}` : ''}), ok fraction ${s.okFraction}`);
  if (Object.keys(r.dropCloseCodes).length > 0) lines.push(`dropped by close code: ${Object.entries(r.dropCloseCodes).map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  for (const [k, v] of Object.entries(r.dropReasons)) lines.push(`  dropped ${v}: ${k}`);
  if (r.queueCauses.slot + r.queueCauses.slowServer > 0) {
    lines.push(`late upgrades: ${r.queueCauses.slot} waited for a slot (callers queued on the backend), ${r.queueCauses.slowServer} on a slow server with a slot free`);
  }
  if (Object.keys(r.httpStatuses).length > 0) lines.push(`refused upgrades by HTTP status: ${Object.entries(r.httpStatuses).map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  if (Object.keys(r.errors).length > 0) lines.push(`errors: ${Object.entries(r.errors).map(([k, v]) => `${k} (${v})`).join('; ')}`);
  lines.push(`replies: ${r.replies.total} (${r.replies.afterUserTurn} after a user turn, ${r.replies.completed} complete), user turns: ${r.userTurns}, wall time ${(r.wallMs / 1000).toFixed(1)} s`);
  lines.push('');
  const header = ['latency (ms)', 'count', 'p50', 'p90', 'p95', 'p99', 'max'];
  const rows = LATENCY_KEYS.map((k) => {
    const x = r.latencyMs[k];
    const f = (v: number | undefined): string => (v === undefined ? '-' : v.toFixed(0));
    return [LATENCY_LABELS[k], String(x.count), f(x.p50), f(x.p90), f(x.p95), f(x.p99), f(x.max)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (row: string[]): string => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  lines.push(fmt(header));
  for (const row of rows) lines.push(fmt(row));
  const targets = Object.entries(r.perTarget);
  if (targets.length > 1) {
    lines.push('');
    for (const [url, t] of targets) lines.push(`${url}: ${t.sessions} sessions, ${t.completed} completed, ${t.dropped} dropped`);
  }
  return lines.join('\n') + '\n';
}
