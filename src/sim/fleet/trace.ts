// The fleet benchmark's load: a concurrency shape (ramp up, plateau, spike, ramp down) turned into
// a plan of sessions (start, duration), pure given the RNG, so both runs of the benchmark replay
// exactly the same conversations. Times here are trace (fleet) time; `timeScale` compresses them
// into wall time (session durations too).
//
// Arrivals follow Little's law: to hold concurrency C(t) with mean session length D, sessions
// arrive at C(t)/D per unit time, plus C'(t) while the level rises. A spike is a burst: `count`
// sessions arriving within `spreadMs`, the sharp load step the reaction time is measured on.
import { z } from 'zod';
import type { PlannedSession } from '../loadgen/profile.ts';
import type { Rng } from '../random.ts';

export const fleetTraceSchema = z.object({
  name: z.string(),
  /** Trace length, ms of fleet time. */
  totalMs: z.number().positive(),
  /** Concurrency shape: linear between points, ms of fleet time. */
  points: z.array(z.object({ tMs: z.number().nonnegative(), sessions: z.number().nonnegative() })).min(1),
  bursts: z
    .array(z.object({ name: z.string(), atMs: z.number().nonnegative(), count: z.int().positive(), spreadMs: z.number().nonnegative(), meanDurationMs: z.number().positive() }))
    .default([]),
  /** Mean session length (exponential), ms of fleet time. */
  meanDurationMs: z.number().positive(),
  minDurationMs: z.number().nonnegative().default(10_000),
  maxDurationMs: z.number().positive(),
});
export type FleetTrace = z.input<typeof fleetTraceSchema>;

/** 36 fleet-minutes: ramp up, plateau, spike, ramp down. */
export const FULL_TRACE: FleetTrace = {
  name: 'full',
  totalMs: 36 * 60_000,
  points: [
    { tMs: 0, sessions: 6 },
    { tMs: 3 * 60_000, sessions: 6 },
    { tMs: 11 * 60_000, sessions: 27 },
    { tMs: 24 * 60_000, sessions: 27 },
    { tMs: 32 * 60_000, sessions: 6 },
    { tMs: 36 * 60_000, sessions: 6 },
  ],
  bursts: [{ name: 'spike', atMs: 17 * 60_000, count: 18, spreadMs: 2_000, meanDurationMs: 5 * 60_000 }],
  meanDurationMs: 3 * 60_000,
  minDurationMs: 10_000,
  maxDurationMs: 12 * 60_000,
};

/** 20 fleet-minutes, the same shape in short, for CI. */
export const QUICK_TRACE: FleetTrace = {
  name: 'quick',
  totalMs: 20 * 60_000,
  points: [
    { tMs: 0, sessions: 4 },
    { tMs: 60_000, sessions: 4 },
    { tMs: 4 * 60_000, sessions: 18 },
    { tMs: 10 * 60_000, sessions: 18 },
    { tMs: 15 * 60_000, sessions: 4 },
    { tMs: 20 * 60_000, sessions: 4 },
  ],
  bursts: [{ name: 'spike', atMs: 6 * 60_000, count: 12, spreadMs: 2_000, meanDurationMs: 3 * 60_000 }],
  meanDurationMs: 2 * 60_000,
  minDurationMs: 10_000,
  maxDurationMs: 6 * 60_000,
};

export function concurrencyAt(points: FleetTrace['points'], tMs: number): number {
  const pts = [...points].sort((a, b) => a.tMs - b.tMs);
  if (tMs <= pts[0]!.tMs) return pts[0]!.sessions;
  for (let i = 1; i < pts.length; i++) {
    const b = pts[i]!;
    if (tMs < b.tMs) {
      const a = pts[i - 1]!;
      return a.sessions + ((b.sessions - a.sessions) * (tMs - a.tMs)) / (b.tMs - a.tMs);
    }
  }
  return pts[pts.length - 1]!.sessions;
}

export interface TracePlan {
  /** Wall-clock plan for runPlan. */
  sessions: PlannedSession[];
  /** Load steps (bursts) in wall ms from the start, for reaction times. */
  steps: Array<{ name: string; atMs: number; untilMs: number }>;
  /** Wall length of the trace. */
  totalMs: number;
}

function exponential(mean: number, rng: Rng): number {
  return -Math.log(1 - rng()) * mean;
}

/**
 * The sessions of a trace. Sessions present at t=0 start in the first second (a fleet already
 * holding its base load); every duration is clamped to [minDurationMs, maxDurationMs].
 */
export function planTrace(input: FleetTrace, opts: { timeScale: number; rng: Rng }): TracePlan {
  const t = fleetTraceSchema.parse(input);
  const { timeScale, rng } = opts;
  const clampDur = (ms: number) => Math.min(t.maxDurationMs, Math.max(t.minDurationMs, ms));
  const out: PlannedSession[] = [];
  const add = (atTrace: number, durTrace: number) => out.push({ atMs: atTrace / timeScale, durationMs: Math.max(1, clampDur(durTrace) / timeScale) });

  // The initial load: residual lengths of sessions already running (exponential: memoryless).
  const initial = Math.round(concurrencyAt(t.points, 0));
  for (let i = 0; i < initial; i++) add(rng() * 1000 * timeScale, exponential(t.meanDurationMs, rng));

  // Arrivals at rate C/D + max(0, C'), evenly spread (the integrated rate, with a random phase):
  // the concurrency then follows the shape closely instead of wandering with Poisson noise.
  const dt = 1000;
  const rate = (ms: number) => {
    const c = concurrencyAt(t.points, ms);
    const slope = (concurrencyAt(t.points, ms + dt) - c) / dt;
    return Math.max(0, c / t.meanDurationMs + Math.max(0, slope));
  };
  let acc = rng();
  for (let ms = 0; ms < t.totalMs; ms += dt) {
    acc += rate(ms) * dt;
    while (acc >= 1) {
      acc -= 1;
      add(ms + rng() * dt, exponential(t.meanDurationMs, rng));
    }
  }
  const steps: TracePlan['steps'] = [];
  for (const b of t.bursts) {
    for (let i = 0; i < b.count; i++) add(b.atMs + (b.count > 1 ? (b.spreadMs * i) / (b.count - 1) : 0), exponential(b.meanDurationMs, rng));
    steps.push({ name: b.name, atMs: b.atMs / timeScale, untilMs: (b.atMs + b.spreadMs) / timeScale });
  }
  out.sort((a, b) => a.atMs - b.atMs);
  return { sessions: out, steps, totalMs: t.totalMs / timeScale };
}

/** Concurrency the plan implies at wall time `ms` (sessions started and not yet ended). */
export function plannedConcurrency(plan: readonly PlannedSession[], ms: number): number {
  let n = 0;
  for (const s of plan) if (s.atMs <= ms && s.atMs + s.durationMs > ms) n++;
  return n;
}
