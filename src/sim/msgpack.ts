// The subset of MessagePack moshi-server speaks (rmp_serde maps tagged by "type"): nil, booleans,
// integers, float32/float64, strings, binaries, arrays, maps. Written here because the simulator
// needs only this much, and because PCM arrays are hot: an array of floats is encoded as float32
// (as Unmute's client does with use_single_float=True) and decoded into a Float32Array.

export type MsgValue = null | boolean | number | string | Uint8Array | Float32Array | MsgValue[] | { [k: string]: MsgValue };

/** Marks a number to be written as float32 (moshi's pcm and prs) rather than float64. */
export class F32 {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
}

type Encodable = MsgValue | F32 | Encodable[] | { [k: string]: Encodable | undefined };

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

class Writer {
  buf = new Uint8Array(256);
  view = new DataView(this.buf.buffer);
  n = 0;

  ensure(extra: number): void {
    if (this.n + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.n + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.n++] = v;
  }

  header(small: number, smallMax: number, c16: number, c32: number, len: number): void {
    if (len <= smallMax) this.u8(small | len);
    else if (len <= 0xffff) {
      this.ensure(3);
      this.buf[this.n++] = c16;
      this.view.setUint16(this.n, len);
      this.n += 2;
    } else {
      this.ensure(5);
      this.buf[this.n++] = c32;
      this.view.setUint32(this.n, len);
      this.n += 4;
    }
  }

  f32(v: number): void {
    this.ensure(5);
    this.buf[this.n++] = 0xca;
    this.view.setFloat32(this.n, v);
    this.n += 4;
  }

  value(v: Encodable): void {
    if (v === null || v === undefined) return this.u8(0xc0);
    if (v === true) return this.u8(0xc3);
    if (v === false) return this.u8(0xc2);
    if (v instanceof F32) return this.f32(v.value);
    if (typeof v === 'number') return this.number(v);
    if (typeof v === 'string') {
      const bytes = textEncoder.encode(v);
      if (bytes.length < 32) this.u8(0xa0 | bytes.length);
      else if (bytes.length <= 0xff) {
        this.u8(0xd9);
        this.u8(bytes.length);
      } else this.header(0, -1, 0xda, 0xdb, bytes.length);
      this.ensure(bytes.length);
      this.buf.set(bytes, this.n);
      this.n += bytes.length;
      return;
    }
    if (v instanceof Float32Array) {
      this.header(0x90, 15, 0xdc, 0xdd, v.length);
      this.ensure(v.length * 5);
      for (let i = 0; i < v.length; i++) {
        this.buf[this.n++] = 0xca;
        this.view.setFloat32(this.n, v[i]!);
        this.n += 4;
      }
      return;
    }
    if (v instanceof Uint8Array) {
      if (v.length <= 0xff) {
        this.u8(0xc4);
        this.u8(v.length);
      } else this.header(0, -1, 0xc5, 0xc6, v.length);
      this.ensure(v.length);
      this.buf.set(v, this.n);
      this.n += v.length;
      return;
    }
    if (Array.isArray(v)) {
      this.header(0x90, 15, 0xdc, 0xdd, v.length);
      for (const x of v) this.value(x);
      return;
    }
    const entries = Object.entries(v).filter(([, x]) => x !== undefined);
    this.header(0x80, 15, 0xde, 0xdf, entries.length);
    for (const [k, x] of entries) {
      this.value(k);
      this.value(x as Encodable);
    }
  }

  number(v: number): void {
    if (Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER) {
      if (v >= 0 && v < 128) return this.u8(v);
      if (v < 0 && v >= -32) return this.u8(v & 0xff);
      this.ensure(9);
      if (v >= 0) {
        if (v <= 0xffffffff) {
          this.buf[this.n++] = 0xce;
          this.view.setUint32(this.n, v);
          this.n += 4;
        } else {
          this.buf[this.n++] = 0xcf;
          this.view.setBigUint64(this.n, BigInt(v));
          this.n += 8;
        }
      } else {
        this.buf[this.n++] = 0xd3;
        this.view.setBigInt64(this.n, BigInt(v));
        this.n += 8;
      }
      return;
    }
    this.ensure(9);
    this.buf[this.n++] = 0xcb;
    this.view.setFloat64(this.n, v);
    this.n += 8;
  }
}

