import { describe, expect, it } from 'vitest';
import { OGG_FLAG_BOS, OggPacketReader, oggCrc32, parseOggPage, parseOggPages, writeOggPage } from '../../../src/sim/audio/ogg.ts';
import { OPUS_SILENCE_20MS, isOpusHead, isOpusTags, noisePacket, opusHead, opusPacketInfo, opusTags } from '../../../src/sim/audio/opus.ts';
import { OggOpusReader, OggOpusWriter } from '../../../src/sim/audio/stream.ts';
import { seededRng } from '../../../src/sim/random.ts';

// First page of a real Ogg/Vorbis file (a public Ogg parser's CRC test vector): serial 0x7d5c864b,
// CRC 0xefe7e3c1, one 30-byte identification packet.
const REAL_BOS_PAGE = Uint8Array.from([
  0x4f, 0x67, 0x67, 0x53, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x4b, 0x86, 0x5c, 0x7d, 0x00, 0x00, 0x00, 0x00,
  0xc1, 0xe3, 0xe7, 0xef, 0x01, 0x1e, 0x01, 0x76, 0x6f, 0x72, 0x62, 0x69, 0x73, 0x00, 0x00, 0x00, 0x00, 0x01, 0x44, 0xac, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x77, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0xb8, 0x01,
]);

describe('Ogg pages (RFC 3533)', () => {
  it('computes the Ogg CRC (poly 0x04c11db7, init 0, not reflected, no final xor)', () => {
    // CRC-32/POSIX's check value is 0x765e7680 with a final xor of 0xffffffff.
    expect(oggCrc32(new TextEncoder().encode('123456789'))).toBe((0x765e7680 ^ 0xffffffff) >>> 0);
  });

  it('verifies and reproduces a page of a real file byte for byte', () => {
    const page = parseOggPage(REAL_BOS_PAGE);
    expect(page).toBeDefined();
    expect(page!.crcOk).toBe(true);
    expect(page!.flags).toBe(OGG_FLAG_BOS);
    expect(page!.serial).toBe(0x7d5c864b);
    expect(page!.segments).toHaveLength(1);
    const rebuilt = writeOggPage({ serial: page!.serial, sequence: 0, granule: 0n, flags: OGG_FLAG_BOS, packets: [page!.segments[0]!] });
    expect(Buffer.from(rebuilt).equals(Buffer.from(REAL_BOS_PAGE))).toBe(true);
    const corrupted = REAL_BOS_PAGE.slice();
    corrupted[40] = corrupted[40]! ^ 1;
    expect(parseOggPage(corrupted)!.crcOk).toBe(false);
  });

  it('laces packets of 0, 254, 255 and 600 bytes and reads them back', () => {
    const packets = [0, 254, 255, 600].map((n) => Uint8Array.from({ length: n }, (_, i) => i & 0xff));
    const bytes = writeOggPage({ serial: 7, sequence: 3, granule: 960n, flags: 0, packets });
    const page = parseOggPage(bytes)!;
    // 0 -> [0]; 254 -> [254]; 255 -> [255, 0]; 600 -> [255, 255, 90]
    expect(Array.from(bytes.subarray(27, 27 + bytes[26]!))).toEqual([0, 254, 255, 0, 255, 255, 90]);
    expect(page.crcOk).toBe(true);
    expect(page.granule).toBe(960n);
    expect(page.sequence).toBe(3);
    expect(page.segments.map((s) => s.length)).toEqual([0, 254, 255, 600]);
  });

  it('joins a packet continued on the next page and drops pages with a bad CRC', () => {
    const big = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    // Hand-split: first page ends with a 255 lacing value (packet continues), second is flagged continued.
    const p1 = writeOggPage({ serial: 1, sequence: 0, granule: -1n, flags: 0, packets: [big.subarray(0, 255)] });
    // writeOggPage always terminates packets; emulate a continuation by editing the lacing: drop the final 0.
    const p1Cont = Uint8Array.from([...p1.subarray(0, 26), 1, 255, ...p1.subarray(29)]);
    const fixCrc = (page: Uint8Array): Uint8Array => {
      page.set([0, 0, 0, 0], 22);
      new DataView(page.buffer).setUint32(22, oggCrc32(page), true);
      return page;
    };
    const second = writeOggPage({ serial: 1, sequence: 1, granule: 960n, flags: 1, packets: [big.subarray(255)] });
    const reader = new OggPacketReader();
    expect(reader.push(fixCrc(p1Cont))).toHaveLength(0);
    const out = reader.push(second);
    expect(out).toHaveLength(1);
    expect(Buffer.from(out[0]!).equals(Buffer.from(big))).toBe(true);

    const bad = writeOggPage({ serial: 1, sequence: 2, granule: 1920n, flags: 0, packets: [OPUS_SILENCE_20MS] });
    bad[30] = bad[30]! ^ 0xff;
    expect(reader.push(bad)).toHaveLength(0);
    expect(reader.badPages).toBe(1);
  });

  it('splits concatenated pages and stops at garbage', () => {
    const a = writeOggPage({ serial: 1, sequence: 0, granule: 0n, flags: 0, packets: [Uint8Array.of(1)] });
    const b = writeOggPage({ serial: 1, sequence: 1, granule: 0n, flags: 0, packets: [Uint8Array.of(2)] });
    const { pages, rest } = parseOggPages(Uint8Array.from([...a, ...b, 1, 2, 3]));
    expect(pages).toHaveLength(2);
    expect(rest).toBe(3);
  });
});

