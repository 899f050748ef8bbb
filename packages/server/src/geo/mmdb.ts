import { Reader, type Response } from 'maxmind';
import { MmdbData } from './mmdb-data.ts';

export type MmdbMetadata = Reader<Response>['metadata'];

const METADATA_MARKER = Buffer.from('abcdef4d61784d696e642e636f6d', 'hex');
const JUMP_BITS = 16;

// The spec puts 16 zero bytes between the search tree and the data section.
function isZero(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * An MMDB database held in memory. maxmind's Reader validates the metadata, but its lookups
 * parse into arrays and decode whole records, so the search tree is walked here on numbers.
 */
export class MmdbFile extends MmdbData {
  readonly metadata: MmdbMetadata;
  private nodeCount: number;
  private readonly recordSize: number;
  private readonly treeSize: number;
  /** Tree node where IPv4 addresses start, or -1 when the file holds no IPv4 data. */
  private ipv4Start = -1;
  // Nodes reached after the first 16 bits, per prefix (256 KiB each, ~5 ms to build): the upper
  // levels miss the CPU cache on random addresses; skipping them took walks from 1.7M to 3.1M/s.
  private v4Jump: Uint32Array = new Uint32Array(0);
  private v6Jump: Uint32Array = new Uint32Array(0);

  /** Throws when the buffer is not a readable MMDB database. */
  constructor(buf: Buffer) {
    const metadata = new Reader<Response>(buf).metadata;
    const { nodeCount, recordSize, searchTreeSize, ipVersion } = metadata;
    const dataEnd = buf.lastIndexOf(METADATA_MARKER);
    if (!Number.isSafeInteger(nodeCount) || nodeCount <= 0 || (ipVersion !== 4 && ipVersion !== 6)) {
      throw new Error('invalid MMDB metadata');
    }
    if (searchTreeSize + 16 > dataEnd || !isZero(buf, searchTreeSize, searchTreeSize + 16)) {
      throw new Error('truncated or corrupt MMDB search tree');
    }
    super(buf, searchTreeSize + 16, dataEnd);
    this.metadata = metadata;
    this.nodeCount = nodeCount;
    this.recordSize = recordSize;
    this.treeSize = searchTreeSize;
    let start = 0;
    for (let i = 0; ipVersion === 6 && i < 96 && start < nodeCount; i++) start = this.child(start, 0);
    if (start !== nodeCount) {
      this.ipv4Start = start;
      this.v4Jump = this.jumpTable(start);
    }
    if (ipVersion === 6) this.v6Jump = this.jumpTable(0);
  }

  /** True when IPv4 addresses can be looked up. */
  get hasIpv4(): boolean {
    return this.ipv4Start >= 0;
  }

  /** Drops the buffer; later lookups find nothing. */
  close(): void {
    this.buf = Buffer.alloc(0);
    this.dataEnd = 0;
    this.nodeCount = 0;
    this.ipv4Start = -1;
    this.v4Jump = new Uint32Array(0);
    this.v6Jump = new Uint32Array(0);
  }

  /** Offset of the record for an IPv4 address (unsigned 32-bit), or -1. */
  findV4(v4: number): number {
    if (this.ipv4Start < 0) return -1;
    const count = this.nodeCount;
    let node = this.v4Jump[v4 >>> JUMP_BITS] as number;
    for (let i = 31 - JUMP_BITS; i >= 0 && node < count; i--) node = this.child(node, (v4 >>> i) & 1);
    return this.recordOffset(node);
  }

  /** Offset of the record for an IPv6 address given as eight 16-bit groups, or -1. */
  findV6(w: Uint16Array): number {
    if (this.v6Jump.length === 0) return -1;
    const count = this.nodeCount;
    let node = this.v6Jump[w[0] as number] as number;
    for (let i = JUMP_BITS; i < 128 && node < count; i++) {
      node = this.child(node, ((w[i >> 4] as number) >>> (15 - (i & 15))) & 1);
    }
    return this.recordOffset(node);
  }

  /** The first record in tree order, to detect the record layout; -1 for an empty tree. */
  firstRecord(): number {
    const count = this.nodeCount;
    const stack = [0];
    for (let visits = 0; stack.length > 0 && visits < 1_000_000; visits++) {
      const node = stack.pop() as number;
      const left = this.child(node, 0);
      const right = this.child(node, 1);
      if (left > count) return this.recordOffset(left);
      if (right > count) return this.recordOffset(right);
      if (right < count) stack.push(right);
      if (left < count) stack.push(left);
    }
    return -1;
  }

  private jumpTable(root: number): Uint32Array {
    const table = new Uint32Array(1 << JUMP_BITS);
    this.fillJump(table, root, 0, 0);
    return table;
  }

  // Subtrees that end above depth 16 fill their whole prefix range with the final record.
  private fillJump(table: Uint32Array, node: number, depth: number, prefix: number): void {
    if (depth === JUMP_BITS || node >= this.nodeCount) {
      const span = 1 << (JUMP_BITS - depth);
      table.fill(node, prefix * span, (prefix + 1) * span);
      return;
    }
    this.fillJump(table, this.child(node, 0), depth + 1, prefix * 2);
    this.fillJump(table, this.child(node, 1), depth + 1, prefix * 2 + 1);
  }

  private recordOffset(node: number): number {
    if (node <= this.nodeCount) return -1;
    const offset = node - this.nodeCount + this.treeSize;
    return offset < this.dataEnd ? offset : -1;
  }

  private child(node: number, bit: number): number {
    const b = this.buf;
    if (this.recordSize === 28) {
      const o = node * 7;
      const mid = b[o + 3] as number;
      return bit === 0
        ? ((mid & 0xf0) << 20) | ((b[o] as number) << 16) | ((b[o + 1] as number) << 8) | (b[o + 2] as number)
        : ((mid & 0x0f) << 24) | ((b[o + 4] as number) << 16) | ((b[o + 5] as number) << 8) | (b[o + 6] as number);
    }
    const size = this.recordSize >> 3;
    const o = node * size * 2 + bit * size;
    const low = ((b[o + size - 3] as number) << 16) | ((b[o + size - 2] as number) << 8) | (b[o + size - 1] as number);
    return size === 3 ? low : (b[o] as number) * 0x1000000 + low;
  }
}