export function encode(v: Encodable): Uint8Array {
  const w = new Writer();
  w.value(v);
  return w.buf.subarray(0, w.n);
}

class Reader {
  readonly b: Uint8Array;
  readonly view: DataView;
  p = 0;
  constructor(b: Uint8Array) {
    this.b = b;
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  need(n: number): void {
    if (this.p + n > this.b.length) throw new Error('msgpack: truncated');
  }

  str(len: number): string {
    this.need(len);
    const s = textDecoder.decode(this.b.subarray(this.p, this.p + len));
    this.p += len;
    return s;
  }

  bin(len: number): Uint8Array {
    this.need(len);
    const s = this.b.slice(this.p, this.p + len);
    this.p += len;
    return s;
  }

  array(len: number): MsgValue[] | Float32Array {
    // An array of float32 (PCM) becomes a Float32Array.
    if (len > 0 && this.b[this.p] === 0xca) {
      const out = new Float32Array(len);
      let i = 0;
      for (; i < len && this.b[this.p] === 0xca; i++) {
        this.need(5);
        out[i] = this.view.getFloat32(this.p + 1);
        this.p += 5;
      }
      if (i === len) return out;
      const rest: MsgValue[] = Array.from(out.subarray(0, i));
      for (; i < len; i++) rest.push(this.value());
      return rest;
    }
    const out: MsgValue[] = [];
    for (let i = 0; i < len; i++) out.push(this.value());
    return out;
  }

  map(len: number): { [k: string]: MsgValue } {
    const out: { [k: string]: MsgValue } = {};
    for (let i = 0; i < len; i++) {
      const k = this.value();
      out[String(k)] = this.value();
    }
    return out;
  }

  value(): MsgValue {
    this.need(1);
    const c = this.b[this.p++]!;
    if (c < 0x80) return c;
    if (c >= 0xe0) return c - 0x100;
    if ((c & 0xf0) === 0x80) return this.map(c & 0x0f);
    if ((c & 0xf0) === 0x90) return this.array(c & 0x0f);
    if ((c & 0xe0) === 0xa0) return this.str(c & 0x1f);
    const v = this.view;
    const at = (n: number): number => {
      this.need(n);
      const p = this.p;
      this.p += n;
      return p;
    };
    switch (c) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.bin(v.getUint8(at(1)));
      case 0xc5:
        return this.bin(v.getUint16(at(2)));
      case 0xc6:
        return this.bin(v.getUint32(at(4)));
      case 0xca:
        return v.getFloat32(at(4));
      case 0xcb:
        return v.getFloat64(at(8));
      case 0xcc:
        return v.getUint8(at(1));
      case 0xcd:
        return v.getUint16(at(2));
      case 0xce:
        return v.getUint32(at(4));
      case 0xcf:
        return Number(v.getBigUint64(at(8)));
      case 0xd0:
        return v.getInt8(at(1));
      case 0xd1:
        return v.getInt16(at(2));
      case 0xd2:
        return v.getInt32(at(4));
      case 0xd3:
        return Number(v.getBigInt64(at(8)));
      case 0xd9:
        return this.str(v.getUint8(at(1)));
      case 0xda:
        return this.str(v.getUint16(at(2)));
      case 0xdb:
        return this.str(v.getUint32(at(4)));
      case 0xdc:
        return this.array(v.getUint16(at(2)));
      case 0xdd:
        return this.array(v.getUint32(at(4)));
      case 0xde:
        return this.map(v.getUint16(at(2)));
      case 0xdf:
        return this.map(v.getUint32(at(4)));
      default:
        throw new Error(`msgpack: unsupported byte 0x${c.toString(16)}`);
    }
  }
}

export function decode(bytes: Uint8Array): MsgValue {
  const r = new Reader(bytes);
  const v = r.value();
  if (r.p !== bytes.length) throw new Error('msgpack: trailing bytes');
  return v;
}
