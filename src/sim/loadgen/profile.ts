// Arrival profiles for the trace mode: the arrival rate of new conversations as a pure function of
// trace time, and the plan of (start time, duration) pairs drawn from it with an injected RNG.
// Rates are in sessions per minute of trace time; a time-compression factor replays a long trace
// faster (trace time / factor = wall time; session durations shrink by the same factor, the
// simulated latencies do not).
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseDurationMs, sample, type Distribution, type Rng } from '../random.ts';

/** Sessions per minute at trace time `tMs`, for a trace lasting `totalMs`. */
export type RateFn = (tMs: number) => number;

export interface ArrivalProfile {
  describe: string;
  rate: (tMs: number, totalMs: number) => number;
}

const perMin = z.number().nonnegative();

export function rampProfile(from: number, to: number): ArrivalProfile {
  return { describe: `ramp ${from}->${to}/min`, rate: (t, total) => from + (to - from) * Math.min(1, Math.max(0, t / Math.max(1, total))) };
}

export function stepProfile(from: number, to: number, atMs: number): ArrivalProfile {
  return { describe: `step ${from}->${to}/min at ${atMs / 1000}s`, rate: (t) => (t < atMs ? from : to) };
}

export function spikeProfile(base: number, peak: number, atMs: number, widthMs: number): ArrivalProfile {
  return { describe: `spike ${base}/min, ${peak}/min from ${atMs / 1000}s for ${widthMs / 1000}s`, rate: (t) => (t >= atMs && t < atMs + widthMs ? peak : base) };
}

/** Minimum at t=0 (night), maximum at half the period. */
export function diurnalProfile(min: number, max: number, periodMs = 86_400_000): ArrivalProfile {
  return {
    describe: `diurnal ${min}-${max}/min over ${periodMs / 1000}s`,
    rate: (t) => min + ((max - min) * (1 - Math.cos((2 * Math.PI * t) / periodMs))) / 2,
  };
}

export const profileFileSchema = z.object({
  /** How to read between points. */
  interpolation: z.enum(['linear', 'step']).default('linear'),
  points: z
    .array(
      z.object({
        t: z.union([z.number().nonnegative(), z.string()]).describe('trace time: seconds, or a duration string like "90s", "5m"'),
        rate: perMin.describe('sessions per minute'),
      }),
    )
    .min(1),
});

/** A piecewise profile from points (time in ms, rate per minute), sorted by time. */
export function pointsProfile(points: Array<{ tMs: number; rate: number }>, interpolation: 'linear' | 'step'): ArrivalProfile {
  const pts = [...points].sort((a, b) => a.tMs - b.tMs);
  return {
    describe: `${pts.length} points (${interpolation})`,
    rate: (t) => {
      if (t <= pts[0]!.tMs) return pts[0]!.rate;
      for (let i = 1; i < pts.length; i++) {
        const b = pts[i]!;
        if (t < b.tMs) {
          const a = pts[i - 1]!;
          return interpolation === 'step' ? a.rate : a.rate + ((b.rate - a.rate) * (t - a.tMs)) / (b.tMs - a.tMs);
        }
      }
      return pts[pts.length - 1]!.rate;
    },
  };
}

export function parseProfileFile(text: string, source = 'profile'): ArrivalProfile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source}: not JSON: ${(err as Error).message}`);
  }
  const parsed = profileFileSchema.safeParse(json);
  if (!parsed.success) throw new Error(`${source}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const points = parsed.data.points.map((p) => ({ tMs: typeof p.t === 'number' ? p.t * 1000 : parseDurationMs(p.t), rate: p.rate }));
  return pointsProfile(points, parsed.data.interpolation);
}

/**
 * ramp:FROM,TO | step:FROM,TO,AT | spike:BASE,PEAK,AT,WIDTH | diurnal:MIN,MAX[,PERIOD] |
 * constant:RATE | file:PATH.json (or a path ending in .json). Rates per minute; times with units.
 */
