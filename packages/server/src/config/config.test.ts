import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import { ConfigError } from '../errors.ts';
import { resolveServerConfig } from './config.ts';
import { formatDuration, parseDuration } from './duration.ts';

const dir = makeTempDir('flotilla-config-');
function yamlFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('resolveServerConfig', () => {
  it('takes a check-in thread count, "auto" (one per CPU, at most 4, none on one CPU), and refuses others', () => {
    const cpus = availableParallelism();
    const auto = cpus < 2 ? 0 : Math.min(4, cpus);
    expect(resolveServerConfig({}, {}, '/srv').checkinThreads).toBe(auto);
    expect(resolveServerConfig({ checkinThreads: 'auto' }, {}, '/srv').checkinThreads).toBe(auto);
    expect(resolveServerConfig({}, { FLOTILLA_CHECKIN_THREADS: '3' }, '/srv').checkinThreads).toBe(3);
    expect(resolveServerConfig({ checkinThreads: '0' }, {}, '/srv').checkinThreads).toBe(0);
    expect(() => resolveServerConfig({ checkinThreads: 'many' }, {}, '/srv')).toThrow(
      'checkin-threads: "many" is not a whole number',
    );
  });

  it('answers check-ins the store cannot take unless told to refuse them, from a flag, env var or file', () => {
    expect(resolveServerConfig({}, {}, '/srv').onStoreFailure).toBe('answer');
    expect(resolveServerConfig({ onStoreFailure: 'refuse' }, {}, '/srv').onStoreFailure).toBe('refuse');
    expect(resolveServerConfig({}, { FLOTILLA_ON_STORE_FAILURE: 'refuse' }, '/srv').onStoreFailure).toBe('refuse');
    const file = yamlFile('refuse.yaml', 'onStoreFailure: refuse\n');
    expect(resolveServerConfig({ config: file }, {}, dir).onStoreFailure).toBe('refuse');
    expect(() => resolveServerConfig({ onStoreFailure: 'retry' }, {}, '/srv')).toThrow(
      'on-store-failure: "retry" is not answer or refuse',
    );
  });

  it('runs no builds unless told how many at once (a build runs commands as the server user), at most 64', () => {
    expect(resolveServerConfig({}, {}).buildConcurrency).toBe(0);
    expect(resolveServerConfig({}, { FLOTILLA_BUILD_CONCURRENCY: '2' }).buildConcurrency).toBe(2);
    expect(resolveServerConfig({ buildConcurrency: '500' }, {}).buildConcurrency).toBe(64);
    expect(() => resolveServerConfig({ buildConcurrency: '-1' }, {})).toThrow(ConfigError);
  });

  it('has working defaults: one default app, SQLite in ./flotilla-data, port 8314', () => {
    const config = resolveServerConfig({}, {}, '/srv');
    expect(config.port).toBe(8314);
    expect(config.dataDir).toBe('/srv/flotilla-data');
    expect(config.database).toBe('/srv/flotilla-data/flotilla.db');
    expect(config.geodb).toBe('embedded');
    expect(config.rawRetentionMs).toBe(30 * 86_400_000);
    expect(config.apps).toEqual([
      {
        name: 'default',
        isDefault: true,
        responseConfigPath: null,
        requestSchemaPath: null,
        queryPeriodMs: 3_600_000,
        responseCasing: 'camel',
        catalog: null,
      },
    ]);
  });

  it('takes flags over env vars over the file', () => {
    const file = yamlFile('a.yaml', 'port: 9000\nhost: 127.0.0.2\nrateLimit: 5\n');
    const config = resolveServerConfig(
      { config: file, port: '9100' },
      { FLOTILLA_PORT: '9200', FLOTILLA_HOST: '127.0.0.3' },
      dir,
    );
    expect(config.port).toBe(9100);
    expect(config.host).toBe('127.0.0.3');
    expect(config.rateLimitPerMinute).toBe(5);
  });

  it('reads several apps from the file, paths relative to the file', () => {
    const file = yamlFile(
      'apps.yaml',
      'apps:\n  - name: longhorn\n    upgradeResponseConfig: lh.json\n    queryPeriod: 2h\n  - name: harvester\n    default: true\n    responseCasing: pascal\n',
    );
    const config = resolveServerConfig({ config: file }, {}, '/elsewhere');
    expect(config.apps.map((a) => [a.name, a.isDefault, a.queryPeriodMs, a.responseCasing])).toEqual([
      ['longhorn', false, 7_200_000, 'camel'],
      ['harvester', true, 3_600_000, 'pascal'],
    ]);
    expect(config.apps[0]?.responseConfigPath).toBe(join(dir, 'lh.json'));
  });

  it('lets the upgrade-responder flags define the default app', () => {
    const config = resolveServerConfig(
      { applicationName: 'awesome_app', upgradeResponseConfig: 'r.json', queryPeriod: '30m', responseCasing: 'pascal' },
      {},
      '/etc/ur',
    );
    expect(config.apps).toEqual([
      {
        name: 'awesome_app',
        isDefault: true,
        responseConfigPath: '/etc/ur/r.json',
        requestSchemaPath: null,
        queryPeriodMs: 1_800_000,
        responseCasing: 'pascal',
        catalog: null,
      },
    ]);
  });

  it('answers an app from the catalog, with tags from flags or the file', () => {
    expect(resolveServerConfig({ catalogService: 'web' }, {}).apps[0]?.catalog).toEqual({
      service: 'web',
      tags: { latest: 'production' },
    });
    expect(
      resolveServerConfig({ catalogService: 'web', catalogTags: 'latest=prod, beta=test' }, {}).apps[0]?.catalog,
    ).toEqual({
      service: 'web',
      tags: { latest: 'prod', beta: 'test' },
    });
    expect(() => resolveServerConfig({ catalogService: 'web', catalogTags: 'latest' }, {})).toThrow(
      '--catalog-tags: "latest" is not tag=environment',
    );
    const file = yamlFile(
      'both.yaml',
      'apps:\n  - name: x\n    upgradeResponseConfig: r.json\n    catalog: { service: web }\n',
    );
    expect(() => resolveServerConfig({ config: file }, {}, dir)).toThrow(
      'both.yaml: apps[0].catalog: an app answers from the catalog or from a response config, not both',
    );
  });

  it('takes the admin token only from the environment', () => {
    expect(resolveServerConfig({}, { FLOTILLA_ADMIN_TOKEN: 'secret' }).adminToken).toBe('secret');
  });

  it.each([
    ['unknown.yaml', 'prot: 80\n', 'unknown.yaml: (top level)'],
    ['badtype.yaml', 'port: eighty\n', 'badtype.yaml: port:'],
    [
      'badapp.yaml',
      'apps:\n  - name: x\n    queryPeriod: soon\n',
      'badapp.yaml: apps[0].queryPeriod: "soon" is not a duration',
    ],
    ['badkey.yaml', 'apps:\n  - name: x\n    colour: red\n', 'badkey.yaml: apps[0]'],
    [
      'short.yaml',
      'apps:\n  - name: x\n    queryPeriod: 30s\n',
      'short.yaml: apps[0].queryPeriod: must be a whole number of minutes',
    ],
    ['dup.yaml', 'apps:\n  - name: x\n  - name: x\n', 'dup.yaml: apps: the name "x" is used twice'],
    ['yaml.yaml', 'port: [1\n', 'yaml.yaml: not valid YAML'],
    ['proxy.yaml', 'trustedProxies: [nonsense]\n', 'proxy.yaml: trustedProxies: "nonsense" is not an IP address'],
  ])('refuses %s naming the file and the field', (name, text, message) => {
    const file = yamlFile(name, text);
    expect(() => resolveServerConfig({ config: file }, {}, dir)).toThrow(ConfigError);
    expect(() => resolveServerConfig({ config: file }, {}, dir)).toThrow(message);
  });

  it('refuses a missing config file and bad flag values', () => {
    expect(() => resolveServerConfig({ config: join(dir, 'nope.yaml') }, {})).toThrow(
      /nope\.yaml: cannot be read \(ENOENT\)/,
    );
    expect(() => resolveServerConfig({ port: '99999' }, {})).toThrow('port: "99999" is not a port number');
    expect(() => resolveServerConfig({ logLevel: 'loud' }, {})).toThrow('log-level');
    expect(() => resolveServerConfig({ responseCasing: 'snake' }, {})).toThrow(
      '--response-casing: "snake" must be camel or pascal',
    );
    expect(() => resolveServerConfig({ influxdbUrl: 'ftp://x' }, {})).toThrow('influxdb.url');
  });
});

describe('durations', () => {
  it.each([
    ['1h', 3_600_000],
    ['90m', 5_400_000],
    ['1h30m', 5_400_000],
    ['30d', 2_592_000_000],
    ['500ms', 500],
  ])('parses %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
  it('refuses garbage and formats like InfluxQL', () => {
    expect(() => parseDuration('1x')).toThrow('not a duration');
    expect(() => parseDuration('')).toThrow('not a duration');
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(3_600_000)).toBe('1h');
    expect(formatDuration(60_000)).toBe('1m');
  });
});
