// What the fleet benchmark reports, as pure functions of what one run recorded: a timeline sampled
// a few times a second (pods, ready endpoints, sessions the clients hold) and every session's end.
//
//   dropped          sessions the server closed with 1012 (a backend stopped under them)
//   droppedByServices sessions the server closed with 1011: an STT/TTS/LLM stream refused or lost
//                    (a follower tier scaled down or rolled under them, or out of slots)
//   queuedSeconds    time clients waited for a slot (upgrade not completed), summed; split into
//                    avoidable (sent to a full backend while another serving one had a free
//                    slot: routing's fault) and unavoidable (the rest: every serving backend was
//                    full, or the wait was the upgrade's own round trip), from what the run knew
//                    of each backend when the caller was routed (classifyWait)
//   reaction         per load step: from the step's start until the serving backends (up, not
//                    draining; a full one counts) are as many as the load asks for
//                    (serving ≥ ceil(sessions / targetSessionsPerPod)), 0 if they never fell
//                    short. Not the Service's ready endpoints: with load-aware routing a full
//                    backend leaves them while it still serves (ADR 0011), so counting them
//                    reported a shortfall whenever backends were full, however many there were
//   replicaSeconds   ∫ backend pods (every pod that exists: starting, serving, draining)
//   idealSeconds     ∫ max(minReplicas, ceil(sessions / targetSessionsPerPod))
import type { SessionOutcome } from '../loadgen/session.ts';

export interface TimelineSample {
  /** Wall ms since the start of the run. */
  tMs: number;
  /** Backend pods that exist. */
  pods: number;
  /** Ready endpoints of the backend Service. */
  ready: number;
  /**
   * Backends that serve: worker up, pod neither terminating nor draining (a full one, out of the
   * Service until a slot frees, counts). The reaction's capacity; `ready` when absent.
   */
  serving?: number;
  /** Sessions the clients hold: open or waiting for a slot. */
  sessions: number;
  /** Of `pods`: not started yet (Pending: scheduling, image pull). */
  pending?: number;
  /** Of `pods`: out of the Service and finishing their sessions, or being stopped. */
  draining?: number;
}

export interface SessionRecord {
  outcome: SessionOutcome;
  closeCode?: number;
  /** Time spent waiting for a slot (ms). */
  waitedMs: number;
  /** Wall ms since the start of the run when the session was started. */
  startMs?: number;
  /** The fleet as it was when this caller was routed (absent: unknown, the wait counts unavoidable). */
  routing?: RoutingSnapshot;
}

/** What the run knew when a caller was routed, from the sessions held on each backend. */
export interface RoutingSnapshot {
  /** Free slots on serving backends other than the one the caller was sent to. */
  freeElsewhere: number;
  /**
   * Whether the backend the caller was sent to was full; undefined when the run cannot tell
   * which backend that was (callers sent to a gateway).
   */
  pickedFull?: boolean;
}

/** One backend at the moment a caller is routed. */
export interface BackendHold {
  url: string;
  /** Up, and neither terminating nor draining: in rotation, or out of it only because full. */
  serving: boolean;
  /** Sessions held there, open or waiting for a slot (not counting the caller being routed). */
  held: number;
}

/** Free slots elsewhere and whether the picked backend was full, for one caller being routed. */
export function routingSnapshot(backends: readonly BackendHold[], pickedUrl: string | undefined, maxSessionsPerPod: number): RoutingSnapshot {
  let freeElsewhere = 0;
  let picked: BackendHold | undefined;
  for (const b of backends) {
    if (b.url === pickedUrl) {
      picked = b;
      continue;
    }
    if (b.serving) freeElsewhere += Math.max(0, maxSessionsPerPod - b.held);
  }
  return { freeElsewhere, ...(picked !== undefined ? { pickedFull: picked.held >= maxSessionsPerPod } : {}) };
}

/** Waits up to this long are the upgrade's own round trip, not a wait for a slot. */
export const QUEUED_THRESHOLD_MS = 50;

/**
 * Whose fault a session's wait was. `avoidable`: it waited for a slot, and when it was routed
 * some other serving backend had a free slot, while its own was full (or unknown, behind a
 * gateway): a router that knew the load would have started it at once. Everything else is
 * `unavoidable`: capacity (every serving backend full), the upgrade's round trip, or a slow
 * backend that had a slot.
 */
