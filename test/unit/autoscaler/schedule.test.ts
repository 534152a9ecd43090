// Fleets' passes keep a fixed phase within their interval: spread over it, one interval apart.
import { describe, expect, it } from 'vitest';
import { MIN_GAP_FRACTION, nextPassDelayMs, passPhaseMs } from '../../../src/autoscaler/schedule.ts';

const PERIOD = 5_000;

describe('when a fleet is read next', () => {
  it('spreads a thousand fleets over the interval instead of reading them together', () => {
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 1000; i++) buckets[Math.floor(passPhaseMs(`ns-${i % 7}/fleet-${i}`, PERIOD) / (PERIOD / 10))]!++;
    // Every tenth of the interval holds about a tenth of the fleets.
    for (const n of buckets) expect(n).toBeGreaterThan(60);
    for (const n of buckets) expect(n).toBeLessThan(140);
  });

  it('spreads fleets whose names differ only in the last character (fleet-0000, fleet-0001, ...)', () => {
    const phases = Array.from({ length: 10 }, (_, i) => passPhaseMs(`voice/fleet-000${i}`, PERIOD)).sort((a, b) => a - b);
    // Ten phases spread over 5 s, not bunched within a few ms of each other.
    expect(phases.at(-1)! - phases[0]!).toBeGreaterThan(PERIOD / 2);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 1000; i++) buckets[Math.floor(passPhaseMs(`voice/fleet-${String(i).padStart(4, '0')}`, PERIOD) / (PERIOD / 10))]!++;
    for (const n of buckets) expect(n).toBeGreaterThan(60);
    for (const n of buckets) expect(n).toBeLessThan(140);
  });

  it('keeps a fleet on its slot: the pass after one that took 300 ms comes 300 ms less than an interval later', () => {
    const key = 'voice/demo';
    const slot = 1_000 * PERIOD + passPhaseMs(key, PERIOD);
    expect(nextPassDelayMs(key, slot, PERIOD)).toBe(PERIOD);
    expect(nextPassDelayMs(key, slot + 300, PERIOD)).toBe(PERIOD - 300);
  });

  it('skips a slot closer than the minimum gap (an off-cycle pass just ran), and never waits more than one interval plus that gap', () => {
    const key = 'voice/demo';
    const slot = 1_000 * PERIOD + passPhaseMs(key, PERIOD);
    expect(nextPassDelayMs(key, slot - 100, PERIOD)).toBe(PERIOD + 100);
    for (let now = slot; now < slot + 2 * PERIOD; now += 37) {
      const d = nextPassDelayMs(key, now, PERIOD);
      expect(d).toBeGreaterThanOrEqual(PERIOD * MIN_GAP_FRACTION);
      expect(d).toBeLessThanOrEqual(PERIOD * (1 + MIN_GAP_FRACTION));
      expect((now + d - passPhaseMs(key, PERIOD)) % PERIOD).toBe(0);
    }
  });
});
