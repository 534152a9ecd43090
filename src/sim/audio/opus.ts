// Just enough Opus (RFC 6716) and Ogg-Opus mapping (RFC 7845) to stream valid audio without an
// encoder: we build the identification/comment headers and ready-made packets, and read packet
// durations from the TOC byte. No audio is ever encoded or decoded.
//
// Choice (see docs/simulation.md): a hand-built Ogg writer with constant packets, no npm codec.
// - silence: the 20 ms CELT fullband frame 0xF8 0xFF 0xFE that libopus-based tools use as
//   "digital silence" (TOC config 31, mono, one frame; the range-coded payload sets the silence flag);
// - "speech": a CELT fullband 20 ms frame with a pseudo-random payload. Opus decoders accept any
//   payload (RFC 6716 requires robustness to arbitrary input) and render it as broadband noise.
//   It is only a stand-in for voice: a real STT will transcribe nothing from it (use a real
//   Ogg/Opus speech file, --speech-file, to drive a real backend's STT).

export const OPUS_SILENCE_20MS: Uint8Array = Uint8Array.of(0xf8, 0xff, 0xfe);
const CELT_FB_20MS_MONO_TOC = 0xf8;

/** Frame duration in 48 kHz samples for each of the 32 TOC configurations (RFC 6716, table 2). */
const FRAME_SAMPLES_48K: readonly number[] = (() => {
  const out: number[] = [];
  for (let config = 0; config < 32; config++) {
    let ms: number;
    if (config < 12) ms = [10, 20, 40, 60][config % 4]!; // SILK NB/MB/WB
    else if (config < 16) ms = [10, 20][config % 2]!; // Hybrid SWB/FB
    else ms = [2.5, 5, 10, 20][config % 4]!; // CELT NB/WB/SWB/FB
    out.push(ms * 48);
  }
  return out;
})();

export interface OpusPacketInfo {
  config: number;
  stereo: boolean;
  frames: number;
  /** Samples at 48 kHz (Opus' internal clock, also the Ogg granule unit). */
  samples48k: number;
  /** Average payload bytes per frame, used by the simulator's VAD. */
  bytesPerFrame: number;
}

/** Reads the TOC byte (and frame count byte for code 3). Returns undefined for an empty packet. */
export function opusPacketInfo(packet: Uint8Array): OpusPacketInfo | undefined {
  if (packet.length === 0) return undefined;
  const toc = packet[0]!;
  const config = toc >> 3;
  const code = toc & 3;
  let frames: number;
  if (code === 0) frames = 1;
  else if (code === 1 || code === 2) frames = 2;
  else {
    if (packet.length < 2) return undefined;
    frames = packet[1]! & 0x3f;
    if (frames === 0) return undefined;
  }
  const samples48k = FRAME_SAMPLES_48K[config]! * frames;
  const overhead = code === 3 ? 2 : 1;
  return {
    config,
    stereo: (toc & 4) !== 0,
    frames,
    samples48k,
    bytesPerFrame: Math.max(0, packet.length - overhead) / frames,
  };
}

/** OpusHead identification header (RFC 7845 section 5.1), channel mapping family 0. */
export function opusHead(opts: { channels?: number; preSkip?: number; inputSampleRate?: number } = {}): Uint8Array {
  const out = new Uint8Array(19);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode('OpusHead'), 0);
  out[8] = 1; // version
  out[9] = opts.channels ?? 1;
  view.setUint16(10, opts.preSkip ?? 312, true); // libopus' encoder lookahead at 48 kHz
  view.setUint32(12, opts.inputSampleRate ?? 24000, true); // informational: Unmute streams 24 kHz
  view.setInt16(16, 0, true); // output gain
  out[18] = 0; // mapping family
  return out;
}

/** OpusTags comment header (RFC 7845 section 5.2) with a vendor string and no comments. */
export function opusTags(vendor = 'unmute-operator-sim'): Uint8Array {
  const v = new TextEncoder().encode(vendor);
  const out = new Uint8Array(8 + 4 + v.length + 4);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode('OpusTags'), 0);
  view.setUint32(8, v.length, true);
  out.set(v, 12);
  view.setUint32(12 + v.length, 0, true);
  return out;
}

const OPUS_HEAD_MAGIC = new TextEncoder().encode('OpusHead');
const OPUS_TAGS_MAGIC = new TextEncoder().encode('OpusTags');

function startsWith(packet: Uint8Array, magic: Uint8Array): boolean {
  if (packet.length < magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (packet[i] !== magic[i]) return false;
  return true;
}

// Checked before the TOC is read: "OpusHead"/"OpusTags" would otherwise parse as audio packets.
export function isOpusHead(packet: Uint8Array): boolean {
  return packet.length >= 19 && startsWith(packet, OPUS_HEAD_MAGIC);
}

export function isOpusTags(packet: Uint8Array): boolean {
  return packet.length >= 16 && startsWith(packet, OPUS_TAGS_MAGIC);
}

/** A 20 ms CELT fullband mono frame with a pseudo-random payload of `payloadBytes` bytes. */
export function noisePacket(payloadBytes: number, random: () => number): Uint8Array {
  const p = new Uint8Array(1 + payloadBytes);
  p[0] = CELT_FB_20MS_MONO_TOC;
  for (let i = 1; i < p.length; i++) p[i] = Math.floor(random() * 256);
  return p;
}

/** Payload bytes per frame above which the simulator's VAD calls a frame "voiced". */
export const DEFAULT_VOICED_BYTES_PER_FRAME = 8;
