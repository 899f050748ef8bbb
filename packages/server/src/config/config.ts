import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Value } from 'typebox/value';
import { parse as parseYaml } from 'yaml';
import { type BlobStoreSpec, parseBlobStore } from '../blobs/blob-store-spec.ts';
import { ConfigError } from '../errors.ts';
import { type LogFormat, logFormats } from '../logging/log-format.ts';
import { type DriftUpstreamConfig, resolveDriftUpstreams } from './drift-upstreams.ts';
import { formatDuration, parseDuration } from './duration.ts';
import { readConfigText } from './read-file.ts';
import { type AppFileConfig, FileConfig, type ServerOptions, serverOptionTable } from './schema.ts';

export interface AppConfig {
  name: string;
  isDefault: boolean;
  /** Absolute path; null means the server writes and serves an example file in the data dir. */
  responseConfigPath: string | null;
  requestSchemaPath: string | null;
  queryPeriodMs: number;
  responseCasing: 'camel' | 'pascal';
  /** Answer from the release catalog: the service's versions, tagged by the environments desiring them. */
  catalog: { service: string; tags: Record<string, string> } | null;
}

export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  database: string;
  /** Where artifacts and fault archives live (blobs/): the data directory or an S3-compatible bucket. */
  blobStore: BlobStoreSpec;
  trustedProxies: string[];
  geodb: string;
  rawRetentionMs: number;
  logRetentionMs: number;
  faultRetentionMs: number;
  /** Drift: a silent place is shown stale after this, then forgotten. */
  driftStaleAfterMs: number;
  driftRemoveAfterMs: number;
  /** Mesh: per-minute pair summaries older than this are deleted. */
  meshRetentionMs: number;
  /** Deleted services, profiles, environments and versions stay restorable this long. */
  trashRetentionMs: number;
  buildRetentionMs: number;
  faultMaxCount: number;
  /** Per instance: log message bytes and lines a minute, fault reports an hour; 0 is unlimited. */
  logQuotaBytes: number;
  logQuotaLines: number;
  faultQuota: number;
  /** Log-follow streams one user (or token) may hold open at once. */
  logFollowMax: number;
  /** Queued builds run at once (builds/runner.ts). */
  buildConcurrency: number;
  rateLimitPerMinute: number;
  /** When the store cannot take a check-in: answer it unstored (upgrade-responder's way) or refuse with 503. */
  onStoreFailure: 'answer' | 'refuse';
  /** Threads that own the HTTP listener and answer check-ins; 0 keeps everything on the main thread. */
  checkinThreads: number;
  logLevel: string;
  /** `auto` is pretty on a terminal and JSON otherwise. */
  logFormat: LogFormat;
  influxdb: { url: string; user?: string; pass?: string } | null;
  apps: AppConfig[];
  /** Only from FLOTILLA_ADMIN_TOKEN, never from a file or flag, so it stays out of `ps` and config repos. */
  adminToken: string | null;
  /**
   * Only from FLOTILLA_PRIVATE_FILES_KEY (base64 of 32 bytes): the key of services' private files.
   * Without it the server keeps one in `<data dir>/private-files.key`.
   */
  privateFilesKey?: string | null;
  /** Drift: upstream access (base URLs, credentials, allowed private hosts), TTL and metrics. */
  driftUpstreams: DriftUpstreamConfig;
  /** Federation: the provider this server follows as a consumer (federation/follower.ts), or null. */
  federation?: FederationConfig | null;
}

export interface FederationConfig {
  providerUrl: string;
  token: string;
  environment: string | null;
  /** A PEM public key to pin; null trusts the provider's key on first connect. */
  providerKeyPem: string | null;
  reportIntervalMs: number;
}

const defaultAppName = 'default';

