/**
 * A protobuf binary writer for the ProtoJSON encoder: it writes straight into one growing buffer, where
 * protobuf.js's `Writer` records an object per value and per nested message and assembles them at the end.
 * A nested message reserves one byte for its length; a message that turns out longer than 127 bytes is moved
 * along by the extra bytes its length needs when it ends.
 *
 * Encoding a resource then allocates only its result. The encoder keeps one writer and reuses its buffer;
 * {@link ProtoWriter.finish} copies the bytes out.
 */
import Long from 'long';
import { varintSize, writeVarint } from './wire.js';

/** Bytes kept between encodes; a larger buffer, grown for one big message, is let go after it. */
const KEPT_BYTES = 64 * 1024;

/** See the module comment. The methods mirror protobuf.js's `Writer` and chain the same way. */
export class ProtoWriter {
  #buf: Buffer = Buffer.allocUnsafeSlow(KEPT_BYTES);
  #pos = 0;
  // Where each open nested message's reserved length byte is.
  readonly #forks: number[] = [];

  /** Bytes written so far (a position for {@link ProtoWriter.ldelimOrDrop}). */
  get length(): number {
    return this.#pos;
  }

  /** Forgets everything written (after an encode that gave up half way). */
  reset(): void {
    this.#forget();
    this.#forks.length = 0;
  }

  /**
   * Empties the writer: the bytes written are zeroed (they may be a Secret's key, and the buffer outlives the
   * message), and a buffer grown for one big message is let go.
   */
  #forget(): void {
    if (this.#buf.length > KEPT_BYTES) this.#buf = Buffer.allocUnsafeSlow(KEPT_BYTES);
    else this.#buf.fill(0, 0, this.#pos);
    this.#pos = 0;
  }

