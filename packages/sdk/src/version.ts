/**
 * A parsed version name: plain semver (`v1.2.3-rc.1+build.5`) or a distribution build
 * (`jetto-3.5.1`, `jetto-3.5.1_2`), which is a prefix, a semver and an optional `_N` rebuild generation.
 */
export interface ParsedVersion {
  /** The name exactly as given. */
  readonly raw: string;
  /** Distribution prefix such as `jetto`; empty for plain semver names. */
  readonly prefix: string;
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** Dot-separated prerelease identifiers; empty for a release. */
  readonly prerelease: readonly string[];
  /** Build metadata identifiers; kept for display, ignored for precedence. */
  readonly build: readonly string[];
  /** The `_N` rebuild generation of a distribution build; 0 when absent. */
  readonly generation: number;
}

const NUMERIC = '0|[1-9]\\d*';
const PRERELEASE_ID = `(?:${NUMERIC}|\\d*[a-zA-Z-][0-9a-zA-Z-]*)`;
const BUILD_ID = '[0-9a-zA-Z-]+';
const SEMVER =
  `v?(${NUMERIC})\\.(${NUMERIC})\\.(${NUMERIC})` +
  `(?:-(${PRERELEASE_ID}(?:\\.${PRERELEASE_ID})*))?` +
  `(?:\\+(${BUILD_ID}(?:\\.${BUILD_ID})*))?`;
const PLAIN_PATTERN = new RegExp(`^${SEMVER}$`);
// The lazy prefix takes the shortest run of name characters that leaves a valid semver behind.
const DISTRIBUTION_PATTERN = new RegExp(`^([a-zA-Z][0-9a-zA-Z._-]*?)-${SEMVER}(?:_(${NUMERIC}))?$`);
// Names come from servers; a bound keeps the lazy prefix match cheap.
const MAX_NAME_LENGTH = 256;
const DIGITS = /^\d+$/;

/** Parses a version name, or returns `null` when it is neither semver nor a distribution-build name. */
export function parseVersion(name: string): ParsedVersion | null {
  if (typeof name !== 'string' || name.length > MAX_NAME_LENGTH) return null;
  const plain = PLAIN_PATTERN.exec(name);
  if (plain) return fromMatch(name, '', plain.slice(1, 6), undefined);
  const distribution = DISTRIBUTION_PATTERN.exec(name);
  if (distribution) return fromMatch(name, distribution[1] ?? '', distribution.slice(2, 7), distribution[7]);
  return null;
}

function fromMatch(
  raw: string,
  prefix: string,
  [major, minor, patch, prerelease, build]: (string | undefined)[],
  generation: string | undefined,
): ParsedVersion | null {
  const numbers = [major, minor, patch, generation ?? '0'].map(Number);
  if (!numbers.every(Number.isSafeInteger)) return null;
  return {
    raw,
    prefix,
    major: numbers[0] as number,
    minor: numbers[1] as number,
    patch: numbers[2] as number,
    prerelease: prerelease ? prerelease.split('.') : [],
    build: build ? build.split('.') : [],
    generation: numbers[3] as number,
  };
}

/**
 * Compares two version names by semver 2.0.0 precedence, then by rebuild generation.
 * Returns -1, 0 or 1, or `undefined` when either name is not a version or the prefixes differ,
 * because versions of different distributions have no order.
 */
export function compareVersions(a: string | ParsedVersion, b: string | ParsedVersion): -1 | 0 | 1 | undefined {
  const left = typeof a === 'string' ? parseVersion(a) : a;
  const right = typeof b === 'string' ? parseVersion(b) : b;
  if (!left || !right || left.prefix !== right.prefix) return undefined;
  return (
    compareNumbers(left.major, right.major) ||
    compareNumbers(left.minor, right.minor) ||
    compareNumbers(left.patch, right.patch) ||
    comparePrerelease(left.prerelease, right.prerelease) ||
    compareNumbers(left.generation, right.generation)
  );
}

function compareNumbers(a: number, b: number): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}

function comparePrerelease(a: readonly string[], b: readonly string[]): -1 | 0 | 1 {
  // A release outranks any of its prereleases.
  if (a.length === 0 || b.length === 0) return compareNumbers(b.length, a.length);
  for (let index = 0; index < Math.min(a.length, b.length); index++) {
    const order = compareIdentifiers(a[index] as string, b[index] as string);
    if (order !== 0) return order;
  }
  return compareNumbers(a.length, b.length);
}

function compareIdentifiers(a: string, b: string): -1 | 0 | 1 {
  const aNumeric = DIGITS.test(a);
  const bNumeric = DIGITS.test(b);
  // Numeric identifiers have no leading zeros, so a longer one is larger; this avoids precision limits.
  if (aNumeric && bNumeric) return compareNumbers(a.length, b.length) || compareStrings(a, b);
  if (aNumeric !== bNumeric) return aNumeric ? -1 : 1;
  return compareStrings(a, b);
}

function compareStrings(a: string, b: string): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Orders names newest first within each prefix; prefixes are grouped alphabetically and names that
 * are not versions go last in their original order.
 */
export function compareNewestFirst(a: string, b: string): number {
  const left = parseVersion(a);
  const right = parseVersion(b);
  if (!left || !right) return (left ? 0 : 1) - (right ? 0 : 1);
  if (left.prefix !== right.prefix) return compareStrings(left.prefix, right.prefix);
  return -(compareVersions(left, right) ?? 0);
}