/** Reads options from flags, then env vars, then the YAML file, then defaults; throws ConfigError naming the fault. */
export function resolveServerConfig(
  flags: ServerOptions,
  env: Record<string, string | undefined>,
  cwd = process.cwd(),
): ServerConfig {
  const opts: ServerOptions = {};
  for (const { key, env: name } of serverOptionTable) {
    const value = flags[key] ?? env[name];
    if (value !== undefined && value !== '') opts[key] = value;
  }
  const filePath = opts.config ? resolve(cwd, opts.config) : null;
  const file = filePath ? readConfigFile(filePath) : {};
  const base = filePath ? dirname(filePath) : cwd;
  const where = (field: string) => (filePath ? `${filePath}: ${field}` : field);

  const dataDir = resolve(opts.dataDir ? cwd : base, opts.dataDir ?? file.dataDir ?? './flotilla-data');
  const port = opts.port !== undefined ? parsePort(opts.port) : (file.port ?? 8314);
  const database = opts.database ?? file.database ?? join(dataDir, 'flotilla.db');
  const influxUrl = opts.influxdbUrl ?? file.influxdb?.url;
  const trustedProxies = opts.trustedProxies
    ? opts.trustedProxies
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : (file.trustedProxies ?? []);
  for (const cidr of trustedProxies) checkCidr(cidr, where('trustedProxies'));

  const config: ServerConfig = {
    host: opts.host ?? file.host ?? '0.0.0.0',
    port,
    dataDir,
    database: /^postgres(ql)?:\/\//.test(database) ? database : resolve(base, database),
    blobStore: parseBlobStore(opts.blobStore ?? file.blobStore ?? 'file'),
    trustedProxies,
    geodb: opts.geodb ?? (file.geodb ? resolveGeodb(file.geodb, base) : 'embedded'),
    rawRetentionMs: durationOption(opts.rawRetention ?? file.rawRetention ?? '30d', where('rawRetention')),
    logRetentionMs: durationOption(opts.logRetention ?? file.logRetention ?? '14d', where('logRetention')),
    faultRetentionMs: durationOption(opts.faultRetention ?? file.faultRetention ?? '30d', where('faultRetention')),
    driftStaleAfterMs: durationOption(opts.driftStaleAfter ?? file.driftStaleAfter ?? '10m', where('driftStaleAfter')),
    driftRemoveAfterMs: durationOption(
      opts.driftRemoveAfter ?? file.driftRemoveAfter ?? '7d',
      where('driftRemoveAfter'),
    ),
    meshRetentionMs: durationOption(opts.meshRetention ?? file.meshRetention ?? '7d', where('meshRetention')),
    trashRetentionMs: durationOption(opts.trashRetention ?? file.trashRetention ?? '7d', where('trashRetention')),
    buildRetentionMs: durationOption(opts.buildRetention ?? file.buildRetention ?? '30d', where('buildRetention')),
    faultMaxCount:
      opts.faultMaxCount !== undefined
        ? Math.max(1, parseCount(opts.faultMaxCount, 'fault-max-count'))
        : (file.faultMaxCount ?? 100),
    logQuotaBytes: countOption(opts.logQuotaBytes, 'log-quota-bytes', file.logQuotaBytes, 16 * 1024 * 1024),
    logQuotaLines: countOption(opts.logQuotaLines, 'log-quota-lines', file.logQuotaLines, 60_000),
    faultQuota: countOption(opts.faultQuota, 'fault-quota', file.faultQuota, 60),
    logFollowMax: Math.max(1, countOption(opts.logFollowMax, 'log-follow-max', file.logFollowMax, 8)),
    // 0 by default: a build runs its spec's commands as the server's OS user, so it is opted into.
    buildConcurrency: Math.min(64, countOption(opts.buildConcurrency, 'build-concurrency', file.buildConcurrency, 0)),
    rateLimitPerMinute:
      opts.rateLimit !== undefined ? parseCount(opts.rateLimit, 'rate-limit') : (file.rateLimit ?? 600),
    onStoreFailure: (opts.onStoreFailure ?? file.onStoreFailure ?? 'answer') as ServerConfig['onStoreFailure'],
    checkinThreads:
      opts.checkinThreads !== undefined && opts.checkinThreads !== 'auto'
        ? Math.min(64, parseCount(opts.checkinThreads, 'checkin-threads'))
        : (file.checkinThreads ?? autoCheckinThreads()),
    logLevel: opts.logLevel ?? file.logLevel ?? 'info',
    logFormat: (opts.logFormat ?? file.logFormat ?? 'auto') as LogFormat,
    influxdb: influxUrl
      ? {
          url: influxUrl,
          user: opts.influxdbUser ?? file.influxdb?.user,
          pass: opts.influxdbPass ?? file.influxdb?.pass,
        }
      : null,
    apps: resolveApps(opts, file.apps ?? [], cwd, base, where),
    adminToken: env.FLOTILLA_ADMIN_TOKEN || null,
    privateFilesKey: env.FLOTILLA_PRIVATE_FILES_KEY || null,
    driftUpstreams: resolveDriftUpstreams(
      {
        ...opts,
        ...(opts.driftOpvicMetrics !== undefined ? { driftOpvicMetrics: String(opts.driftOpvicMetrics) } : {}),
      },
      cwd,
    ),
  };
  if (config.driftRemoveAfterMs < config.driftStaleAfterMs || config.driftStaleAfterMs <= 0) {
    throw new ConfigError('drift-remove-after must be at least drift-stale-after, and both more than 0');
  }
  if (config.meshRetentionMs < 3_600_000) throw new ConfigError('mesh-retention must be at least 1h');
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(config.logLevel)) {
    throw new ConfigError(
      `log-level: "${config.logLevel}" is not one of fatal, error, warn, info, debug, trace, silent`,
    );
  }
  if (config.onStoreFailure !== 'answer' && config.onStoreFailure !== 'refuse') {
    throw new ConfigError(`on-store-failure: "${config.onStoreFailure}" is not answer or refuse`);
  }
  if (!logFormats.includes(config.logFormat)) {
    throw new ConfigError(`log-format: "${config.logFormat}" is not one of ${logFormats.join(', ')}`);
  }
  if (config.influxdb) checkUrl(config.influxdb.url, where('influxdb.url'));
  config.federation = resolveFederation(opts, cwd);
  return Object.freeze(config);
}