  #room(n: number): void {
    const need = this.#pos + n;
    if (need <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < need) size *= 2;
    const grown = Buffer.allocUnsafeSlow(size);
    this.#buf.copy(grown, 0, 0, this.#pos);
    this.#buf = grown;
  }

  /** An unsigned 32-bit varint (values up to 2^32 − 1). */
  uint32(value: number): this {
    this.#room(5);
    this.#pos = writeVarint(this.#buf, this.#pos, value >>> 0);
    return this;
  }

  /** A signed 32-bit varint: negative values take ten bytes, as protobuf requires. */
  int32(value: number): this {
    return value < 0 ? this.#varint64(value >>> 0, 0xffffffff) : this.uint32(value);
  }

  /** A zigzag-encoded signed 32-bit varint. */
  sint32(value: number): this {
    return this.uint32(((value << 1) ^ (value >> 31)) >>> 0);
  }

  /** A little-endian 32-bit unsigned integer. */
  fixed32(value: number): this {
    this.#room(4);
    this.#buf.writeUInt32LE(value >>> 0, this.#pos);
    this.#pos += 4;
    return this;
  }

  /** A little-endian 32-bit signed integer. */
  sfixed32(value: number): this {
    return this.fixed32(value);
  }

  /** A 64-bit varint of a `Long` or a safe integer (two's complement when negative). */
  int64(value: Long | number): this {
    const [lo, hi] = bits(value);
    return this.#varint64(lo, hi);
  }

  /** As {@link ProtoWriter.int64}; the value is known to be non-negative. */
  uint64(value: Long | number): this {
    return this.int64(value);
  }

  /** A zigzag-encoded signed 64-bit varint. */
  sint64(value: Long | number): this {
    const long = typeof value === 'number' ? Long.fromNumber(value) : value;
    const zz = long.shiftLeft(1).xor(long.shiftRight(63));
    return this.#varint64(zz.low >>> 0, zz.high >>> 0);
  }

  /** A little-endian 64-bit integer. */
  fixed64(value: Long | number): this {
    const [lo, hi] = bits(value);
    this.#room(8);
    this.#buf.writeUInt32LE(lo, this.#pos);
    this.#buf.writeUInt32LE(hi, this.#pos + 4);
    this.#pos += 8;
    return this;
  }

  /** As {@link ProtoWriter.fixed64}. */
  sfixed64(value: Long | number): this {
    return this.fixed64(value);
  }

  /** A little-endian IEEE 754 double. */
  double(value: number): this {
    this.#room(8);
    this.#buf.writeDoubleLE(value, this.#pos);
    this.#pos += 8;
    return this;
  }

  /** A little-endian IEEE 754 float. */
  float(value: number): this {
    this.#room(4);
    this.#buf.writeFloatLE(value, this.#pos);
    this.#pos += 4;
    return this;
  }

  /** A boolean varint. */
  bool(value: boolean): this {
    this.#room(1);
    this.#buf[this.#pos++] = value ? 1 : 0;
    return this;
  }

  /** A length-prefixed UTF-8 string (the caller has checked it is well formed). */
  string(value: string): this {
    const n = value.length;
    if (n < 128) {
      // Short and ASCII, the usual case: one length byte and one byte per character.
      this.#room(n + 1);
      const buf = this.#buf;
      const start = this.#pos;
      let i = 0;
      for (; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        buf[start + 1 + i] = c;
      }
      if (i === n) {
        buf[start] = n;
        this.#pos = start + 1 + n;
        return this;
      }
    }
    const size = Buffer.byteLength(value, 'utf8');
    this.uint32(size);
    this.#room(size);
    this.#buf.write(value, this.#pos, size, 'utf8');
    this.#pos += size;
    return this;
  }

  /** Length-prefixed bytes. */
  bytes(value: Uint8Array): this {
    this.uint32(value.length);
    this.#room(value.length);
    this.#buf.set(value, this.#pos);
    this.#pos += value.length;
    return this;
  }

  /** Starts a nested message; {@link ProtoWriter.ldelim} ends it and writes its length before it. */
  fork(): this {
    this.#room(1);
    this.#forks.push(this.#pos);
    this.#pos += 1;
    return this;
  }

  /** Ends the innermost nested message. */
  ldelim(): this {
    const at = this.#forks.pop();
    if (at === undefined) throw new Error('ldelim without fork');
    const len = this.#pos - at - 1;
    if (len < 0x80) {
      this.#buf[at] = len;
      return this;
    }
    const extra = varintSize(len) - 1;
    this.#room(extra);
    this.#buf.copy(this.#buf, at + 1 + extra, at + 1, this.#pos);
    this.#pos += extra;
    writeVarint(this.#buf, at, len);
    return this;
  }

  /**
   * Ends the innermost nested message; if it is empty, removes it instead, with everything written since `from`
   * (its tag): proto3 leaves out an empty `bytes` field.
   */
  ldelimOrDrop(from: number): this {
    const at = this.#forks[this.#forks.length - 1];
    if (at === undefined) throw new Error('ldelim without fork');
    if (this.#pos !== at + 1) return this.ldelim();
    this.#forks.pop();
    this.#pos = from;
    return this;
  }

  /** The bytes written, in a buffer of their own; the writer is then empty. */
  finish(): Buffer {
    if (this.#forks.length > 0) throw new Error('finish with a nested message still open');
    const out = Buffer.allocUnsafe(this.#pos);
    this.#buf.copy(out, 0, 0, this.#pos);
    this.#forget();
    return out;
  }

  #varint64(lo: number, hi: number): this {
    this.#room(10);
    const buf = this.#buf;
    let p = this.#pos;
    while (hi !== 0 || lo > 0x7f) {
      buf[p++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[p++] = lo;
    this.#pos = p;
    return this;
  }
}

/** The low and high 32 bits of a 64-bit integer given as a `Long` or a safe integer. */
function bits(value: Long | number): [number, number] {
  if (typeof value !== 'number') return [value.low >>> 0, value.high >>> 0];
  if (value >= 0) return [value >>> 0, Math.floor(value / 4294967296) >>> 0];
  const long = Long.fromNumber(value);
  return [long.low >>> 0, long.high >>> 0];
}
