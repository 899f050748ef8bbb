import { Registry } from 'prom-client';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createMetrics } from '../metrics/metrics.ts';
import { createInfluxClient, type InfluxSeries } from './influx-client.ts';
import { checkin, closedPort, memoryLogger, sinkCounts, startProxy } from './sink.test.helper.ts';
import { createInfluxSink, type InfluxSink, type InfluxSinkOptions } from './sink.ts';

const url = process.env.FLOTILLA_TEST_INFLUXDB_URL;
if (!url) {
  console.warn(
    'InfluxDB tests skipped: set FLOTILLA_TEST_INFLUXDB_URL=http://127.0.0.1:8086 (bash .ci/influxdb.sh starts one)',
  );
}

const HOUR = 3600_000;
// Unique per run, so that runs (and parallel runs) never share databases.
const run = `t${Date.now().toString(36)}${process.pid}`;
const client = createInfluxClient({ url: url ?? 'http://127.0.0.1:8086' });
const apps: string[] = [];
const sinks: InfluxSink[] = [];

function appName(what: string): string {
  const name = `${run}_${what}`;
  apps.push(name);
  return name;
}

function sink(options: Partial<InfluxSinkOptions> = {}) {
  const metrics = createMetrics(new Registry());
  const logger = memoryLogger();
  const s = createInfluxSink({ url: url ?? '', logger, metrics, flushIntervalMs: 60_000, ...options });
  sinks.push(s);
  return { sink: s, metrics, logger };
}

async function cqs(db: string): Promise<Map<string, string>> {
  const [result] = await client.query('SHOW CONTINUOUS QUERIES');
  const series = result?.series?.find((s) => s.name === db);
  return new Map((series?.values ?? []).map((row) => [String(row[0]), String(row[1])]));
}

async function select(db: string, q: string): Promise<InfluxSeries | undefined> {
  const [result] = await client.query(q, db);
  return result?.series?.[0];
}

function rows(series: InfluxSeries | undefined): Record<string, unknown>[] {
  return (series?.values ?? []).map((v) => Object.fromEntries(series?.columns.map((c, i) => [c, v[i]]) ?? []));
}

afterAll(async () => {
  await Promise.all(sinks.map((s) => s.close(1000)));
  if (!url) return;
  for (const app of apps) await client.query(`DROP DATABASE "${app}_upgrade_responder"`);
});

