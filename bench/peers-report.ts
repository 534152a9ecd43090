// What `bench:fleet --peers` prints, as pure functions of the four inner runs' results: the figures
// per side, the table, a markdown table for docs/autoscaling.md, the goal checks against the
// best-practice peer, and the JSON line.
import type { RunFigures, TimelineRow } from '../src/sim/fleet/measure.ts';
import { PEER_SIDES, type PeerSide } from './peers-fleets.ts';

/** A step series reduced to its changes (and its last point): the same steps, far fewer points. */
export function stepSeries(points: ReadonlyArray<{ tS: number; value: number }>): Array<{ tS: number; value: number }> {
  const out: Array<{ tS: number; value: number }> = [];
  points.forEach((p, i) => {
    const last = out[out.length - 1];
    if (last === undefined || last.value !== p.value || i === points.length - 1) out.push({ tS: Math.round(p.tS * 1000) / 1000, value: p.value });
  });
  return out;
}

/** What one inner run returns that the report uses. */
export interface PeerRun {
  figures: RunFigures;
  timeline: TimelineRow[];
  drops: Array<{ atMs: number; code: number; reason: string }>;
  apiWrites?: { writes: number; seconds: number };
  podSeries?: Array<{ tS: number; value: number }>;
}

export interface PeerFigures {
  /** Sessions the server ended abnormally, all causes. */
  cut: number;
  /** scale_down: closed with 1012 as their pod stopped (SIGTERM); other: any other abnormal end (1011, ...). */
  cut_by_cause: { scale_down: number; other: number };
  refused: number;
  queued_s: number;
  queued_sessions: number;
  reaction_s: number;
  replica_s: number;
  ideal_replica_s: number;
  replica_s_ratio: number;
  pending_replica_s: number;
  draining_replica_s: number;
  peak_pods: number;
  scale_events: number;
  /** Autoscaler writes over the trace (null: not measured). */
  api_writes: number | null;
  api_writes_per_s: number | null;
}

const r1 = (v: number) => Math.round(v * 10) / 10;

export function peerFigures(run: PeerRun): PeerFigures {
  const f = run.figures;
  const scaleDown = run.drops.filter((d) => d.code === 1012).length;
  return {
    cut: run.drops.length,
    cut_by_cause: { scale_down: scaleDown, other: run.drops.length - scaleDown },
    refused: f.refused,
    queued_s: f.queuedSeconds,
    queued_sessions: f.queuedSessions,
    reaction_s: r1(f.reactionSeconds),
    replica_s: f.replicaSeconds,
    ideal_replica_s: f.idealReplicaSeconds,
    replica_s_ratio: f.replicaRatio,
    pending_replica_s: f.pendingReplicaSeconds,
    draining_replica_s: f.drainingReplicaSeconds,
    peak_pods: f.peakPods,
    scale_events: f.scaleEvents,
    api_writes: run.apiWrites ? run.apiWrites.writes : null,
    api_writes_per_s: run.apiWrites && run.apiWrites.seconds > 0 ? Math.round((run.apiWrites.writes / run.apiWrites.seconds) * 100) / 100 : null,
  };
}

export type PeersSummary = Record<PeerSide, PeerFigures>;

export function peersSummary(runs: Record<PeerSide, PeerRun>): PeersSummary {
  return Object.fromEntries(PEER_SIDES.map((s) => [s, peerFigures(runs[s])])) as PeersSummary;
}

