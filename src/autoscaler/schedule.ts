// When a fleet's next pass runs. Each fleet keeps a fixed phase within its interval (from a hash
// of its namespace and name), so a thousand fleets created at once, or requeued together after a
// restart, are read spread over the interval instead of all in the same few milliseconds, and each
// fleet is read every interval, not every interval plus however long its last pass took.

/** A pass is never scheduled closer than this fraction of the interval: a pass triggered off-cycle (a pod changed) skips a slot that is about to come. */
export const MIN_GAP_FRACTION = 0.25;

/**
 * 32-bit FNV-1a, then murmur3's finaliser: names that differ only in their last character
 * (fleet-0001, fleet-0002) differ only in FNV's low bits, which would put their phases a few ms
 * apart; the finaliser spreads every input bit over the high bits. Stable; not for anything secret.
 */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Where in every period this key's passes fall, in ms from a multiple of the period. */
export function passPhaseMs(key: string, periodMs: number): number {
  return Math.floor((hash32(key) / 2 ** 32) * periodMs);
}

/** Ms from `nowMs` to this key's next slot, at least MIN_GAP_FRACTION and at most 1 + MIN_GAP_FRACTION periods away. */
export function nextPassDelayMs(key: string, nowMs: number, periodMs: number): number {
  const phase = passPhaseMs(key, periodMs);
  let next = Math.floor((nowMs - phase) / periodMs) * periodMs + phase + periodMs;
  if (next - nowMs < periodMs * MIN_GAP_FRACTION) next += periodMs;
  return next - nowMs;
}