export function classifyWait(r: SessionRecord): 'avoidable' | 'unavoidable' {
  if (r.waitedMs <= QUEUED_THRESHOLD_MS || r.routing === undefined) return 'unavoidable';
  return r.routing.freeElsewhere > 0 && r.routing.pickedFull !== false ? 'avoidable' : 'unavoidable';
}

/** Queued session-seconds split by classifyWait; the two parts add up to the total. */
export function splitQueued(sessions: readonly SessionRecord[]): { avoidableSeconds: number; unavoidableSeconds: number; avoidableSessions: number } {
  let avoidable = 0;
  let unavoidable = 0;
  let avoidableSessions = 0;
  for (const r of sessions) {
    if (classifyWait(r) === 'avoidable') {
      avoidable += r.waitedMs;
      avoidableSessions++;
    } else unavoidable += r.waitedMs;
  }
  return { avoidableSeconds: round(avoidable / 1000, 1), unavoidableSeconds: round(unavoidable / 1000, 1), avoidableSessions };
}

export interface MeasureSpec {
  targetSessionsPerPod: number;
  maxSessionsPerPod: number;
  minReplicas: number;
}

export interface StepReaction {
  name: string;
  /** Seconds; 0 when capacity never fell short. */
  seconds: number;
  /** True when capacity was still short at the end of the timeline. */
  unresolved: boolean;
  /** Seconds from the step's start to the first raise of the Deployment's replicas (the scale decision), if one came within a minute. */
  decisionSeconds?: number;
}

export interface RunFigures {
  sessions: number;
  completed: number;
  dropped: number;
  droppedByServices: number;
  refused: number;
  failed: number;
  queuedSeconds: number;
  queuedSessions: number;
  /** Of queuedSeconds: routing's fault, and the rest (splitQueued). */
  queuedAvoidableSeconds: number;
  queuedUnavoidableSeconds: number;
  /** Sessions whose wait was avoidable. */
  queuedAvoidableSessions: number;
  reactions: StepReaction[];
  /** Worst step reaction, seconds. */
  reactionSeconds: number;
  replicaSeconds: number;
  idealReplicaSeconds: number;
  replicaRatio: number;
  /** Of replicaSeconds: pods not started yet, and pods draining or stopping. */
  pendingReplicaSeconds: number;
  drainingReplicaSeconds: number;
  peakPods: number;
  scaleEvents: number;
}

export function idealReplicas(sessions: number, spec: MeasureSpec): number {
  return Math.max(spec.minReplicas, Math.ceil(sessions / spec.targetSessionsPerPod));
}

/** ∫ f over the timeline, each sample's value held until the next sample (until endMs for the last). */
export function integrate<S extends { tMs: number }>(samples: readonly S[], f: (s: S) => number, endMs?: number): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    const next = i + 1 < samples.length ? samples[i + 1]!.tMs : (endMs ?? s.tMs);
    sum += f(s) * Math.max(0, next - s.tMs);
  }
  return sum / 1000;
}

const enough = (s: TimelineSample, spec: MeasureSpec) => (s.serving ?? s.ready) * spec.targetSessionsPerPod >= s.sessions;

/**
 * Reaction to a load step: if capacity (serving backends × target) falls short within the step
 * (its arrivals plus a grace of `graceMs`), the time from the step's start until it is enough
 * again: the scale decision plus the new pods' start.
 */
export function reactionTo(samples: readonly TimelineSample[], step: { name: string; atMs: number; untilMs: number }, spec: MeasureSpec, graceMs = 2000): StepReaction {
  const after = samples.filter((s) => s.tMs >= step.atMs);
  const shortIdx = after.findIndex((s) => s.tMs <= step.untilMs + graceMs && !enough(s, spec));
  if (shortIdx < 0) return { name: step.name, seconds: 0, unresolved: false };
  const back = after.slice(shortIdx).find((s) => enough(s, spec));
  if (back === undefined) {
    const last = after[after.length - 1]!;
    return { name: step.name, seconds: (last.tMs - step.atMs) / 1000, unresolved: true };
  }
  return { name: step.name, seconds: (back.tMs - step.atMs) / 1000, unresolved: false };
}

