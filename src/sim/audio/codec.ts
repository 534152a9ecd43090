// Real Opus, both ways, through libopus compiled to WebAssembly (the opusscript package: no
// native addon). The simulated backend decodes what clients send, as Unmute's sphn reader does,
// so its VAD hears what a real STT would; the load generator encodes its silence and speech with
// a real encoder. Encoding costs ~0.3-0.6 ms per 20 ms frame here, so nothing encodes in real
// time: clips are encoded once per process (clips.ts) and their packets replayed.
import OpusScript from 'opusscript';
import { SAMPLE_RATE } from '../protocol.ts';

/** 20 ms at 24 kHz. */
export const SAMPLES_PER_PACKET = SAMPLE_RATE / 50;

/** A stateful decoder of one Opus stream (one per session and direction, as sphn's reader). */
export class OpusDecoder {
  readonly #codec = new OpusScript(SAMPLE_RATE, 1, OpusScript.Application.VOIP);

  /** Decodes one packet to float PCM in [-1, 1]; an undecodable packet gives its length in zeros. */
  decode(packet: Uint8Array, samplesIfBad = SAMPLES_PER_PACKET): Float32Array {
    let bytes: Buffer;
    try {
      bytes = this.#codec.decode(Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength));
    } catch {
      return new Float32Array(samplesIfBad);
    }
    const n = bytes.length >> 1;
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = bytes.readInt16LE(i * 2) / 32768;
    return out;
  }

  free(): void {
    this.#codec.delete();
  }
}

/** Encodes PCM (float, 24 kHz, mono) into 20 ms Opus packets with a fresh libopus encoder. */
export function encodePcm(pcm: Float32Array, bitrate = 24_000): Uint8Array[] {
  const codec = new OpusScript(SAMPLE_RATE, 1, OpusScript.Application.VOIP);
  try {
    codec.setBitrate(bitrate);
    const frame = Buffer.alloc(SAMPLES_PER_PACKET * 2);
    const out: Uint8Array[] = [];
    for (let start = 0; start < pcm.length; start += SAMPLES_PER_PACKET) {
      for (let i = 0; i < SAMPLES_PER_PACKET; i++) {
        const x = pcm[start + i] ?? 0;
        frame.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(x * 32767))), i * 2);
      }
      out.push(new Uint8Array(codec.encode(frame, SAMPLES_PER_PACKET)));
    }
    return out;
  } finally {
    codec.delete();
  }
}

/** Root mean square of a PCM range. */
export function rms(pcm: Float32Array, start = 0, end = pcm.length): number {
  let s = 0;
  for (let i = start; i < end; i++) s += pcm[i]! * pcm[i]!;
  return end > start ? Math.sqrt(s / (end - start)) : 0;
}