describe.skipIf(!url)('InfluxDB sink against a real InfluxDB', () => {
  it('creates the database and the same continuous queries as upgrade-responder', async () => {
    const app = appName('reg');
    const db = `${app}_upgrade_responder`;
    await sink().sink.registerApp({ name: app, queryPeriodMs: HOUR, tagKeys: ['kubernetesVersion', 'cni-plugin'] });

    const [dbs] = await client.query('SHOW DATABASES');
    expect(dbs?.series?.[0]?.values?.flat()).toContain(db);
    const stored = await cqs(db);
    const from = `FROM ${db}.autogen.upgrade_request`;
    expect(Object.fromEntries(stored)).toEqual({
      cq_upgrade_request_down_sampling: `CREATE CONTINUOUS QUERY cq_upgrade_request_down_sampling ON ${db} BEGIN SELECT count(value) AS total INTO ${db}.autogen.upgrade_request_down_sampling ${from} GROUP BY time(1h) END`,
      cq_by_app_version_down_sampling: `CREATE CONTINUOUS QUERY cq_by_app_version_down_sampling ON ${db} BEGIN SELECT count(value) AS total INTO ${db}.autogen.by_app_version_down_sampling ${from} GROUP BY time(1h), app_version END`,
      cq_by_country_code_down_sampling: `CREATE CONTINUOUS QUERY cq_by_country_code_down_sampling ON ${db} BEGIN SELECT count(value) AS total INTO ${db}.autogen.by_country_code_down_sampling ${from} GROUP BY time(1h), country_isocode END`,
      cq_by_kubernetes_version_down_sampling: `CREATE CONTINUOUS QUERY cq_by_kubernetes_version_down_sampling ON ${db} BEGIN SELECT count(value) AS total INTO ${db}.autogen.by_kubernetes_version_down_sampling ${from} GROUP BY time(1h), kubernetes_version END`,
      cq_by_cni_plugin_down_sampling: `CREATE CONTINUOUS QUERY cq_by_cni_plugin_down_sampling ON ${db} BEGIN SELECT count(value) AS total INTO ${db}.autogen.by_cni_plugin_down_sampling ${from} GROUP BY time(1h), cni_plugin END`,
    });

    // upgrade-responder's own statements, verbatim, store the same definitions.
    const ref = appName('ref');
    const refDb = `${ref}_upgrade_responder`;
    await client.query(`CREATE DATABASE ${refDb}`);
    await client.query(
      `CREATE CONTINUOUS QUERY cq_by_app_version_down_sampling ON ${refDb} BEGIN SELECT count(value) as total INTO by_app_version_down_sampling FROM upgrade_request GROUP BY time(1h),app_version END`,
    );
    expect((await cqs(refDb)).get('cq_by_app_version_down_sampling')?.replaceAll(refDb, db)).toBe(
      stored.get('cq_by_app_version_down_sampling'),
    );
  });

  it('replaces continuous queries whose period changed, and says so', async () => {
    const app = appName('period');
    const db = `${app}_upgrade_responder`;
    const { sink: s, logger } = sink();
    await s.registerApp({ name: app, queryPeriodMs: HOUR, tagKeys: ['nodeCount'] });
    await s.registerApp({ name: app, queryPeriodMs: HOUR, tagKeys: ['nodeCount'] });
    expect(logger.messages('warn')).toEqual([]);

    await s.registerApp({ name: app, queryPeriodMs: 90 * 60_000, tagKeys: ['nodeCount'] });
    const stored = await cqs(db);
    expect(stored.size).toBe(4);
    for (const query of stored.values()) expect(query).toMatch(/GROUP BY time\(90m\)/);
    expect(stored.get('cq_by_node_count_down_sampling')).toContain('GROUP BY time(90m), node_count END');
    const warnings = logger.messages('warn');
    expect(warnings).toHaveLength(4);
    expect(warnings).toContain(
      `InfluxDB continuous query cq_by_app_version_down_sampling on ${db} changed (GROUP BY time(1h), app_version → time(90m), app_version); replacing it`,
    );

    await s.registerApp({ name: app, queryPeriodMs: 2 * HOUR, tagKeys: ['nodeCount'] });
    expect((await cqs(db)).get('cq_upgrade_request_down_sampling')).toContain('GROUP BY time(2h) END');
  });

  it('quotes tag keys that are InfluxQL keywords or not plain identifiers', async () => {
    const app = appName('quote');
    const db = `${app}_upgrade_responder`;
    const { sink: s, logger } = sink();
    const tagKeys = ['key', 'k8s.version', 'Name', 'with space'];
    await s.registerApp({ name: app, queryPeriodMs: 30 * 60_000, tagKeys });
    await s.registerApp({ name: app, queryPeriodMs: 30 * 60_000, tagKeys });
    expect(logger.messages('warn')).toEqual([]);
    const stored = await cqs(db);
    expect(stored.get('cq_by_key_down_sampling')).toContain('GROUP BY time(30m), "key" END');
    expect(stored.get('cq_by_k8s.version_down_sampling')).toContain(
      `INTO ${db}.autogen."by_k8s.version_down_sampling" FROM ${db}.autogen.upgrade_request GROUP BY time(30m), "k8s.version" END`,
    );
    expect(stored.get('cq_by_with space_down_sampling')).toContain('GROUP BY time(30m), "with space" END');
    expect(stored.size).toBe(7);
  });

  it('writes points that read back with the right tags, fields and types', async () => {
    const app = appName('write');
    const db = `${app}_upgrade_responder`;
    const { sink: s, metrics } = sink();
    await s.registerApp({ name: app, queryPeriodMs: HOUR, tagKeys: ['kubernetesVersion'] });
    const time = Date.now();
    s.enqueue(
      checkin({
        app,
        time,
        city: '',
        tags: { kubernetesVersion: 'v1.28.1', 'cni-plugin': 'a,b=c d\\e', trailing: 'x\\' },
        fields: { nodeCount: 3, enabled: true, note: 'say "hi"\\\nbye', ratio: 0.25, value: 7 },
      }),
    );
    s.enqueue(checkin({ app, time, appVersion: 'v1.0.1', country: 'Côte d’Ivoire', countryIsoCode: 'CI' }));
    await s.flush();
    expect(await sinkCounts(metrics)).toMatchObject({ written: 2, writeErrors: 0, depth: 0 });

    const points = rows(await select(db, 'SELECT * FROM upgrade_request ORDER BY time'));
    // Same millisecond, different series: both kept; the second is 1 ns later.
    expect(points.map((p) => Date.parse(String(p.time)))).toEqual([time, time]);
    expect(String(points[1]?.time)).toMatch(/\.\d{8}1Z$/);
    expect(points).toEqual([
      {
        time: expect.any(String),
        app_version: 'v1.0.0',
        city: null,
        cni_plugin: 'a,b=c d\\e',
        country: 'United States',
        country_isocode: 'US',
        enabled: true,
        kubernetes_version: 'v1.28.1',
        node_count: 3,
        note: 'say "hi"\\\nbye',
        ratio: 0.25,
        trailing: 'x',
        value: 1,
      },
      expect.objectContaining({ app_version: 'v1.0.1', city: 'Boston', country: 'Côte d’Ivoire', value: 1 }),
    ]);

    const types = rows(await select(db, 'SHOW FIELD KEYS FROM upgrade_request'));
    expect(Object.fromEntries(types.map((r) => [r.fieldKey, r.fieldType]))).toEqual({
      enabled: 'boolean',
      node_count: 'float',
      note: 'string',
      ratio: 'float',
      value: 'integer',
    });
  });

  it('writes what is still queued when closing', async () => {
    const app = appName('close');
    const { sink: s, metrics } = sink({ batchSize: 10 });
    await s.registerApp({ name: app, queryPeriodMs: HOUR, tagKeys: [] });
    const time = Date.now();
    // Identical check-ins in one millisecond must all count.
    for (let i = 0; i < 35; i++) s.enqueue(checkin({ app, time }));
    await s.close();
    expect(await sinkCounts(metrics)).toMatchObject({ written: 35, writeFailed: 0, depth: 0 });
    const count = rows(await select(`${app}_upgrade_responder`, 'SELECT count(value) FROM upgrade_request'));
    expect(count[0]?.count).toBe(35);
  });

  it('sets up in the background when InfluxDB comes up late, holding points meanwhile', async () => {
    const app = appName('late');
    const port = await closedPort();
    const {
      sink: s,
      metrics,
      logger,
    } = sink({ url: `http://127.0.0.1:${port}`, retryBaseMs: 50, flushIntervalMs: 20 });
    await s.registerApp({ name: app, queryPeriodMs: HOUR, tagKeys: ['kubernetesVersion'] });
    expect(logger.messages('warn')[0]).toMatch(/InfluxDB unavailable, cannot set up .* retrying in the background/);
    for (let i = 0; i < 5; i++) s.enqueue(checkin({ app }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await sinkCounts(metrics)).toMatchObject({ depth: 5, writeErrors: 0, writeFailed: 0 });

    const proxy = await startProxy(port, new URL(url ?? ''));
    try {
      await vi.waitFor(async () => expect((await sinkCounts(metrics)).written).toBe(5), { timeout: 5000 });
      expect((await cqs(`${app}_upgrade_responder`)).size).toBe(4);
      await s.close();
    } finally {
      await proxy.close();
    }
  });

  it('creates a dropped database again and keeps the points', async () => {
    const app = appName('dropped');
    const db = `${app}_upgrade_responder`;
    const { sink: s, metrics, logger } = sink();
    await s.registerApp({ name: app, queryPeriodMs: HOUR, tagKeys: [] });
    await client.query(`DROP DATABASE "${db}"`);
    s.enqueue(checkin({ app }));
    await s.flush();
    await vi.waitFor(async () => expect((await sinkCounts(metrics)).written).toBe(1));
    expect(logger.messages('warn')).toContain(`InfluxDB: database ${db} is missing; creating it again`);
    expect(await sinkCounts(metrics)).toMatchObject({ writeErrors: 1, writeFailed: 0 });
    expect((await cqs(db)).size).toBe(3);
  });

  it('counts the points InfluxDB refuses in a partial write', async () => {
    const app = appName('partial');
    const { sink: s, metrics, logger } = sink();
    await s.registerApp({ name: app, queryPeriodMs: HOUR, tagKeys: [] });
    s.enqueue(checkin({ app, fields: { nodeCount: 1 } }));
    await s.flush();
    // A field first written as a float cannot take a string later ("field type conflict").
    s.enqueue(checkin({ app, fields: { nodeCount: 'two' } }));
    s.enqueue(checkin({ app, fields: { nodeCount: 3 } }));
    await s.flush();
    expect(await sinkCounts(metrics)).toMatchObject({ written: 2, writeFailed: 1, writeErrors: 1 });
    expect(logger.messages('error')[0]).toMatch(/dropped 1 points: .*field type conflict/);
  });

  it('writes to a database it did not set up, and drops at once if it does not exist', async () => {
    const { sink: s, metrics, logger } = sink();
    s.enqueue(checkin({ app: appName('unknown') }));
    await s.flush();
    expect(await sinkCounts(metrics)).toMatchObject({ written: 0, writeFailed: 1, writeErrors: 1 });
    expect(logger.messages('error')[0]).toMatch(/HTTP 404: database not found/);
  });
});
