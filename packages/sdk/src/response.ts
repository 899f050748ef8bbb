import type { VersionInfo } from './types.ts';

export const DEFAULT_REQUEST_INTERVAL_MINUTES = 60;

export interface ParsedCheckUpgradeResponse {
  versions: VersionInfo[];
  requestIntervalInMinutes: number;
}

/** Thrown when a decoded body does not have the check-upgrade shape. */
export class ResponseShapeError extends Error {}

/**
 * Validates and normalizes a decoded check-upgrade answer. Keys are matched without regard to case,
 * as upgrade-responder's Go decoder does, so both the camelCase and the PascalCase casing are read.
 */
export function parseCheckUpgradeResponse(body: unknown): ParsedCheckUpgradeResponse {
  const root = expectObject(body, 'the body');
  const rawVersions = field(root, 'versions');
  if (rawVersions !== null && rawVersions !== undefined && !Array.isArray(rawVersions)) {
    throw new ResponseShapeError('"versions" is not an array');
  }
  const versions = Array.isArray(rawVersions) ? rawVersions.map((entry, index) => parseVersionInfo(entry, index)) : [];
  return { versions, requestIntervalInMinutes: parseInterval(field(root, 'requestIntervalInMinutes')) };
}

function parseInterval(value: unknown): number {
  if (value === undefined || value === null) return DEFAULT_REQUEST_INTERVAL_MINUTES;
  if (typeof value !== 'number') throw new ResponseShapeError('"requestIntervalInMinutes" is not a number');
  // A zero or negative interval would make a periodic checker spin.
  return Number.isFinite(value) && value > 0 ? value : DEFAULT_REQUEST_INTERVAL_MINUTES;
}

function parseVersionInfo(entry: unknown, index: number): VersionInfo {
  const where = `versions[${index}]`;
  const object = expectObject(entry, where);
  const name = field(object, 'name');
  if (typeof name !== 'string') throw new ResponseShapeError(`${where}.name is not a string`);
  return {
    name,
    releaseDate: optionalString(object, 'releaseDate', where),
    minUpgradableVersion: optionalString(object, 'minUpgradableVersion', where),
    tags: parseTags(field(object, 'tags'), where),
    extraInfo: parseExtraInfo(field(object, 'extraInfo'), where),
  };
}

function optionalString(object: Record<string, unknown>, key: string, where: string): string {
  const value = field(object, key);
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new ResponseShapeError(`${where}.${key} is not a string`);
  return value;
}

function parseTags(value: unknown, where: string): string[] {
  // Go encodes an empty slice as null.
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((tag) => typeof tag === 'string')) {
    throw new ResponseShapeError(`${where}.tags is not an array of strings`);
  }
  return [...value];
}

function parseExtraInfo(value: unknown, where: string): Record<string, string> | null {
  if (value === undefined || value === null) return null;
  const object = expectObject(value, `${where}.extraInfo`);
  const copy: Record<string, string> = {};
  for (const [key, item] of Object.entries(object)) {
    if (typeof item !== 'string') throw new ResponseShapeError(`${where}.extraInfo.${key} is not a string`);
    copy[key] = item;
  }
  return copy;
}

function expectObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ResponseShapeError(`${what} is not an object`);
  }
  return value as Record<string, unknown>;
}

/** Reads a key by exact name first, then case-insensitively, the order Go's encoding/json uses. */
function field(object: Record<string, unknown>, key: string): unknown {
  if (Object.hasOwn(object, key)) return object[key];
  const lower = key.toLowerCase();
  const match = Object.keys(object).find((candidate) => candidate.toLowerCase() === lower);
  return match === undefined ? undefined : object[match];
}

/** Converts a `Retry-After` value (delay seconds or an HTTP date) to milliseconds from `now`. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
