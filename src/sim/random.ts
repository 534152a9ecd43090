// Seeded randomness and the value distributions used for simulated latencies, reply lengths and
// session durations. Everything takes an injected `Rng` so tests and benches are reproducible.
import { z } from 'zod';

export type Rng = () => number;

/** mulberry32: tiny, fast, good enough for simulation (not for anything secret). */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Distribution =
  | { kind: 'constant'; value: number }
  | { kind: 'uniform'; min: number; max: number }
  | { kind: 'normal'; mean: number; sd: number }
  | { kind: 'lognormal'; median: number; sigma: number }
  | { kind: 'exponential'; mean: number };

export const distributionSchema: z.ZodType<Distribution> = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('constant'), value: z.number().nonnegative() }),
  z.object({ kind: z.literal('uniform'), min: z.number().nonnegative(), max: z.number().nonnegative() }).refine((d) => d.max >= d.min, 'max must be >= min'),
  z.object({ kind: z.literal('normal'), mean: z.number().nonnegative(), sd: z.number().nonnegative() }),
  z.object({ kind: z.literal('lognormal'), median: z.number().positive(), sigma: z.number().nonnegative() }),
  z.object({ kind: z.literal('exponential'), mean: z.number().positive() }),
]);

export function constant(value: number): Distribution {
  return { kind: 'constant', value };
}

function standardNormal(rng: Rng): number {
  // Box-Muller; 1 - u keeps log() away from 0.
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Draws one value (never negative: a latency or a length cannot be). */
export function sample(d: Distribution, rng: Rng): number {
  switch (d.kind) {
    case 'constant':
      return d.value;
    case 'uniform':
      return d.min + (d.max - d.min) * rng();
    case 'normal':
      return Math.max(0, d.mean + d.sd * standardNormal(rng));
    case 'lognormal':
      return d.median * Math.exp(d.sigma * standardNormal(rng));
    case 'exponential':
      return -d.mean * Math.log(1 - rng());
  }
}

/** The distribution's mean, for documentation and tolerance checks. */
export function mean(d: Distribution): number {
  switch (d.kind) {
    case 'constant':
      return d.value;
    case 'uniform':
      return (d.min + d.max) / 2;
    case 'normal':
      return d.mean;
    case 'lognormal':
      return d.median * Math.exp((d.sigma * d.sigma) / 2);
    case 'exponential':
      return d.mean;
  }
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "250", "250ms", "1.5s", "3m", "1h" -> milliseconds. Bare numbers are milliseconds. */
export function parseDurationMs(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (m === null) throw new Error(`"${text}" is not a duration (examples: 250, 250ms, 1.5s, 3m, 1h)`);
  return Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!;
}

function parsePlain(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*$/.exec(text);
  if (m === null) throw new Error(`"${text}" is not a non-negative number`);
  return Number(m[1]);
}

/**
 * Parses a distribution spec. `unit: 'duration'` reads values as durations (ms by default, or
 * with a unit suffix) and returns milliseconds; `unit: 'count'` reads plain numbers.
 *   300 | const:300 | uniform:200,400 | normal:300,50 | lognormal:300,0.25 (median, sigma) | exp:300
 * The lognormal sigma and nothing else is unit-less.
 */
export function parseDistribution(spec: string, unit: 'duration' | 'count' = 'duration'): Distribution {
  const value = unit === 'duration' ? parseDurationMs : parsePlain;
  const [rawKind, rawArgs] = spec.includes(':') ? [spec.slice(0, spec.indexOf(':')), spec.slice(spec.indexOf(':') + 1)] : ['const', spec];
  const args = (rawArgs ?? '').split(',').map((a) => a.trim());
  const need = (n: number): void => {
    if (args.length !== n || args.some((a) => a === '')) throw new Error(`"${spec}": ${rawKind} takes ${n} value(s)`);
  };
  let d: Distribution;
  switch (rawKind.trim()) {
    case 'const':
    case 'constant':
      need(1);
      d = { kind: 'constant', value: value(args[0]!) };
      break;
    case 'uniform':
      need(2);
      d = { kind: 'uniform', min: value(args[0]!), max: value(args[1]!) };
      break;
    case 'normal':
      need(2);
      d = { kind: 'normal', mean: value(args[0]!), sd: value(args[1]!) };
      break;
    case 'lognormal':
      need(2);
      d = { kind: 'lognormal', median: value(args[0]!), sigma: parsePlain(args[1]!) };
      break;
    case 'exp':
    case 'exponential':
      need(1);
      d = { kind: 'exponential', mean: value(args[0]!) };
      break;
    default:
      throw new Error(`"${spec}": unknown distribution "${rawKind}" (const, uniform, normal, lognormal, exp)`);
  }
  const checked = distributionSchema.safeParse(d);
  if (!checked.success) throw new Error(`"${spec}": ${checked.error.issues.map((i) => i.message).join('; ')}`);
  return checked.data;
}

/** zod schema for a CLI string holding a distribution spec. */
export function distributionFlag(unit: 'duration' | 'count' = 'duration'): z.ZodType<Distribution, string> {
  return z.string().transform((s, ctx) => {
    try {
      return parseDistribution(s, unit);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });
}

/** zod schema for a CLI duration string, returned in milliseconds. */
export function durationFlag(): z.ZodType<number, string> {
  return z.string().transform((s, ctx) => {
    try {
      return parseDurationMs(s);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });
}

export function describeDistribution(d: Distribution, unit = 'ms'): string {
  switch (d.kind) {
    case 'constant':
      return `${d.value}${unit}`;
    case 'uniform':
      return `uniform ${d.min}-${d.max}${unit}`;
    case 'normal':
      return `normal mean ${d.mean}${unit} sd ${d.sd}${unit}`;
    case 'lognormal':
      return `lognormal median ${d.median}${unit} sigma ${d.sigma}`;
    case 'exponential':
      return `exponential mean ${d.mean}${unit}`;
  }
}