describe('Opus packets and headers (RFC 6716, RFC 7845)', () => {
  it('reads durations from the TOC byte', () => {
    expect(opusPacketInfo(OPUS_SILENCE_20MS)).toMatchObject({ config: 31, stereo: false, frames: 1, samples48k: 960, bytesPerFrame: 2 });
    expect(opusPacketInfo(Uint8Array.of(0x08 << 3))?.samples48k).toBe(480); // SILK WB 10 ms
    expect(opusPacketInfo(Uint8Array.of((3 << 3) | 1, 0, 0))?.samples48k).toBe(2 * 2880); // SILK NB 60 ms, code 1: 2 frames
    expect(opusPacketInfo(Uint8Array.of((13 << 3) | 2, 1, 2))?.samples48k).toBe(1920); // Hybrid SWB 20 ms x2
    expect(opusPacketInfo(Uint8Array.of((16 << 3) | 3, 6, 0, 0))?.samples48k).toBe(6 * 120); // CELT NB 2.5 ms, code 3, 6 frames
    expect(opusPacketInfo(Uint8Array.of((16 << 3) | 3, 0))).toBeUndefined(); // code 3 with 0 frames is invalid
    expect(opusPacketInfo(new Uint8Array(0))).toBeUndefined();
  });

  it('builds OpusHead and OpusTags as RFC 7845 lays them out', () => {
    const head = opusHead({ channels: 1, preSkip: 312, inputSampleRate: 24000 });
    expect(Array.from(head)).toEqual([...Buffer.from('OpusHead'), 1, 1, 0x38, 0x01, 0xc0, 0x5d, 0x00, 0x00, 0, 0, 0]);
    const tags = opusTags('x');
    expect(Array.from(tags)).toEqual([...Buffer.from('OpusTags'), 1, 0, 0, 0, 0x78, 0, 0, 0, 0]);
    expect(isOpusHead(head) && isOpusTags(tags) && !isOpusHead(tags)).toBe(true);
  });

  it('makes 20 ms CELT noise packets the VAD calls voiced', () => {
    const p = noisePacket(60, seededRng(1));
    expect(p[0]).toBe(0xf8);
    expect(opusPacketInfo(p)).toMatchObject({ samples48k: 960, bytesPerFrame: 60 });
  });
});

describe('Ogg/Opus stream', () => {
  it('starts with the BOS OpusHead page then OpusTags, with growing granules', () => {
    const w = new OggOpusWriter(42);
    const first = w.write([OPUS_SILENCE_20MS, OPUS_SILENCE_20MS, OPUS_SILENCE_20MS, OPUS_SILENCE_20MS]);
    // Unmute's backend ignores audio until a message whose byte 5 has the BOS bit.
    expect(first[5]! & 2).toBe(2);
    const { pages } = parseOggPages(first);
    expect(pages.map((p) => p.sequence)).toEqual([0, 1, 2]);
    expect(pages.every((p) => p.crcOk && p.serial === 42)).toBe(true);
    expect(isOpusHead(pages[0]!.segments[0]!)).toBe(true);
    expect(isOpusTags(pages[1]!.segments[0]!)).toBe(true);
    expect(pages[0]!.granule).toBe(0n);
    expect(pages[2]!.granule).toBe(4n * 960n);
    const second = parseOggPages(w.write([OPUS_SILENCE_20MS])).pages;
    expect(second[0]!.flags & 2).toBe(0);
    expect(second[0]!.granule).toBe(5n * 960n);
    expect(second[0]!.sequence).toBe(3);
  });

  it('is read back by the server-side reader with voiced/unvoiced frames', () => {
    const w = new OggOpusWriter(1);
    const r = new OggOpusReader(8);
    const noise = noisePacket(60, seededRng(2));
    const info = r.push(w.write([OPUS_SILENCE_20MS, noise, noise, OPUS_SILENCE_20MS]));
    expect(info.audioMs).toBe(80);
    expect(info.packets.map((p) => p.voiced)).toEqual([false, true, true, false]);
  });

  it('ignores audio until a message starting with a BOS page, as Unmute does', () => {
    const w = new OggOpusWriter(1);
    w.write([OPUS_SILENCE_20MS]); // headers lost
    const r = new OggOpusReader(8);
    expect(r.push(w.write([OPUS_SILENCE_20MS])).audioMs).toBe(0);
    expect(r.started).toBe(false);
  });

  it('splits more than 200 packets over several pages', () => {
    const w = new OggOpusWriter(1);
    w.write([]);
    const { pages } = parseOggPages(w.write(new Array(450).fill(OPUS_SILENCE_20MS)));
    expect(pages.map((p) => p.segments.length)).toEqual([200, 200, 50]);
  });
});

describe('speech from an Ogg/Opus file', () => {
  it('reads the audio packets of a file and loops over them', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { fileSpeech, readOggOpusPackets } = await import('../../../src/sim/loadgen/speech.ts');
    const dir = mkdtempSync(join(tmpdir(), 'sim-speech-'));
    try {
      const w = new OggOpusWriter(5);
      const noise = noisePacket(40, seededRng(5));
      const a = w.write([noise, OPUS_SILENCE_20MS]);
      const b = w.write([noise]);
      writeFileSync(join(dir, 'speech.opus'), Buffer.concat([a, b]));
      const packets = readOggOpusPackets(join(dir, 'speech.opus'));
      expect(packets.map((p) => p.ms)).toEqual([20, 20, 20]);
      const src = fileSpeech(packets)();
      expect([src.next(), src.next(), src.next(), src.next()].map((p) => p.packet.length)).toEqual([41, 3, 41, 41]);
      writeFileSync(join(dir, 'bad.opus'), 'not ogg');
      expect(() => readOggOpusPackets(join(dir, 'bad.opus'))).toThrow(/not an Ogg\/Opus file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
