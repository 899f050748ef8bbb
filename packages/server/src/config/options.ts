// The server's options and their flags, env vars and help: plain data with no schema library, so
// the `flotilla` command can describe `flotilla server` without loading the server.
/** Options as given on the command line or in env vars (strings, before validation). */
export interface ServerOptions {
  config?: string;
  port?: string;
  host?: string;
  dataDir?: string;
  database?: string;
  blobStore?: string;
  trustedProxies?: string;
  geodb?: string;
  rawRetention?: string;
  logRetention?: string;
  faultRetention?: string;
  driftStaleAfter?: string;
  driftRemoveAfter?: string;
  meshRetention?: string;
  trashRetention?: string;
  buildRetention?: string;
  faultMaxCount?: string;
  logQuotaBytes?: string;
  logQuotaLines?: string;
  faultQuota?: string;
  logFollowMax?: string;
  buildConcurrency?: string;
  rateLimit?: string;
  onStoreFailure?: string;
  checkinThreads?: string;
  logLevel?: string;
  logFormat?: string;
  applicationName?: string;
  upgradeResponseConfig?: string;
  requestSchema?: string;
  queryPeriod?: string;
  responseCasing?: string;
  catalogService?: string;
  catalogTags?: string;
  influxdbUrl?: string;
  influxdbUser?: string;
  influxdbPass?: string;
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
  providerUrl?: string;
  providerToken?: string;
  providerEnvironment?: string;
  providerKey?: string;
  providerReportInterval?: string;
}

