const TYPE_POINTER = 1;
const TYPE_STRING = 2;
const TYPE_MAP = 7;
const TYPE_ARRAY = 11;
const TYPE_BOOLEAN = 14;

/**
 * Reads single fields from an MMDB data section without decoding whole records: check-ins need
 * two or three strings out of each record, and nothing here allocates but the strings returned.
 * Offsets are absolute positions in the buffer; -1 means absent and is accepted everywhere.
 */
export class MmdbData {
  protected buf: Buffer;
  protected readonly dataStart: number;
  /** Where the metadata begins; 0 once closed, which makes every offset out of range. */
  protected dataEnd: number;
  // Set by header(): the value's type, size field and first payload byte.
  private type = 0;
  private size = 0;
  private start = 0;

  constructor(buf: Buffer, dataStart: number, dataEnd: number) {
    this.buf = buf;
    this.dataStart = dataStart;
    this.dataEnd = dataEnd;
  }

  /** Offset of the value under `key` in the map at `offset` (-1 for none, or when not a map). */
  mapGet(offset: number, key: Uint8Array): number {
    if (offset < 0) return -1;
    this.header(offset);
    if (this.type !== TYPE_MAP) return -1;
    let pairs = this.size;
    let p = this.start;
    while (pairs-- > 0 && p < this.dataEnd) {
      const keyAt = p;
      p = this.skip(p);
      if (this.keyEquals(keyAt, key)) return p;
      p = this.skip(p);
    }
    return -1;
  }

  /** The string at `offset`, or '' when absent or not a string. */
  string(offset: number): string {
    if (offset < 0) return '';
    this.header(offset);
    if (this.type !== TYPE_STRING || this.size === 0) return '';
    return this.buf.toString('utf8', this.start, this.start + this.size);
  }

  /** For a two-letter A-Z string, (first - 'A') * 26 + (second - 'A'); else -1. Saves decoding ISO codes. */
  letterPair(offset: number): number {
    if (offset < 0) return -1;
    this.header(offset);
    if (this.type !== TYPE_STRING || this.size !== 2) return -1;
    const a = (this.buf[this.start] as number) - 65;
    const b = (this.buf[this.start + 1] as number) - 65;
    return a >= 0 && a < 26 && b >= 0 && b < 26 ? a * 26 + b : -1;
  }

  /** Decodes the control byte(s) at `offset`, following one pointer, into type/size/start. */
  private header(offset: number): void {
    const b = this.buf;
    let ctrl = b[offset] as number;
    let p = offset + 1;
    if (ctrl >> 5 === TYPE_POINTER) {
      p = this.pointerTarget(ctrl, p);
      ctrl = b[p] as number;
      p++;
    }
    let type = ctrl >> 5;
    if (type === 0) type = 7 + (b[p++] as number);
    let size = ctrl & 0x1f;
    if (size === 29) {
      size = 29 + (b[p] as number);
      p += 1;
    } else if (size === 30) {
      size = 285 + (((b[p] as number) << 8) | (b[p + 1] as number));
      p += 2;
    } else if (size === 31) {
      size = 65821 + (((b[p] as number) << 16) | ((b[p + 1] as number) << 8) | (b[p + 2] as number));
      p += 3;
    }
    this.type = type;
    this.size = size;
    this.start = p;
  }

  private pointerTarget(ctrl: number, p: number): number {
    const b = this.buf;
    const v = ctrl & 7;
    const b0 = b[p] as number;
    const b1 = b[p + 1] as number;
    const b2 = b[p + 2] as number;
    switch ((ctrl >> 3) & 3) {
      case 0:
        return this.dataStart + ((v << 8) | b0);
      case 1:
        return this.dataStart + 2048 + ((v << 16) | (b0 << 8) | b1);
      case 2:
        return this.dataStart + 526336 + v * 0x1000000 + ((b0 << 16) | (b1 << 8) | b2);
      default:
        return this.dataStart + b0 * 0x1000000 + ((b1 << 16) | (b2 << 8) | (b[p + 3] as number));
    }
  }

  /** Offset just past the value at `offset`; pointers are not followed. */
  private skip(offset: number): number {
    const ctrl = this.buf[offset] as number;
    if (ctrl >> 5 === TYPE_POINTER) return offset + 2 + ((ctrl >> 3) & 3);
    this.header(offset);
    let p = this.start;
    let n = this.size;
    if (this.type === TYPE_MAP) n *= 2;
    else if (this.type !== TYPE_ARRAY) return this.type === TYPE_BOOLEAN ? p : p + n;
    while (n-- > 0 && p < this.dataEnd) p = this.skip(p);
    return p;
  }

  private keyEquals(offset: number, key: Uint8Array): boolean {
    this.header(offset);
    if (this.type !== TYPE_STRING || this.size !== key.length) return false;
    const b = this.buf;
    const s = this.start;
    for (let i = 0; i < key.length; i++) if (b[s + i] !== key[i]) return false;
    return true;
  }
}