function resolveApps(
  opts: ServerOptions,
  fileApps: AppFileConfig[],
  cwd: string,
  base: string,
  where: (field: string) => string,
): AppConfig[] {
  const apps = fileApps.map((app, i) => toAppConfig(app, base, (f) => where(`apps[${i}].${f}`)));
  const hasFlags =
    opts.applicationName || opts.upgradeResponseConfig || opts.requestSchema || opts.queryPeriod || opts.catalogService;
  if (hasFlags || opts.responseCasing || apps.length === 0) {
    const name = opts.applicationName ?? apps.find((a) => a.isDefault)?.name ?? apps[0]?.name ?? defaultAppName;
    const existing = apps.find((a) => a.name === name);
    const fromFlags = toAppConfig(
      {
        name,
        default: true,
        upgradeResponseConfig: opts.upgradeResponseConfig,
        requestSchema: opts.requestSchema,
        queryPeriod: opts.queryPeriod,
        responseCasing: opts.responseCasing as 'camel' | 'pascal' | undefined,
        catalog: opts.catalogService
          ? { service: opts.catalogService, tags: parseTagList(opts.catalogTags) }
          : undefined,
      },
      cwd,
      (f) => `--${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`,
    );
    const merged: AppConfig = existing
      ? {
          ...existing,
          isDefault: true,
          responseConfigPath: opts.upgradeResponseConfig ? fromFlags.responseConfigPath : existing.responseConfigPath,
          requestSchemaPath: opts.requestSchema ? fromFlags.requestSchemaPath : existing.requestSchemaPath,
          queryPeriodMs: opts.queryPeriod ? fromFlags.queryPeriodMs : existing.queryPeriodMs,
          responseCasing: opts.responseCasing ? fromFlags.responseCasing : existing.responseCasing,
          catalog: opts.catalogService ? fromFlags.catalog : existing.catalog,
        }
      : fromFlags;
    const rest = apps.filter((a) => a.name !== name).map((a) => ({ ...a, isDefault: false }));
    return [merged, ...rest];
  }
  const defaults = apps.filter((a) => a.isDefault);
  if (defaults.length > 1)
    throw new ConfigError(where(`apps: only one app can be the default, found ${defaults.length}`));
  if (defaults.length === 0 && apps[0]) apps[0].isDefault = true;
  const names = new Set<string>();
  for (const app of apps) {
    if (names.has(app.name)) throw new ConfigError(where(`apps: the name "${app.name}" is used twice`));
    names.add(app.name);
  }
  return apps;
}

function toAppConfig(app: AppFileConfig, base: string, where: (field: string) => string): AppConfig {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/.test(app.name)) {
    throw new ConfigError(`${where('name')}: "${app.name}" must be 1-63 letters, digits, _, . or -`);
  }
  const queryPeriodMs = durationOption(app.queryPeriod ?? '1h', where('queryPeriod'));
  if (queryPeriodMs < 60_000 || queryPeriodMs % 60_000 !== 0) {
    throw new ConfigError(`${where('queryPeriod')}: must be a whole number of minutes, at least 1m`);
  }
  const casing = app.responseCasing ?? 'camel';
  if (casing !== 'camel' && casing !== 'pascal') {
    throw new ConfigError(`${where('responseCasing')}: "${casing}" must be camel or pascal`);
  }
  if (app.catalog && app.upgradeResponseConfig) {
    throw new ConfigError(`${where('catalog')}: an app answers from the catalog or from a response config, not both`);
  }
  return {
    name: app.name,
    isDefault: app.default ?? false,
    catalog: app.catalog ? { service: app.catalog.service, tags: app.catalog.tags ?? { latest: 'production' } } : null,
    responseConfigPath: app.upgradeResponseConfig ? resolve(base, app.upgradeResponseConfig) : null,
    requestSchemaPath: app.requestSchema ? resolve(base, app.requestSchema) : null,
    queryPeriodMs,
    responseCasing: casing,
  };
}

