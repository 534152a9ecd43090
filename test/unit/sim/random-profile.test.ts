import { describe, expect, it } from 'vitest';
import { diurnalProfile, parseProfile, parseProfileFile, planSessions, rampProfile, spikeProfile, stepProfile } from '../../../src/sim/loadgen/profile.ts';
import { mean, parseDistribution, parseDurationMs, sample, seededRng } from '../../../src/sim/random.ts';

describe('distributions', () => {
  it('parses specs with units', () => {
    expect(parseDistribution('300')).toEqual({ kind: 'constant', value: 300 });
    expect(parseDistribution('uniform:1s,3s')).toEqual({ kind: 'uniform', min: 1000, max: 3000 });
    expect(parseDistribution('lognormal:3m,0.8')).toEqual({ kind: 'lognormal', median: 180_000, sigma: 0.8 });
    expect(parseDistribution('normal:300,50')).toEqual({ kind: 'normal', mean: 300, sd: 50 });
    expect(parseDistribution('exp:2s')).toEqual({ kind: 'exponential', mean: 2000 });
    expect(parseDistribution('uniform:8,30', 'count')).toEqual({ kind: 'uniform', min: 8, max: 30 });
    expect(parseDurationMs('1.5s')).toBe(1500);
    expect(parseDurationMs('1h')).toBe(3_600_000);
  });

  it('rejects bad specs with a reason', () => {
    expect(() => parseDistribution('uniform:3,1')).toThrow(/max must be >= min/);
    expect(() => parseDistribution('gamma:1')).toThrow(/unknown distribution/);
    expect(() => parseDistribution('uniform:1')).toThrow(/takes 2/);
    expect(() => parseDistribution('300parsecs')).toThrow(/not a duration/);
  });

  it('samples reproducibly from an injected RNG, around the right centre', () => {
    const a = seededRng(7);
    const b = seededRng(7);
    const d = parseDistribution('lognormal:300,0.25');
    const xs = Array.from({ length: 4000 }, () => sample(d, a));
    expect(xs.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => sample(d, b)));
    const sorted = [...xs].sort((x, y) => x - y);
    expect(sorted[2000]!).toBeGreaterThan(285);
    expect(sorted[2000]!).toBeLessThan(315);
    expect(xs.every((x) => x >= 0)).toBe(true);
    expect(mean({ kind: 'uniform', min: 2, max: 4 })).toBe(3);
    const u = Array.from({ length: 1000 }, () => sample({ kind: 'uniform', min: 10, max: 20 }, a));
    expect(Math.min(...u)).toBeGreaterThanOrEqual(10);
    expect(Math.max(...u)).toBeLessThanOrEqual(20);
  });
});

describe('arrival profiles (pure functions of time)', () => {
  it('ramp, step, spike and diurnal give the documented rates', () => {
    expect(rampProfile(0, 60).rate(30_000, 60_000)).toBe(30);
    expect(stepProfile(1, 5, 10_000).rate(9_999, 0)).toBe(1);
    expect(stepProfile(1, 5, 10_000).rate(10_000, 0)).toBe(5);
    const spike = spikeProfile(2, 20, 60_000, 30_000);
    expect([spike.rate(59_999, 0), spike.rate(60_000, 0), spike.rate(89_999, 0), spike.rate(90_000, 0)]).toEqual([2, 20, 20, 2]);
    const day = diurnalProfile(1, 9, 86_400_000);
    expect(day.rate(0, 0)).toBeCloseTo(1);
    expect(day.rate(43_200_000, 0)).toBeCloseTo(9);
    expect(day.rate(21_600_000, 0)).toBeCloseTo(5);
  });

  it('parses specs and JSON files', () => {
    expect(parseProfile('spike:1,10,30s,10s').rate(35_000, 0)).toBe(10);
    expect(parseProfile('diurnal:0,6,1h').rate(1_800_000, 0)).toBeCloseTo(6);
    const p = parseProfileFile(JSON.stringify({ points: [{ t: 0, rate: 0 }, { t: '10s', rate: 10 }] }));
    expect(p.rate(5_000, 0)).toBeCloseTo(5);
    expect(p.rate(20_000, 0)).toBe(10);
    const stepped = parseProfile('file:x.json', () => JSON.stringify({ interpolation: 'step', points: [{ t: 0, rate: 1 }, { t: 10, rate: 3 }] }));
    expect(stepped.rate(9_000, 0)).toBe(1);
    expect(() => parseProfile('ramp:1')).toThrow(/takes 2/);
    expect(() => parseProfile('wave:1,2')).toThrow(/unknown profile/);
    expect(() => parseProfileFile('{"points": []}')).toThrow(/points/);
    expect(() => parseProfileFile('{"points": [{"t": 0, "rate": -1}]}')).toThrow(/rate/);
  });

  it('plans arrivals at the profile rate, compressed by the time scale', () => {
    // 60/min for 10 trace minutes = 600 sessions; x60 compression = 10 wall seconds.
    const plan = planSessions({
      profile: parseProfile('constant:60'),
      traceMs: 600_000,
      timeScale: 60,
      sessionDuration: { kind: 'constant', value: 120_000 },
      rng: seededRng(3),
      arrivals: 'uniform',
    });
    expect(plan).toHaveLength(600);
    expect(plan.at(-1)!.atMs).toBeLessThan(10_000);
    expect(plan[0]!.durationMs).toBe(2000);
    const poisson = planSessions({ profile: parseProfile('ramp:0,120'), traceMs: 600_000, timeScale: 1, sessionDuration: { kind: 'constant', value: 1 }, rng: seededRng(4) });
    // Expected 600 (mean of the ramp 60/min over 10 min); Poisson sd ~ 24.
    expect(poisson.length).toBeGreaterThan(520);
    expect(poisson.length).toBeLessThan(680);
    // A ramp puts more arrivals in the second half.
    expect(poisson.filter((p) => p.atMs > 300_000).length).toBeGreaterThan(poisson.length * 0.65);
  });
});