/** Every option, with its env var and help, in one table shared by the CLI and the docs. */
export const serverOptionTable: ReadonlyArray<{ key: keyof ServerOptions; flag: string; env: string; help: string }> = [
  {
    key: 'config',
    flag: '--config <file>',
    env: 'FLOTILLA_CONFIG',
    help: 'YAML file with any of these settings and several apps',
  },
  { key: 'port', flag: '--port <port>', env: 'FLOTILLA_PORT', help: 'TCP port (default 8314)' },
  { key: 'host', flag: '--host <host>', env: 'FLOTILLA_HOST', help: 'address to listen on (default 0.0.0.0)' },
  {
    key: 'dataDir',
    flag: '--data-dir <dir>',
    env: 'FLOTILLA_DATA_DIR',
    help: 'data directory (default ./flotilla-data)',
  },
  {
    key: 'database',
    flag: '--database <url>',
    env: 'FLOTILLA_DATABASE',
    help: 'SQLite file path or postgres:// URL (default <data-dir>/flotilla.db)',
  },
  {
    key: 'blobStore',
    flag: '--blob-store <store>',
    env: 'FLOTILLA_BLOB_STORE',
    help: 'where artifacts and fault archives live: file (default, the data dir) or s3://bucket[/prefix]?endpoint=…&region=…&forcePathStyle=true; credentials from the AWS environment variables or credential chain',
  },
  {
    key: 'trustedProxies',
    flag: '--trusted-proxies <cidrs>',
    env: 'FLOTILLA_TRUSTED_PROXIES',
    help: 'comma-separated CIDRs whose X-Forwarded-For is believed; set it to the range of any proxy or load balancer in front',
  },
  {
    key: 'geodb',
    flag: '--geodb <path>',
    env: 'FLOTILLA_GEODB',
    help: '"embedded" (default), "off", an .mmdb file (MaxMind City or ip-location-db city), or ipv4.mmdb,ipv6.mmdb',
  },
  {
    key: 'rawRetention',
    flag: '--raw-retention <duration>',
    env: 'FLOTILLA_RAW_RETENTION',
    help: 'how long raw check-in records are kept (default 30d); rollups stay',
  },
  {
    key: 'logRetention',
    flag: '--log-retention <duration>',
    env: 'FLOTILLA_LOG_RETENTION',
    help: 'how long uploaded service log lines are kept (default 14d)',
  },
  {
    key: 'faultRetention',
    flag: '--fault-retention <duration>',
    env: 'FLOTILLA_FAULT_RETENTION',
    help: 'how long fault reports are kept (default 30d)',
  },
  {
    key: 'driftStaleAfter',
    flag: '--drift-stale-after <duration>',
    env: 'FLOTILLA_DRIFT_STALE_AFTER',
    help: 'a drift place (cluster or host) silent this long is shown stale (default 10m)',
  },
  {
    key: 'driftRemoveAfter',
    flag: '--drift-remove-after <duration>',
    env: 'FLOTILLA_DRIFT_REMOVE_AFTER',
    help: 'a drift place silent this long is forgotten (default 7d; at least --drift-stale-after)',
  },
  {
    key: 'meshRetention',
    flag: '--mesh-retention <duration>',
    env: 'FLOTILLA_MESH_RETENTION',
    help: 'how long per-minute mesh summaries (pair round trips and loss) are kept (default 7d)',
  },
  {
    key: 'trashRetention',
    flag: '--trash-retention <duration>',
    env: 'FLOTILLA_TRASH_RETENTION',
    help: 'how long deleted services, profiles, environments and versions stay restorable (default 7d)',
  },
  {
    key: 'buildRetention',
    flag: '--build-retention <duration>',
    env: 'FLOTILLA_BUILD_RETENTION',
    help: 'how long ended builds and their logs are kept (default 30d)',
  },
  {
    key: 'faultMaxCount',
    flag: '--fault-max-count <n>',
    env: 'FLOTILLA_FAULT_MAX_COUNT',
    help: 'fault reports kept per environment and service; the oldest received go first (default 100)',
  },
  {
    key: 'logQuotaBytes',
    flag: '--log-quota-bytes <n>',
    env: 'FLOTILLA_LOG_QUOTA_BYTES',
    help: 'log message bytes each agent instance may upload per minute, beyond that 429 with Retry-After (default 16777216, 0 is off)',
  },
  {
    key: 'logQuotaLines',
    flag: '--log-quota-lines <n>',
    env: 'FLOTILLA_LOG_QUOTA_LINES',
    help: 'log lines each agent instance may upload per minute (default 60000, 0 is off)',
  },
  {
    key: 'faultQuota',
    flag: '--fault-quota <n>',
    env: 'FLOTILLA_FAULT_QUOTA',
    help: 'fault reports each agent instance may upload per hour (default 60, 0 is off)',
  },
  {
    key: 'logFollowMax',
    flag: '--log-follow-max <n>',
    env: 'FLOTILLA_LOG_FOLLOW_MAX',
    help: 'log-follow streams one user or token may hold open at once (default 8)',
  },
  {
    key: 'buildConcurrency',
    flag: '--build-concurrency <n>',
    env: 'FLOTILLA_BUILD_CONCURRENCY',
    help: "queued builds run at once, oldest first (default 0: no builds on this server; build commands run as the server's OS user)",
  },
  {
    key: 'rateLimit',
    flag: '--rate-limit <n>',
    env: 'FLOTILLA_RATE_LIMIT',
    help: 'check-ins per minute per client address (default 600, 0 is off); without --trusted-proxies, per address a peer forwards for',
  },
  {
    key: 'onStoreFailure',
    flag: '--on-store-failure <answer|refuse>',
    env: 'FLOTILLA_ON_STORE_FAILURE',
    help: 'when the store cannot take a check-in: answer it anyway, counted as unstored (default), or refuse it with 503',
  },
  {
    key: 'checkinThreads',
    flag: '--checkin-threads <n>',
    env: 'FLOTILLA_CHECKIN_THREADS',
    help: 'threads that take HTTP connections and parse check-ins while the main thread stores them; 0 serves everything on the main thread (default auto: one per CPU, at most 4, none on one CPU)',
  },
  {
    key: 'logLevel',
    flag: '--log-level <level>',
    env: 'FLOTILLA_LOG_LEVEL',
    help: 'fatal, error, warn, info (default), debug, trace, silent',
  },
  {
    key: 'logFormat',
    flag: '--log-format <format>',
    env: 'FLOTILLA_LOG_FORMAT',
    help: 'pretty (time, level, message, fields), json (one object a line), or auto (default): pretty on a terminal, else json',
  },
  {
    key: 'applicationName',
    flag: '--application-name <name>',
    env: 'FLOTILLA_APPLICATION_NAME',
    help: 'name of the default app',
  },
  {
    key: 'upgradeResponseConfig',
    flag: '--upgrade-response-config <file>',
    env: 'FLOTILLA_UPGRADE_RESPONSE_CONFIG',
    help: 'response config JSON of the default app (reloaded on change)',
  },
  {
    key: 'requestSchema',
    flag: '--request-schema <file>',
    env: 'FLOTILLA_REQUEST_SCHEMA',
    help: 'request schema JSON of the default app',
  },
  {
    key: 'queryPeriod',
    flag: '--query-period <duration>',
    env: 'FLOTILLA_QUERY_PERIOD',
    help: 'counting period and client request interval (default 1h)',
  },
  {
    key: 'responseCasing',
    flag: '--response-casing <casing>',
    env: 'FLOTILLA_RESPONSE_CASING',
    help: 'camel (default) or pascal for upgrade-responder v0.1.x clients',
  },
  {
    key: 'catalogService',
    flag: '--catalog-service <service>',
    env: 'FLOTILLA_CATALOG_SERVICE',
    help: "answer the default app's check-ins from this catalog service instead of a response config",
  },
  {
    key: 'catalogTags',
    flag: '--catalog-tags <tag=env,...>',
    env: 'FLOTILLA_CATALOG_TAGS',
    help: 'with --catalog-service: each tag marks the version desired in that environment (default latest=production)',
  },
  {
    key: 'influxdbUrl',
    flag: '--influxdb-url <url>',
    env: 'FLOTILLA_INFLUXDB_URL',
    help: 'InfluxDB 1.x URL; check-ins are also written there',
  },
  { key: 'influxdbUser', flag: '--influxdb-user <user>', env: 'FLOTILLA_INFLUXDB_USER', help: 'InfluxDB user' },
  { key: 'influxdbPass', flag: '--influxdb-pass <password>', env: 'FLOTILLA_INFLUXDB_PASS', help: 'InfluxDB password' },
  {
    key: 'driftUpstreamTtl',
    flag: '--drift-upstream-ttl <duration>',
    env: 'FLOTILLA_DRIFT_UPSTREAM_TTL',
    help: 'drift: how long an upstream release list is used before it is checked again (default 1h, at least 10s)',
  },
  {
    key: 'driftGithubUrl',
    flag: '--drift-github-url <url>',
    env: 'FLOTILLA_DRIFT_GITHUB_URL',
    help: 'drift: GitHub API base URL (default https://api.github.com; GitHub Enterprise: https://ghe.example.com/api/v3)',
  },
  {
    key: 'driftGithubToken',
    flag: '--drift-github-token <token>',
    env: 'FLOTILLA_DRIFT_GITHUB_TOKEN',
    help: 'drift: GitHub token, lifts the quota from 60 to 5,000 requests an hour (prefer the env var)',
  },
  {
    key: 'driftGitlabUrl',
    flag: '--drift-gitlab-url <url>',
    env: 'FLOTILLA_DRIFT_GITLAB_URL',
    help: 'drift: GitLab base URL (default https://gitlab.com)',
  },
  {
    key: 'driftGitlabToken',
    flag: '--drift-gitlab-token <token>',
    env: 'FLOTILLA_DRIFT_GITLAB_TOKEN',
    help: 'drift: GitLab token (prefer the env var)',
  },
  {
    key: 'driftNpmRegistry',
    flag: '--drift-npm-registry <url>',
    env: 'FLOTILLA_DRIFT_NPM_REGISTRY',
    help: 'drift: npm registry URL (default https://registry.npmjs.org)',
  },
  {
    key: 'driftNpmToken',
    flag: '--drift-npm-token <token>',
    env: 'FLOTILLA_DRIFT_NPM_TOKEN',
    help: 'drift: npm registry token (prefer the env var)',
  },
  {
    key: 'driftEndoflifeUrl',
    flag: '--drift-endoflife-url <url>',
    env: 'FLOTILLA_DRIFT_ENDOFLIFE_URL',
    help: 'drift: endoflife.date base URL (default https://endoflife.date)',
  },
  {
    key: 'driftRegistryCredentials',
    flag: '--drift-registry-credentials <host=user:token,...|@file>',
    env: 'FLOTILLA_DRIFT_REGISTRY_CREDENTIALS',
    help: 'drift: container registry credentials, or @ a JSON file {"host": {"username", "password", "baseUrl"?}} (prefer the env var or a file)',
  },
  {
    key: 'driftUpstreamAllowHost',
    flag: '--drift-upstream-allow-host <hosts>',
    env: 'FLOTILLA_DRIFT_UPSTREAM_ALLOW_HOST',
    help: 'drift: comma-separated hosts (host or host:port) agents may name as Helm repositories or registries over plain HTTP or at private addresses',
  },
  {
    key: 'driftOpvicMetrics',
    flag: '--drift-opvic-metrics [true|false]',
    env: 'FLOTILLA_DRIFT_OPVIC_METRICS',
    help: "drift: also expose Opvic's metric names (opvic_controlplane_*), for existing dashboards",
  },
  {
    key: 'driftMetricsMaxSeries',
    flag: '--drift-metrics-max-series <n>',
    env: 'FLOTILLA_DRIFT_METRICS_MAX_SERIES',
    help: 'drift: per-place metric series at most; more are dropped and counted (default 10000)',
  },
  {
    key: 'providerUrl',
    flag: '--provider-url <url>',
    env: 'FLOTILLA_PROVIDER_URL',
    help: "federation: follow this provider server's versions as a consumer (needs --provider-token)",
  },
  {
    key: 'providerToken',
    flag: '--provider-token <token>',
    env: 'FLOTILLA_PROVIDER_TOKEN',
    help: 'federation: the consumer token (flc_…) the provider issued (prefer the env var)',
  },
  {
    key: 'providerEnvironment',
    flag: '--provider-environment <env>',
    env: 'FLOTILLA_PROVIDER_ENVIRONMENT',
    help: 'federation: make received versions desired in this environment at once, through its tested gate',
  },
  {
    key: 'providerKey',
    flag: '--provider-key <file>',
    env: 'FLOTILLA_PROVIDER_KEY',
    help: "federation: the provider's public signing key (PEM) to pin, instead of trusting the key it offers on first connect",
  },
  {
    key: 'providerReportInterval',
    flag: '--provider-report-interval <duration>',
    env: 'FLOTILLA_PROVIDER_REPORT_INTERVAL',
    help: "federation: how often to report installed versions, instance states and faults of the provider's services to it (default 30s)",
  },
];