/** `latest=production,beta=test` → { latest: 'production', beta: 'test' }. */
function parseTagList(text: string | undefined): Record<string, string> {
  if (!text) return { latest: 'production' };
  const tags: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const [tag, env] = pair.split('=').map((s) => s.trim());
    if (!tag || !env) throw new ConfigError(`--catalog-tags: "${pair}" is not tag=environment`);
    tags[tag] = env;
  }
  return tags;
}

function readConfigFile(path: string): FileConfig {
  const text = readConfigText(path);
  let data: unknown;
  try {
    data = parseYaml(text) ?? {};
  } catch (err) {
    throw new ConfigError(`${path}: not valid YAML: ${(err as Error).message}`);
  }
  const errors = [...Value.Errors(FileConfig, data)];
  if (errors.length > 0) {
    const lines = errors.slice(0, 5).map((e) => `${path}: ${describePath(e.instancePath)}: ${e.message}`);
    throw new ConfigError(lines.join('\n'));
  }
  return data as FileConfig;
}

function describePath(pointer: string): string {
  if (!pointer) return '(top level)';
  return pointer
    .slice(1)
    .split('/')
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`))
    .join('');
}

function resolveGeodb(spec: string, base: string): string {
  if (spec === 'embedded' || spec === 'off') return spec;
  return spec
    .split(',')
    .map((p) => resolve(base, p.trim()))
    .join(',');
}

function durationOption(text: string, field: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new ConfigError(`${field}: ${(err as Error).message}`);
  }
}

function parsePort(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`port: "${text}" is not a port number`);
  return n;
}

/** One thread per CPU, at most 4; none on a single CPU, where a second thread only adds hand-offs. */
function autoCheckinThreads(): number {
  const cpus = availableParallelism();
  return cpus < 2 ? 0 : Math.min(4, cpus);
}

/** A whole number from a flag or env var, else the file, else the default. */
function countOption(text: string | undefined, field: string, fromFile: number | undefined, fallback: number): number {
  return text !== undefined ? parseCount(text, field) : (fromFile ?? fallback);
}

function parseCount(text: string, field: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${field}: "${text}" is not a whole number`);
  return n;
}

function checkCidr(cidr: string, field: string): void {
  const [addr, bits] = cidr.split('/');
  const isV4 = /^\d{1,3}(\.\d{1,3}){3}$/.test(addr ?? '');
  const isV6 = (addr ?? '').includes(':');
  const max = isV4 ? 32 : 128;
  if ((!isV4 && !isV6) || (bits !== undefined && !(Number(bits) >= 0 && Number(bits) <= max))) {
    throw new ConfigError(`${field}: "${cidr}" is not an IP address or CIDR range`);
  }
}

function checkUrl(url: string, field: string): void {
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
  } catch {
    throw new ConfigError(`${field}: "${url}" is not an http(s) URL`);
  }
}

export { formatDuration };

function resolveFederation(opts: ServerOptions, cwd: string): FederationConfig | null {
  if (!opts.providerUrl) {
    if (opts.providerToken || opts.providerEnvironment || opts.providerKey)
      throw new ConfigError('provider-token, provider-environment and provider-key need --provider-url');
    return null;
  }
  checkUrl(opts.providerUrl, 'provider-url');
  if (!opts.providerToken?.startsWith('flc_')) {
    throw new ConfigError(
      'provider-url needs --provider-token (or FLOTILLA_PROVIDER_TOKEN): the flc_… token of a consumer account',
    );
  }
  let providerKeyPem: string | null = null;
  if (opts.providerKey) {
    try {
      providerKeyPem = readConfigText(resolve(cwd, opts.providerKey));
    } catch (err) {
      throw new ConfigError(`provider-key: ${(err as Error).message}`);
    }
  }
  return {
    providerUrl: opts.providerUrl.replace(/\/+$/, ''),
    token: opts.providerToken,
    environment: opts.providerEnvironment || null,
    providerKeyPem,
    reportIntervalMs: durationOption(opts.providerReportInterval ?? '30s', 'provider-report-interval'),
  };
}
