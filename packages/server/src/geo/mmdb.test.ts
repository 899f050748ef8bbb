import { describe, expect, it } from 'vitest';
import { detectLayout, MmdbLocator } from './locator.ts';
import { MmdbFile } from './mmdb.ts';

// Minimal MMDB encoder for hand-made databases: the real files all use 28-bit records and
// never exercise every value type the field reader has to skip.
const str = (s: string) => {
  const bytes = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([(2 << 5) | bytes.length]), bytes]);
};
const uint16 = (n: number) => Buffer.from([(5 << 5) | 2, n >> 8, n & 0xff]);
const uint32 = (n: number) => Buffer.from([(6 << 5) | 4, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
const double = (n: number) => {
  const b = Buffer.alloc(9);
  b[0] = (3 << 5) | 8;
  b.writeDoubleBE(n, 1);
  return b;
};
const bool = (v: boolean) => Buffer.from([v ? 1 : 0, 14 - 7]);
const array = (...items: Buffer[]) => Buffer.concat([Buffer.from([items.length, 11 - 7]), ...items]);
const map = (...pairs: [Buffer, Buffer][]) => Buffer.concat([Buffer.from([(7 << 5) | pairs.length]), ...pairs.flat()]);
const pointer = (dataOffset: number) => Buffer.from([(1 << 5) | (dataOffset >> 8), dataOffset & 0xff]);

type Tree = { recordSize: 24 | 28 | 32; records: [number, number][] };

function encodeTree({ recordSize, records }: Tree): Buffer {
  const nodeBytes = recordSize / 4;
  const out = Buffer.alloc(records.length * nodeBytes);
  records.forEach(([left, right], node) => {
    const o = node * nodeBytes;
    if (recordSize === 24) {
      out.writeUIntBE(left, o, 3);
      out.writeUIntBE(right, o + 3, 3);
    } else if (recordSize === 32) {
      out.writeUInt32BE(left, o);
      out.writeUInt32BE(right, o + 4);
    } else {
      out.writeUIntBE(left & 0xffffff, o, 3);
      out[o + 3] = ((left >>> 24) << 4) | (right >>> 24);
      out.writeUIntBE(right & 0xffffff, o + 4, 3);
    }
  });
  return out;
}

/** An IPv4 database: 0.0.0.0/1 -> first record, 128.0.0.0/2 -> second, 192.0.0.0/2 -> nothing. */
function buildDatabase(recordSize: Tree['recordSize'], data: Buffer, second: number): Buffer {
  const nodeCount = 2;
  const records: [number, number][] = [
    [nodeCount + 16, 1],
    [nodeCount + 16 + second, nodeCount],
  ];
  const metadata = map(
    [str('node_count'), uint32(nodeCount)],
    [str('record_size'), uint16(recordSize)],
    [str('ip_version'), uint16(4)],
    [str('database_type'), str('Test-City')],
  );
  const marker = Buffer.from('abcdef4d61784d696e642e636f6d', 'hex');
  return Buffer.concat([encodeTree({ recordSize, records }), Buffer.alloc(16), data, marker, metadata]);
}

function flatData(): { data: Buffer; second: number } {
  const first = map([str('country_code'), str('DE')], [str('city'), str('Berlin')]);
  const extra = map(
    [str('list'), array(double(1.5), bool(true), uint32(7), map([str('x'), str('y')]))],
    [str('n'), uint16(3)],
  );
  // The second record reuses the first one's strings through pointers, as real writers do.
  const second = map([str('extra'), extra], [pointer(1), pointer(1 + 13)], [pointer(1 + 13 + 3), str('Köln')]);
  return { data: Buffer.concat([first, second]), second: first.length };
}

describe('MmdbFile on hand-made databases', () => {
  for (const recordSize of [24, 28, 32] as const) {
    it(`walks ${recordSize}-bit records and reads fields through pointers`, () => {
      const { data, second } = flatData();
      const file = new MmdbFile(buildDatabase(recordSize, data, second));
      expect(detectLayout(file)).toBe('flat');
      const locator = new MmdbLocator('flat', file, null, 'test');
      expect(locator.lookup('1.2.3.4')).toEqual({ countryIsoCode: 'DE', country: 'Germany', city: 'Berlin' });
      expect(locator.lookup('130.0.0.1')).toEqual({ countryIsoCode: 'DE', country: 'Germany', city: 'Köln' });
      expect(locator.lookup('200.0.0.1')).toEqual({ countryIsoCode: '', country: '', city: '' });
      expect(locator.lookup('2a00::1')).toEqual({ countryIsoCode: '', country: '', city: '' });
      locator.close();
      expect(locator.lookup('1.2.3.4')).toEqual({ countryIsoCode: '', country: '', city: '' });
    });
  }

  it('detects the MaxMind layout and reads names.en', () => {
    const names = map([str('de'), str('Frankreich')], [str('en'), str('France')]);
    const record = map(
      [str('continent'), map([str('code'), str('EU')])],
      [str('country'), map([str('iso_code'), str('FR')], [str('names'), names])],
      [str('city'), map([str('names'), map([str('en'), str('Lyon')])])],
    );
    const file = new MmdbFile(buildDatabase(24, record, 0));
    expect(detectLayout(file)).toBe('maxmind');
    const locator = new MmdbLocator('maxmind', file, null, 'test');
    expect(locator.lookup('100.1.2.3')).toEqual({ countryIsoCode: 'FR', country: 'France', city: 'Lyon' });
  });

  it('refuses a record layout it does not know', () => {
    const file = new MmdbFile(buildDatabase(24, map([str('asn'), uint32(64512)]), 0));
    expect(() => detectLayout(file)).toThrow(/unknown record layout/);
  });

  it('upper-cases unusual country codes, names them when the runtime can, and drops ZZ', () => {
    const first = map([str('country_code'), str('eu')]);
    const data = Buffer.concat([first, map([str('country_code'), str('ZZ')], [str('city'), str('Nowhere')])]);
    const locator = new MmdbLocator('flat', new MmdbFile(buildDatabase(32, data, first.length)), null, 'test');
    expect(locator.lookup('1.1.1.1')).toEqual({ countryIsoCode: 'EU', country: 'European Union', city: '' });
    expect(locator.lookup('150.1.1.1')).toEqual({ countryIsoCode: '', country: '', city: 'Nowhere' });
  });

  it('rejects a search tree without the data section separator', () => {
    const { data, second } = flatData();
    const db = buildDatabase(24, data, second);
    db[2 * 6 + 3] = 1;
    expect(() => new MmdbFile(db)).toThrow(/corrupt MMDB search tree/);
  });
});
