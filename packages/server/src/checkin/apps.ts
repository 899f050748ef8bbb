import { existsSync, readFileSync, unwatchFile, watchFile, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppSummary, CheckUpgradeVersion } from '@flotilla/protocol';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/config.ts';
import { formatDuration } from '../config/duration.ts';
import { NotFound } from '../errors.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { makePrivateDir, privateFileMode } from '../private-files.ts';
import { type CompiledSchema, emptySchema, loadRequestSchema } from './request-schema.ts';
import { loadResponseConfig, type PreparedResponse, prepareResponse } from './response-config.ts';

export interface CheckinApp {
  config: AppConfig;
  /** Null for an app answered from the catalog. */
  responseConfigPath: string | null;
  schema: CompiledSchema;
  /** The schema's tag keys, which usage can be grouped by. */
  tagKeys: readonly string[];
  requestIntervalInMinutes: number;
  /** Replaced as a whole on reload, so a request always sees one consistent answer. */
  response: PreparedResponse;
}

export interface AppRegistry {
  get(name: string): CheckinApp;
  getDefault(): CheckinApp;
  list(): CheckinApp[];
  summaries(): AppSummary[];
  /** Rebuilds the answers of catalog-backed apps; each answer is replaced only when it changed. */
  refreshCatalogApps(
    source: (catalog: NonNullable<AppConfig['catalog']>) => Promise<CheckUpgradeVersion[]>,
  ): Promise<void>;
  close(): void;
}

const exampleConfig = {
  versions: [
    {
      name: 'v0.1.0',
      releaseDate: '2026-01-01T00:00:00Z',
      minUpgradableVersion: '',
      tags: ['latest'],
      extraInfo: null,
    },
  ],
};

/**
 * Loads every app's files (failing start-up on a bad one), then watches each response config:
 * a valid new file replaces the answer, an invalid one is logged and the last good answer stays.
 */
export function createAppRegistry(
  configs: AppConfig[],
  deps: { dataDir: string; logger: Logger; metrics: Metrics; pollIntervalMs?: number },
): AppRegistry {
  const apps = new Map<string, CheckinApp>();
  const watched: string[] = [];
  for (const config of configs) {
    const requestIntervalInMinutes = Math.floor(config.queryPeriodMs / 60_000);
    const schema = config.requestSchemaPath ? loadRequestSchema(config.requestSchemaPath) : emptySchema;
    if (config.catalog) {
      // Filled by the first refreshCatalogApps(), which runs before the server listens.
      apps.set(config.name, {
        config,
        responseConfigPath: null,
        schema,
        tagKeys: [...schema.tags.keys()],
        requestIntervalInMinutes,
        response: prepareResponse([], requestIntervalInMinutes, config.responseCasing),
      });
      continue;
    }
    const responseConfigPath = config.responseConfigPath ?? writeExample(deps.dataDir, config.name, deps.logger);
    const app: CheckinApp = {
      config,
      responseConfigPath,
      schema,
      tagKeys: [...schema.tags.keys()],
      requestIntervalInMinutes,
      response: prepareResponse(
        loadResponseConfig(responseConfigPath),
        requestIntervalInMinutes,
        config.responseCasing,
      ),
    };
    apps.set(config.name, app);
    let lastText = readFileSync(responseConfigPath, 'utf8');
    watchFile(responseConfigPath, { interval: deps.pollIntervalMs ?? 1000, persistent: false }, (curr) => {
      if (curr.mtimeMs === 0) return; // removed for a moment, as editors and ConfigMap swaps do
      let text: string;
      try {
        text = readFileSync(responseConfigPath, 'utf8');
      } catch {
        return;
      }
      if (text === lastText) return;
      lastText = text;
      try {
        const versions = loadResponseConfig(responseConfigPath);
        app.response = prepareResponse(versions, requestIntervalInMinutes, config.responseCasing);
        deps.metrics.configReloads.inc({ app: config.name, result: 'ok' });
        deps.logger.info({ app: config.name, versions: versions.length }, 'response config reloaded');
      } catch (err) {
        deps.metrics.configReloads.inc({ app: config.name, result: 'rejected' });
        deps.logger.error(
          { app: config.name, err: (err as Error).message },
          'new response config rejected; still serving the previous one',
        );
      }
    });
    watched.push(responseConfigPath);
  }
  const defaultApp = [...apps.values()].find((a) => a.config.isDefault) ?? [...apps.values()][0];
  return {
    get(name) {
      const app = apps.get(name);
      if (!app) throw new NotFound(`no app named "${name}"`);
      return app;
    },
    getDefault() {
      if (!defaultApp) throw new NotFound('no app is configured');
      return defaultApp;
    },
    list: () => [...apps.values()],
    summaries: () =>
      [...apps.values()].map((app) => ({
        name: app.config.name,
        default: app === defaultApp,
        queryPeriod: formatDuration(app.config.queryPeriodMs),
        requestIntervalInMinutes: app.requestIntervalInMinutes,
        responseCasing: app.config.responseCasing,
        responseConfig: app.responseConfigPath,
        requestSchema: app.config.requestSchemaPath,
        versions: app.response.versions.map((v) => v.name),
        tagKeys: [...app.tagKeys],
        catalog: app.config.catalog,
      })),
    async refreshCatalogApps(source) {
      for (const app of apps.values()) {
        if (!app.config.catalog) continue;
        const next = prepareResponse(
          await source(app.config.catalog),
          app.requestIntervalInMinutes,
          app.config.responseCasing,
        );
        if (next.body !== app.response.body) app.response = next;
      }
    },
    close() {
      for (const path of watched) unwatchFile(path);
    },
  };
}

function writeExample(dataDir: string, app: string, logger: Logger): string {
  const dir = join(dataDir, 'apps', app);
  const path = join(dir, 'response-config.json');
  if (!existsSync(path)) {
    makePrivateDir(dir);
    writeFileSync(path, `${JSON.stringify(exampleConfig, null, 2)}\n`, { mode: privateFileMode });
    logger.info({ app, path }, 'wrote an example response config; edit it and the server reloads it');
  }
  return path;
}