export function parseProfile(spec: string, readFile: (p: string) => string = (p) => readFileSync(p, 'utf8')): ArrivalProfile {
  if (spec.startsWith('file:') || spec.endsWith('.json')) {
    const path = spec.startsWith('file:') ? spec.slice(5) : spec;
    return parseProfileFile(readFile(path), path);
  }
  const [kind, rest = ''] = spec.split(/:(.*)/s) as [string, string?];
  const args = rest === '' ? [] : rest.split(',').map((a) => a.trim());
  const rate = (s: string | undefined): number => {
    const v = Number(s);
    if (s === undefined || s === '' || !Number.isFinite(v) || v < 0) throw new Error(`"${spec}": "${s ?? ''}" is not a rate (sessions per minute)`);
    return v;
  };
  const time = (s: string | undefined): number => {
    if (s === undefined) throw new Error(`"${spec}": missing time`);
    return parseDurationMs(s);
  };
  const arity = (min: number, max = min): void => {
    if (args.length < min || args.length > max) throw new Error(`"${spec}": ${kind} takes ${min === max ? min : `${min}-${max}`} values`);
  };
  switch (kind) {
    case 'constant':
      arity(1);
      return rampProfile(rate(args[0]), rate(args[0]));
    case 'ramp':
      arity(2);
      return rampProfile(rate(args[0]), rate(args[1]));
    case 'step':
      arity(3);
      return stepProfile(rate(args[0]), rate(args[1]), time(args[2]));
    case 'spike':
      arity(4);
      return spikeProfile(rate(args[0]), rate(args[1]), time(args[2]), time(args[3]));
    case 'diurnal':
      arity(2, 3);
      return diurnalProfile(rate(args[0]), rate(args[1]), args[2] === undefined ? undefined : time(args[2]));
    default:
      throw new Error(`"${spec}": unknown profile (ramp, step, spike, diurnal, constant, file:PATH.json)`);
  }
}

export interface PlannedSession {
  /** Wall-clock offset from the start of the run. */
  atMs: number;
  /** Wall-clock duration of the conversation. */
  durationMs: number;
}

export interface PlanOptions {
  profile: ArrivalProfile;
  /** Length of the trace, in trace time. */
  traceMs: number;
  /** Trace time per wall time (60 = one trace minute per wall second). */
  timeScale: number;
  /** Session durations in trace time. */
  sessionDuration: Distribution;
  rng: Rng;
  /** poisson (random arrivals at the profile's rate) or uniform (evenly spaced, deterministic). */
  arrivals?: 'poisson' | 'uniform';
}

/** Pure given the RNG: the sessions to start, in wall-clock time. */
export function planSessions(o: PlanOptions): PlannedSession[] {
  const { profile, traceMs, timeScale, rng } = o;
  const ratePerMs = (t: number): number => profile.rate(t, traceMs) / 60_000;
  const times: number[] = [];
  if ((o.arrivals ?? 'poisson') === 'poisson') {
    // Thinning (Lewis-Shedler) against the profile's maximum, sampled finely.
    let max = 0;
    for (let i = 0; i <= 2000; i++) max = Math.max(max, ratePerMs((traceMs * i) / 2000));
    max *= 1.01;
    if (max > 0) {
      let t = 0;
      for (;;) {
        t += -Math.log(1 - rng()) / max;
        if (t >= traceMs) break;
        if (rng() * max <= ratePerMs(t)) times.push(t);
      }
    }
  } else {
    const dt = Math.max(1, Math.min(1000, traceMs / 10_000));
    let acc = 0;
    for (let t = 0; t < traceMs; t += dt) {
      acc += ratePerMs(t) * dt;
      while (acc >= 1) {
        times.push(t);
        acc -= 1;
      }
    }
  }
  return times.map((t) => ({ atMs: t / timeScale, durationMs: Math.max(1, sample(o.sessionDuration, rng) / timeScale) }));
}