export function measureRun(input: {
  samples: readonly TimelineSample[];
  sessions: readonly SessionRecord[];
  steps: ReadonlyArray<{ name: string; atMs: number; untilMs: number }>;
  spec: MeasureSpec;
  scaleEvents: number;
  endMs: number;
  /** When the Deployment's replicas were raised (ms since the start of the run). */
  scaleUpsMs?: readonly number[];
}): RunFigures {
  const { samples, sessions, spec } = input;
  const count = (o: SessionOutcome) => sessions.filter((s) => s.outcome === o).length;
  const reactions = input.steps.map((st) => {
    const r = reactionTo(samples, st, spec);
    const up = input.scaleUpsMs?.find((t) => t >= st.atMs && t <= st.atMs + 60_000);
    return up === undefined ? r : { ...r, decisionSeconds: round((up - st.atMs) / 1000, 2) };
  });
  const replicaSeconds = integrate(samples, (s) => s.pods, input.endMs);
  const idealReplicaSeconds = integrate(samples, (s) => idealReplicas(s.sessions, spec), input.endMs);
  const queued = sessions.filter((s) => s.waitedMs > QUEUED_THRESHOLD_MS);
  const split = splitQueued(sessions);
  return {
    sessions: sessions.length,
    completed: count('completed') + count('aborted'),
    dropped: sessions.filter((s) => s.outcome === 'dropped' && s.closeCode === 1012).length,
    droppedByServices: sessions.filter((s) => s.outcome === 'dropped' && s.closeCode === 1011).length,
    refused: count('refused'),
    failed: count('failed') + sessions.filter((s) => s.outcome === 'dropped' && s.closeCode !== 1012).length,
    queuedSeconds: round(sessions.reduce((a, s) => a + s.waitedMs, 0) / 1000, 1),
    queuedSessions: queued.length,
    queuedAvoidableSeconds: split.avoidableSeconds,
    queuedUnavoidableSeconds: split.unavoidableSeconds,
    queuedAvoidableSessions: split.avoidableSessions,
    reactions,
    reactionSeconds: reactions.length === 0 ? 0 : Math.max(...reactions.map((r) => r.seconds)),
    replicaSeconds: round(replicaSeconds, 1),
    idealReplicaSeconds: round(idealReplicaSeconds, 1),
    replicaRatio: idealReplicaSeconds > 0 ? round(replicaSeconds / idealReplicaSeconds, 3) : 0,
    pendingReplicaSeconds: round(integrate(samples, (s) => s.pending ?? 0, input.endMs), 1),
    drainingReplicaSeconds: round(integrate(samples, (s) => s.draining ?? 0, input.endMs), 1),
    peakPods: samples.reduce((m, s) => Math.max(m, s.pods), 0),
    scaleEvents: input.scaleEvents,
  };
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export interface TimelineRow {
  fromS: number;
  /** Mean sessions, pods and ideal pods over the window. */
  sessions: number;
  pods: number;
  ideal: number;
  ready: number;
  /** Queue time of the sessions started in the window (s). */
  queuedS: number;
}

/** The run in windows of `windowMs`: where the replica-seconds and the queueing went. */
export function timelineRows(samples: readonly TimelineSample[], sessions: readonly SessionRecord[], spec: MeasureSpec, windowMs: number, endMs: number): TimelineRow[] {
  const rows: TimelineRow[] = [];
  for (let from = 0; from < endMs; from += windowMs) {
    const to = Math.min(endMs, from + windowMs);
    const inside = samples.filter((s) => s.tMs >= from && s.tMs < to);
    const len = (to - from) / 1000;
    const mean = (f: (s: TimelineSample) => number) => (inside.length === 0 ? 0 : round(integrate(inside, f, to) / len, 1));
    rows.push({
      fromS: from / 1000,
      sessions: mean((s) => s.sessions),
      pods: mean((s) => s.pods),
      ideal: mean((s) => idealReplicas(s.sessions, spec)),
      ready: mean((s) => s.ready),
      queuedS: round(sessions.filter((r) => r.startMs !== undefined && r.startMs >= from && r.startMs < to).reduce((a, r) => a + r.waitedMs, 0) / 1000, 1),
    });
  }
  return rows;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Requests that write (POST, PUT, PATCH, DELETE, whatever their answer) in a process's
 * rest_client_requests_total, from its /metrics text: the operator's API writes so far.
 */
export function apiWritesFromMetrics(exposition: string): number {
  let writes = 0;
  for (const line of exposition.split('\n')) {
    if (!line.startsWith('rest_client_requests_total{')) continue;
    const end = line.lastIndexOf('}');
    const method = /(?:^|[{,])method="([A-Z]+)"/.exec(line.slice(0, end + 1))?.[1];
    const value = Number(line.slice(end + 1).trim().split(/\s+/)[0]);
    if (method !== undefined && WRITE_METHODS.has(method) && Number.isFinite(value)) writes += value;
  }
  return writes;
}
