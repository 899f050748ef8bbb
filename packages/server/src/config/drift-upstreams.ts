import { resolve } from 'node:path';
import { ConfigError } from '../errors.ts';
import { parseDuration } from './duration.ts';
import { readConfigText } from './read-file.ts';

/** How the server reaches upstreams for drift comparison, and what drift metrics it exposes. */
export interface DriftUpstreamConfig {
  /** How long an upstream's list is used before it is checked again. */
  ttlMs: number;
  github: { baseUrl?: string; token?: string };
  gitlab: { baseUrl?: string; token?: string };
  npm: { registryUrl?: string; token?: string };
  endoflifeUrl?: string;
  /** Per registry host: credentials (and optionally the API's base URL). */
  registries: Record<string, { baseUrl?: string; username?: string; password?: string }>;
  /** Hosts reachable over plain HTTP and at private addresses (upstream-policy.ts). */
  allowHosts: string[];
  /** Also expose Opvic's metric names, for existing dashboards. */
  opvicMetrics: boolean;
  /** Per (environment, place, subject) series at most; the rest are dropped and counted. */
  maxSeries: number;
}

/** The drift options as strings, from flags or env vars (see options.ts). */
export interface DriftUpstreamStrings {
  driftUpstreamTtl?: string;
  driftGithubUrl?: string;
  driftGithubToken?: string;
  driftGitlabUrl?: string;
  driftGitlabToken?: string;
  driftNpmRegistry?: string;
  driftNpmToken?: string;
  driftEndoflifeUrl?: string;
  driftRegistryCredentials?: string;
  driftUpstreamAllowHost?: string;
  driftOpvicMetrics?: string;
  driftMetricsMaxSeries?: string;
}

function baseUrl(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${flag}: "${value}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError(`${flag}: must be http(s)`);
  if (url.username || url.password) throw new ConfigError(`${flag}: put credentials in the token option, not the URL`);
  return value.replace(/\/+$/, '');
}

const hostPattern = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$|^\[[0-9a-f:.]+\](:\d{1,5})?$/i;

/**
 * Registry credentials: `host=user:token` items separated by commas, or `@/path/file.json` holding
 * `{"host": {"username", "password", "baseUrl"?}}`. Values are secrets: errors never repeat them.
 */
export function parseRegistryCredentials(value: string | undefined, cwd: string): DriftUpstreamConfig['registries'] {
  const flag = '--drift-registry-credentials';
  if (value === undefined) return {};
  const out: DriftUpstreamConfig['registries'] = Object.create(null);
  if (value.startsWith('@')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readConfigText(resolve(cwd, value.slice(1))));
    } catch (error) {
      throw new ConfigError(`${flag}: ${value.slice(1)}: ${(error as Error).message.split('\n')[0]}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new ConfigError(`${flag}: the file must hold an object of hosts`);
    for (const [host, entry] of Object.entries(parsed)) {
      if (!hostPattern.test(host)) throw new ConfigError(`${flag}: "${host}" is not a registry host`);
      const e = entry as Record<string, unknown>;
      const str = (k: string) => (typeof e?.[k] === 'string' ? (e[k] as string) : undefined);
      const url = baseUrl(str('baseUrl'), `${flag}: ${host}.baseUrl`);
      out[host.toLowerCase()] = {
        ...(url ? { baseUrl: url } : {}),
        ...(str('username') !== undefined ? { username: str('username') } : {}),
        ...(str('password') !== undefined ? { password: str('password') } : {}),
      };
    }
    return out;
  }
  for (const item of value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const eq = item.indexOf('=');
    const colon = item.indexOf(':', eq + 1);
    const host = item.slice(0, Math.max(eq, 0));
    if (eq < 1 || colon === -1 || !hostPattern.test(host)) {
      throw new ConfigError(
        `${flag}: each item is host=user:token (item ${host ? `for "${host}"` : 'without a host'})`,
      );
    }
    out[host.toLowerCase()] = { username: item.slice(eq + 1, colon), password: item.slice(colon + 1) };
  }
  return out;
}

export function resolveDriftUpstreams(o: DriftUpstreamStrings, cwd: string): DriftUpstreamConfig {
  const ttl = o.driftUpstreamTtl ?? '1h';
  let ttlMs: number;
  try {
    ttlMs = parseDuration(ttl);
  } catch (error) {
    throw new ConfigError(`--drift-upstream-ttl: ${(error as Error).message}`);
  }
  if (!(ttlMs >= 10_000)) throw new ConfigError('--drift-upstream-ttl: at least 10s');
  const allowHosts = (o.driftUpstreamAllowHost ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  for (const host of allowHosts)
    if (!hostPattern.test(host)) throw new ConfigError(`--drift-upstream-allow-host: "${host}" is not a host`);
  const opvic = (o.driftOpvicMetrics ?? 'false').toLowerCase();
  if (!['true', 'false', '1', '0', 'on', 'off'].includes(opvic))
    throw new ConfigError('--drift-opvic-metrics: true or false');
  const max = o.driftMetricsMaxSeries ?? '10000';
  if (!/^\d+$/.test(max)) throw new ConfigError('--drift-metrics-max-series: a whole number');
  const optional = <T>(v: T | undefined, k: string) => (v === undefined ? {} : { [k]: v });
  return {
    ttlMs,
    github: {
      ...optional(baseUrl(o.driftGithubUrl, '--drift-github-url'), 'baseUrl'),
      ...optional(o.driftGithubToken, 'token'),
    },
    gitlab: {
      ...optional(baseUrl(o.driftGitlabUrl, '--drift-gitlab-url'), 'baseUrl'),
      ...optional(o.driftGitlabToken, 'token'),
    },
    npm: {
      ...optional(baseUrl(o.driftNpmRegistry, '--drift-npm-registry'), 'registryUrl'),
      ...optional(o.driftNpmToken, 'token'),
    },
    ...optional(baseUrl(o.driftEndoflifeUrl, '--drift-endoflife-url'), 'endoflifeUrl'),
    registries: parseRegistryCredentials(o.driftRegistryCredentials, cwd),
    allowHosts,
    opvicMetrics: ['true', '1', 'on'].includes(opvic),
    maxSeries: Number(max),
  };
}

/** Defaults: public upstreams, no credentials (tests and callers without a configuration). */
export const defaultDriftUpstreams: DriftUpstreamConfig = resolveDriftUpstreams({}, process.cwd());