/** The report's rows: label and one value per side. */
function rows(): Array<[string, (f: PeerFigures) => string]> {
  const n = (v: number | null, d = 1) => (v === null ? '-' : Number.isInteger(v) && d === 0 ? String(v) : v.toFixed(d));
  return [
    ['sessions cut (all causes)', (f) => n(f.cut, 0)],
    ['  by a scale-down (1012, pod stopped)', (f) => n(f.cut_by_cause.scale_down, 0)],
    ['  other (1011, ...)', (f) => n(f.cut_by_cause.other, 0)],
    ['sessions refused', (f) => n(f.refused, 0)],
    ['sessions that queued', (f) => n(f.queued_sessions, 0)],
    ['session-seconds queued (wall)', (f) => n(f.queued_s)],
    ['reaction to the spike, s (wall)', (f) => n(f.reaction_s)],
    ['replica-seconds, every pod (wall)', (f) => n(f.replica_s)],
    ['  of which starting (Pending)', (f) => n(f.pending_replica_s)],
    ['  of which draining or Terminating', (f) => n(f.draining_replica_s)],
    ['ideal replica-seconds (wall)', (f) => n(f.ideal_replica_s)],
    ['used / ideal', (f) => n(f.replica_s_ratio, 3)],
    ['peak pods', (f) => n(f.peak_pods, 0)],
    ['scale events (replicas changes)', (f) => n(f.scale_events, 0)],
    ['autoscaler API writes', (f) => n(f.api_writes, 0)],
    ['  per second', (f) => n(f.api_writes_per_s, 2)],
  ];
}

export function peersTable(s: PeersSummary): string {
  const rs = rows();
  const w0 = Math.max(...rs.map((r) => r[0].length));
  const w = Math.max(...PEER_SIDES.map((x) => x.length), 8);
  const head = `${'figure'.padEnd(w0)}  ${PEER_SIDES.map((x) => x.padStart(w)).join('  ')}`;
  return [head, `${'-'.repeat(w0)}  ${PEER_SIDES.map(() => '-'.repeat(w)).join('  ')}`, ...rs.map(([k, f]) => `${k.padEnd(w0)}  ${PEER_SIDES.map((x) => f(s[x]).padStart(w)).join('  ')}`)].join('\n');
}

/** The same rows as a markdown table (pasted into docs/autoscaling.md). */
export function peersMarkdown(s: PeersSummary): string {
  const rs = rows();
  return [`| figure | ${PEER_SIDES.map((x) => `\`${x}\``).join(' | ')} |`, `|---|${PEER_SIDES.map(() => '---:').join('|')}|`, ...rs.map(([k, f]) => `| ${k.startsWith('  ') ? `… ${k.trim()}` : k} | ${PEER_SIDES.map((x) => f(s[x])).join(' | ')} |`)].join('\n');
}

/** The goals for each operator side against the best-practice peer (keda_prestop). */
export function peersGoals(s: PeersSummary): Array<{ side: PeerSide; goal: string; met: boolean; detail: string }> {
  const peer = s.keda_prestop;
  const out: Array<{ side: PeerSide; goal: string; met: boolean; detail: string }> = [];
  for (const side of ['operator_prom', 'operator_pods'] as const) {
    const f = s[side];
    // Rounded to 0.1 %: exactly 20 % fewer meets the goal.
    const saved = peer.replica_s > 0 ? Math.round((1 - f.replica_s / peer.replica_s) * 1000) / 1000 : 0;
    out.push({ side, goal: 'no session cut (either side)', met: f.cut === 0 && peer.cut === 0, detail: `${f.cut} vs ${peer.cut}` });
    out.push({ side, goal: 'at least 20 % fewer replica-seconds than keda_prestop', met: saved >= 0.2, detail: `${(saved * 100).toFixed(1)} % fewer (${f.replica_s} vs ${peer.replica_s})` });
    out.push({ side, goal: 'no more session-seconds queued than keda_prestop', met: f.queued_s <= peer.queued_s, detail: `${f.queued_s} vs ${peer.queued_s}` });
  }
  return out;
}

/** The JSON line's per-side part: the figures the issue names first, then the rest. */
export function peersJson(s: PeersSummary): Record<PeerSide, PeerFigures> {
  return Object.fromEntries(
    PEER_SIDES.map((x) => {
      const { cut, queued_s, reaction_s, replica_s_ratio, peak_pods, ...rest } = s[x];
      return [x, { cut, queued_s, reaction_s, replica_s_ratio, peak_pods, ...rest }];
    }),
  ) as Record<PeerSide, PeerFigures>;
}
