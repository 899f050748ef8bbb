import type { CheckUpgradeVersion, ResponseCasing } from '@flotilla/protocol';
import semver from 'semver';
import { readJsonConfig } from '../config/read-file.ts';
import { ConfigError } from '../errors.ts';
import { isObject } from './request-schema.ts';

const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** The answer for one app, serialised once per config change and sent as is to every client. */
export interface PreparedResponse {
  versions: CheckUpgradeVersion[];
  body: string;
}

export function loadResponseConfig(path: string): CheckUpgradeVersion[] {
  return validateResponseConfig(readJsonConfig(path), path);
}

/** upgrade-responder's start-up checks, with messages that name the entry and field at fault. */
export function validateResponseConfig(data: unknown, source: string): CheckUpgradeVersion[] {
  const fail = (field: string, why: string) => new ConfigError(`${source}: ${field}: ${why}`);
  if (!isObject(data)) throw fail('(top level)', 'must be a JSON object with "versions"');
  const list = lowerKeys(data).versions;
  if (!Array.isArray(list) || list.length === 0) throw fail('versions', 'must be a non-empty array');
  const seen = new Set<string>();
  const versions = list.map((entry, i): CheckUpgradeVersion => {
    const at = `versions[${i}]`;
    if (!isObject(entry)) throw fail(at, 'must be an object');
    const v = lowerKeys(entry);
    if (typeof v.name !== 'string' || !isVersionName(v.name)) {
      throw fail(`${at}.name`, `${JSON.stringify(v.name)} is not a semantic version`);
    }
    if (seen.has(v.name)) throw fail(`${at}.name`, `"${v.name}" appears twice`);
    seen.add(v.name);
    if (typeof v.releasedate !== 'string' || !rfc3339.test(v.releasedate) || Number.isNaN(Date.parse(v.releasedate))) {
      throw fail(`${at}.releaseDate`, `${JSON.stringify(v.releasedate ?? null)} is not an RFC 3339 time`);
    }
    const min = v.minupgradableversion ?? '';
    if (typeof min !== 'string' || (min !== '' && !isVersionName(min))) {
      throw fail(`${at}.minUpgradableVersion`, `${JSON.stringify(min)} is not a semantic version`);
    }
    if (!Array.isArray(v.tags) || v.tags.length === 0 || !v.tags.every((t) => typeof t === 'string' && t !== '')) {
      throw fail(`${at}.tags`, 'must be a non-empty array of non-empty strings');
    }
    const extra = v.extrainfo ?? null;
    if (extra !== null && (!isObject(extra) || !Object.values(extra).every((x) => typeof x === 'string'))) {
      throw fail(`${at}.extraInfo`, 'must be an object of strings or null');
    }
    return {
      name: v.name,
      releaseDate: v.releasedate,
      minUpgradableVersion: min,
      tags: v.tags as string[],
      extraInfo: extra as Record<string, string> | null,
    };
  });
  if (!versions.some((v) => v.tags.includes('latest'))) throw fail('versions', 'no version carries the "latest" tag');
  return versions.sort((a, b) => semver.rcompare(toSemver(a.name), toSemver(b.name)));
}

export function prepareResponse(
  versions: CheckUpgradeVersion[],
  requestIntervalInMinutes: number,
  casing: ResponseCasing,
): PreparedResponse {
  const shaped =
    casing === 'camel'
      ? versions
      : versions.map((v) => ({
          Name: v.name,
          ReleaseDate: v.releaseDate,
          MinUpgradableVersion: v.minUpgradableVersion,
          Tags: v.tags,
          ExtraInfo: v.extraInfo,
        }));
  return { versions, body: JSON.stringify({ versions: shaped, requestIntervalInMinutes }) };
}

/** Accepts what upgrade-responder's loose parser accepts: `v1.2.3`, `1.2`, `1.2.3-rc.1+build`. */
function isVersionName(name: string): boolean {
  return semver.valid(name, { loose: true }) !== null || /^v?\d+(\.\d+)?$/.test(name);
}

function toSemver(name: string): string {
  const valid = semver.valid(name, { loose: true });
  if (valid) return valid;
  const [major = '0', minor = '0'] = name.replace(/^v/, '').split('.');
  return `${major}.${minor}.0`;
}

function lowerKeys(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) out[k.toLowerCase()] = v;
  return out;
}
