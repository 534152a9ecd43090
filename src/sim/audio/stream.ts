// An Ogg/Opus stream as Unmute exchanges it over the websocket: one continuous logical stream per
// connection and direction, cut into websocket messages of whole pages. The first message starts
// with the BOS page (OpusHead) then OpusTags: Unmute's backend ignores audio until a message whose
// first page has the BOS flag (it tests byte 5 & 2), so this order matters against a real backend.
import { OGG_FLAG_BOS, OggPacketReader, writeOggPage } from './ogg.ts';
import { OPUS_SILENCE_20MS, isOpusHead, isOpusTags, opusHead, opusPacketInfo, opusTags } from './opus.ts';

export class OggOpusWriter {
  private readonly serial: number;
  private sequence = 0;
  private granule = 0n;
  private headersSent = false;

  constructor(serial: number) {
    this.serial = serial >>> 0;
  }

  /** Returns the bytes of one websocket message: (headers on first call) + one page holding `packets`. */
  write(packets: readonly Uint8Array[]): Uint8Array {
    const pages: Uint8Array[] = [];
    if (!this.headersSent) {
      this.headersSent = true;
      pages.push(writeOggPage({ serial: this.serial, sequence: this.sequence++, granule: 0n, flags: OGG_FLAG_BOS, packets: [opusHead()] }));
      pages.push(writeOggPage({ serial: this.serial, sequence: this.sequence++, granule: 0n, flags: 0, packets: [opusTags()] }));
    }
    // Split into pages of at most 200 packets (each small packet takes one lacing value).
    for (let i = 0; i < packets.length; i += 200) {
      const slice = packets.slice(i, i + 200);
      for (const p of slice) this.granule += BigInt(opusPacketInfo(p)?.samples48k ?? 0);
      pages.push(writeOggPage({ serial: this.serial, sequence: this.sequence++, granule: this.granule, flags: 0, packets: slice }));
    }
    if (pages.length === 1) return pages[0]!;
    let n = 0;
    for (const p of pages) n += p.length;
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of pages) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

/** What one websocket message of Ogg/Opus audio contained, as the simulated VAD sees it. */
export interface AudioChunkInfo {
  /** Audio duration in ms carried by the message (after the headers). */
  audioMs: number;
  /** Per packet: duration in ms, whether the cheap VAD (packet size) calls it voiced, the packet. */
  packets: Array<{ ms: number; voiced: boolean; data: Uint8Array }>;
}

/**
 * Server-side reader: follows one Ogg/Opus stream, skipping OpusHead/OpusTags. Every audio packet
 * comes with its duration and a size-based guess of voicing, which only the cheap mode uses (it
 * holds for the simulator's stand-in packets, not for a real encoder's: real silence is ~20-50
 * bytes); the full mode decodes the packets instead.
 */
export class OggOpusReader {
  private readonly ogg = new OggPacketReader();
  private readonly voicedBytesPerFrame: number;
  /** Unmute waits for a message whose first page is BOS before decoding anything. */
  started = false;

  constructor(voicedBytesPerFrame: number) {
    this.voicedBytesPerFrame = voicedBytesPerFrame;
  }

  push(bytes: Uint8Array): AudioChunkInfo {
    if (!this.started) {
      if (bytes.length > 5 && (bytes[5]! & OGG_FLAG_BOS) !== 0) this.started = true;
      else return { audioMs: 0, packets: [] };
    }
    const packets = this.ogg.push(bytes);
    const out: AudioChunkInfo = { audioMs: 0, packets: [] };
    for (const p of packets) {
      if (isOpusHead(p) || isOpusTags(p)) continue;
      const info = opusPacketInfo(p);
      if (info === undefined) continue;
      const ms = info.samples48k / 48;
      out.audioMs += ms;
      out.packets.push({ ms, voiced: info.bytesPerFrame >= this.voicedBytesPerFrame, data: p });
    }
    return out;
  }
}

/** Sum of packet durations in ms in a message of Ogg/Opus pages (client side, for received audio). */
export function oggOpusDurationMs(reader: OggPacketReader, bytes: Uint8Array): number {
  let ms = 0;
  for (const p of reader.push(bytes)) {
    if (isOpusHead(p) || isOpusTags(p)) continue;
    ms += (opusPacketInfo(p)?.samples48k ?? 0) / 48;
  }
  return ms;
}

export function silencePackets(ms: number): Uint8Array[] {
  const n = Math.max(1, Math.round(ms / 20));
  return new Array<Uint8Array>(n).fill(OPUS_SILENCE_20MS);
}
