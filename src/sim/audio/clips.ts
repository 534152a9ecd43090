// Audio the load generator speaks, encoded by a real Opus encoder once per process: silence as a
// real encoder produces it (~20-25 byte packets, not the 3-byte digital-silence frame), and
// speech-like clips synthesised here (a voiced harmonic source with a wandering pitch, syllables
// at ~4.5 Hz, short gaps between words), so that a decoder-plus-energy VAD on the other side hears
// speech where there is speech and nothing in silence. Nothing is stored: clips are generated.
import { SAMPLE_RATE } from '../protocol.ts';
import { seededRng, type Rng } from '../random.ts';
import { encodePcm } from './codec.ts';

export interface EncodedClip {
  packets: Uint8Array[];
  ms: number;
}

/** Lengths of the clips, close to those of Unmute's loadtest voices (1.6 to 2.2 s, one of 3 s). */
const CLIP_MS = [2140, 1660, 1620, 3000];

/** One utterance: words of 2-3 syllables separated by gaps shorter than any end-of-turn pause. */
export function synthesizeSpeech(ms: number, rng: Rng): Float32Array {
  const n = Math.round((ms / 1000) * SAMPLE_RATE);
  const pcm = new Float32Array(n);
  const f0Base = 110 + rng() * 90;
  let phase = 0;
  let t = 0;
  // Word boundaries: every 300-500 ms a 60-120 ms gap.
  const gaps: Array<[number, number]> = [];
  for (let at = 0.35 + rng() * 0.15; at < ms / 1000 - 0.2; at += 0.3 + rng() * 0.2) gaps.push([at, at + 0.06 + rng() * 0.06]);
  for (let i = 0; i < n; i++, t = i / SAMPLE_RATE) {
    const f0 = f0Base * (1 + 0.08 * Math.sin(2 * Math.PI * 0.7 * t) + 0.02 * Math.sin(2 * Math.PI * 5.3 * t));
    phase += (2 * Math.PI * f0) / SAMPLE_RATE;
    let v = 0;
    for (let h = 1; h <= 12; h++) v += Math.sin(h * phase) / (h * (1 + (h > 3 ? (h - 3) * 0.5 : 0)));
    const syllable = 0.55 + 0.45 * Math.sin(2 * Math.PI * 4.5 * t - Math.PI / 2);
    const inGap = gaps.some(([a, b]) => t >= a && t < b);
    const edge = Math.min(1, t / 0.03, (ms / 1000 - t) / 0.03);
    pcm[i] = inGap ? 0 : 0.25 * v * syllable * edge + 0.01 * (rng() - 0.5);
  }
  return pcm;
}

let clips: EncodedClip[] | undefined;
let silence: Uint8Array[] | undefined;

/** The speech clips, encoded on first use (about a quarter of a second of CPU). */
export function speechClips(): readonly EncodedClip[] {
  clips ??= CLIP_MS.map((ms, i) => ({ packets: encodePcm(synthesizeSpeech(ms, seededRng(0x5bee + i))), ms }));
  return clips;
}

/** Packets a real encoder produces for digital silence, in their steady state. */
export function silencePacketsReal(): readonly Uint8Array[] {
  silence ??= encodePcm(new Float32Array(SAMPLE_RATE)).slice(10);
  return silence;
}
