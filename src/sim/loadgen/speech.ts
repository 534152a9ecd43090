// What the load generator "says". Each source yields Opus packets; the session frames them into
// one Ogg/Opus stream (see ../audio). Three sources:
// - clips (default): speech-like clips synthesised and encoded by a real Opus encoder (clips.ts),
//   from the start of a random clip, looped if the utterance is longer;
// - noise (default): CELT frames with pseudo-random payloads, voiced for the simulator's VAD, noise
//   for a real backend (its STT transcribes nothing; Unmute then moves on after its 7 s silence);
// - a real Ogg/Opus speech file (--speech-file): its packets are re-framed into our stream, so a
//   real Unmute hears (and transcribes) real speech.
import { readFileSync } from 'node:fs';
import { OggPacketReader } from '../audio/ogg.ts';
import { isOpusHead, isOpusTags, noisePacket, opusPacketInfo } from '../audio/opus.ts';
import { speechClips } from '../audio/clips.ts';
import { seededRng, type Rng } from '../random.ts';

export interface SpeechSource {
  /** The next speech packet and its duration in ms. */
  next(): { packet: Uint8Array; ms: number };
}

let sharedNoise: Uint8Array[] | undefined;

/** Packets are shared by every session of the process (building them per session is waste). */
export function noiseSpeech(): SpeechSource {
  sharedNoise ??= (() => {
    const rng = seededRng(0x5eed);
    return Array.from({ length: 32 }, () => noisePacket(60, rng));
  })();
  const pool = sharedNoise;
  let i = Math.floor(Math.random() * pool.length);
  return {
    next: () => ({ packet: pool[i++ % pool.length]!, ms: 20 }),
  };
}

/** A random synthesised clip, from its start. */
export function clipSpeech(rng: Rng): SpeechSource {
  const clips = speechClips();
  const clip = clips[Math.floor(rng() * clips.length)]!;
  let i = 0;
  return { next: () => ({ packet: clip.packets[i++ % clip.packets.length]!, ms: 20 }) };
}

/** Audio packets of an Ogg/Opus file, header packets removed. Throws on anything else. */
export function readOggOpusPackets(path: string): Array<{ packet: Uint8Array; ms: number }> {
  const bytes = new Uint8Array(readFileSync(path));
  const reader = new OggPacketReader();
  const packets = reader.push(bytes);
  if (packets.length === 0 || !isOpusHead(packets[0]!)) throw new Error(`${path}: not an Ogg/Opus file (no OpusHead)`);
  const channels = packets[0]![9];
  if (channels !== 1 && channels !== 2) throw new Error(`${path}: ${channels} channels; use a mono (or stereo) Opus file`);
  const audio = packets
    .filter((p) => !isOpusHead(p) && !isOpusTags(p))
    .map((packet) => ({ packet, ms: (opusPacketInfo(packet)?.samples48k ?? 0) / 48 }))
    .filter((p) => p.ms > 0);
  if (audio.length === 0) throw new Error(`${path}: no audio packets`);
  return audio;
}

/** Plays the file's packets in a loop; every session starts at the beginning. */
export function fileSpeech(packets: ReadonlyArray<{ packet: Uint8Array; ms: number }>): () => SpeechSource {
  return () => {
    let i = 0;
    return { next: () => packets[i++ % packets.length]! };
  };
}
