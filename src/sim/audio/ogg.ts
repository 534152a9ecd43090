// Ogg page framing (RFC 3533), written by hand so the simulator and load generator need no codec
// dependency: we only ever frame ready-made Opus packets, we never encode or decode audio.
//
// Page layout: "OggS", version 0, header_type (1 = continued, 2 = BOS, 4 = EOS), granule position
// (int64 LE), serial (u32 LE), page sequence (u32 LE), CRC-32 (u32 LE), segment count, lacing
// values, then the packet bytes.

const CRC_TABLE = buildCrcTable();

// RFC 3533's CRC: polynomial 0x04c11db7, MSB first, initial value 0, no final XOR
// (not the reflected zlib CRC-32, which gives different values).
function buildCrcTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    table[i] = r >>> 0;
  }
  return table;
}

export function oggCrc32(bytes: Uint8Array, start = 0, end = bytes.length, crc = 0): number {
  for (let i = start; i < end; i++) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ bytes[i]!) & 0xff]!) >>> 0;
  return crc >>> 0;
}

const ZERO4 = new Uint8Array(4);

/** CRC of the page at [start, end) computed as if its CRC field (bytes 22..25) were zero. */
function pageCrc(bytes: Uint8Array, start: number, end: number): number {
  let crc = oggCrc32(bytes, start, start + 22);
  crc = oggCrc32(ZERO4, 0, 4, crc);
  return oggCrc32(bytes, start + 26, end, crc);
}

export const OGG_FLAG_CONTINUED = 1;
export const OGG_FLAG_BOS = 2;
export const OGG_FLAG_EOS = 4;

export interface OggPageSpec {
  serial: number;
  sequence: number;
  granule: bigint;
  flags: number;
  packets: readonly Uint8Array[];
}

/** Frames whole packets into one page. Packets are never split across pages here (at most 255 lacing values). */
export function writeOggPage(spec: OggPageSpec): Uint8Array {
  let segments = 0;
  let bodyLength = 0;
  for (const p of spec.packets) {
    segments += Math.floor(p.length / 255) + 1;
    bodyLength += p.length;
  }
  if (segments > 255) throw new RangeError(`ogg page would need ${segments} lacing values (max 255)`);
  const headerLength = 27 + segments;
  const page = new Uint8Array(headerLength + bodyLength);
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
  page[0] = 0x4f; // O
  page[1] = 0x67; // g
  page[2] = 0x67; // g
  page[3] = 0x53; // S
  page[4] = 0; // version
  page[5] = spec.flags;
  view.setBigInt64(6, spec.granule, true);
  view.setUint32(14, spec.serial >>> 0, true);
  view.setUint32(18, spec.sequence >>> 0, true);
  // bytes 22..25: CRC, zero while computing
  page[26] = segments;
  let lace = 27;
  let body = headerLength;
  for (const p of spec.packets) {
    let remaining = p.length;
    while (remaining >= 255) {
      page[lace++] = 255;
      remaining -= 255;
    }
    page[lace++] = remaining; // a packet whose length is a multiple of 255 ends with a 0 lacing value
    page.set(p, body);
    body += p.length;
  }
  view.setUint32(22, oggCrc32(page), true);
  return page;
}

export interface OggPage {
  flags: number;
  granule: bigint;
  serial: number;
  sequence: number;
  /** Complete packets ending on this page (a packet continued from the previous page is joined by the reader). */
  segments: Uint8Array[];
  /** True when the last packet of the page continues on the next page. */
  endsWithPartial: boolean;
  crcOk: boolean;
  byteLength: number;
}

/**
 * Parses one page at `offset`. Returns undefined when the bytes there are not a complete page
 * (missing capture pattern, truncated). Packet pieces are returned split by lacing: the last piece
 * may be partial when `endsWithPartial`.
 */
export function parseOggPage(bytes: Uint8Array, offset = 0): OggPage | undefined {
  if (bytes.length - offset < 27) return undefined;
  if (bytes[offset] !== 0x4f || bytes[offset + 1] !== 0x67 || bytes[offset + 2] !== 0x67 || bytes[offset + 3] !== 0x53) {
    return undefined;
  }
  if (bytes[offset + 4] !== 0) return undefined;
  const nSeg = bytes[offset + 26]!;
  const headerLength = 27 + nSeg;
  if (bytes.length - offset < headerLength) return undefined;
  let bodyLength = 0;
  for (let i = 0; i < nSeg; i++) bodyLength += bytes[offset + 27 + i]!;
  const total = headerLength + bodyLength;
  if (bytes.length - offset < total) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, total);
  const storedCrc = view.getUint32(22, true);
  const crcOk = pageCrc(bytes, offset, offset + total) === storedCrc;
  const segments: Uint8Array[] = [];
  let pos = offset + headerLength;
  let start = pos;
  let endsWithPartial = false;
  for (let i = 0; i < nSeg; i++) {
    const l = bytes[offset + 27 + i]!;
    pos += l;
    if (l < 255) {
      segments.push(bytes.subarray(start, pos));
      start = pos;
      endsWithPartial = false;
    } else {
      endsWithPartial = true;
    }
  }
  if (endsWithPartial) segments.push(bytes.subarray(start, pos));
  return {
    flags: bytes[offset + 5]!,
    granule: view.getBigInt64(6, true),
    serial: view.getUint32(14, true),
    sequence: view.getUint32(18, true),
    segments,
    endsWithPartial,
    crcOk,
    byteLength: total,
  };
}

/** Splits a byte string into pages; stops at the first byte range that is not a valid page. */
export function parseOggPages(bytes: Uint8Array): { pages: OggPage[]; rest: number } {
  const pages: OggPage[] = [];
  let offset = 0;
  for (;;) {
    const page = parseOggPage(bytes, offset);
    if (page === undefined) break;
    pages.push(page);
    offset += page.byteLength;
  }
  return { pages, rest: bytes.length - offset };
}

/**
 * Reassembles packets across pages of one logical stream. Pages with a bad CRC are dropped, as an
 * Ogg demuxer does (a packet continued from a dropped page is discarded too).
 */
export class OggPacketReader {
  private partial: Uint8Array[] = [];
  sawBos = false;
  badPages = 0;

  /** Feeds bytes holding whole pages (each websocket message carries whole pages). Returns complete packets. */
  push(bytes: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    const { pages } = parseOggPages(bytes);
    for (const page of pages) {
      if (!page.crcOk) {
        this.badPages++;
        this.partial = [];
        continue;
      }
      if (page.flags & OGG_FLAG_BOS) this.sawBos = true;
      const continued = (page.flags & OGG_FLAG_CONTINUED) !== 0;
      if (!continued) this.partial = [];
      page.segments.forEach((seg, i) => {
        const last = i === page.segments.length - 1;
        if (last && page.endsWithPartial) {
          this.partial.push(seg);
          return;
        }
        if (i === 0 && this.partial.length > 0) {
          out.push(concat([...this.partial, seg]));
          this.partial = [];
        } else {
          out.push(seg);
        }
      });
    }
    return out;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
