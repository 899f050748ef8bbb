import { describe, expect, it } from 'vitest';
import { freePort } from './support/ports.ts';
import { startTestServer, writeTemp } from './support/server.ts';
import { makeTempDir } from './support/temp-dir.ts';

const influxUrl = process.env.FLOTILLA_TEST_INFLUXDB_URL;
if (!influxUrl) {
  console.warn(
    'InfluxDB end-to-end tests skipped: set FLOTILLA_TEST_INFLUXDB_URL=http://127.0.0.1:8086 (bash .ci/influxdb.sh starts one)',
  );
}

async function influxQuery(q: string, db?: string): Promise<unknown[][]> {
  const params = new URLSearchParams({ q, ...(db ? { db } : {}) });
  const res = await fetch(`${influxUrl}/query?${params}`);
  const json = (await res.json()) as { results: Array<{ series?: Array<{ columns: string[]; values: unknown[][] }> }> };
  const series = json.results[0]?.series?.[0];
  return series ? [series.columns, ...series.values] : [];
}

describe.skipIf(!influxUrl)('check-ins reach a real InfluxDB the way upgrade-responder writes them', () => {
  it('writes upgrade_request points and creates the continuous queries', async () => {
    const app = `e2e_${process.pid}_${Date.now()}`;
    const dir = makeTempDir('flotilla-influx-');
    const server = await startTestServer(
      'sqlite',
      {
        applicationName: app,
        requestSchema: writeTemp(dir, 's.json', {
          extraTagInfoSchema: { kubernetesVersion: { dataType: 'string' } },
          extraFieldInfoSchema: { nodeCount: { dataType: 'float' } },
        }),
        influxdbUrl: influxUrl,
        trustedProxies: '127.0.0.1/32',
        geodb: 'embedded',
        rateLimit: '0',
      },
      { dir },
    );
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${server.url}/v1/checkupgrade`, {
        method: 'POST',
        headers: { 'x-forwarded-for': '8.8.8.8' },
        body: JSON.stringify({
          appVersion: 'v1.2.3',
          extraTagInfo: { kubernetesVersion: 'v1.30.2' },
          extraFieldInfo: { nodeCount: 3 },
        }),
      });
      expect(res.status).toBe(200);
    }
    // Closing flushes the sink's queue.
    await server.stop();
    const db = `${app}_upgrade_responder`;
    const rows = await influxQuery('SELECT * FROM upgrade_request', db);
    const [columns, ...values] = rows as [string[], ...unknown[][]];
    expect(values).toHaveLength(3);
    const first = Object.fromEntries(columns.map((c, i) => [c, values[0]?.[i]]));
    expect(first).toMatchObject({
      app_version: 'v1.2.3',
      kubernetes_version: 'v1.30.2',
      country_isocode: 'US',
      country: 'United States',
      node_count: 3,
      value: 1,
    });
    const cqs = JSON.stringify(await influxQuery('SHOW CONTINUOUS QUERIES'));
    for (const name of [
      'cq_upgrade_request_down_sampling',
      'cq_by_app_version_down_sampling',
      'cq_by_country_code_down_sampling',
      'cq_by_kubernetes_version_down_sampling',
    ]) {
      expect(cqs).toContain(name);
    }
    await influxQuery(`DROP DATABASE ${db}`);
  });
});

describe('a down InfluxDB never slows check-ins', () => {
  it('answers check-ins at once while every write to InfluxDB fails', async () => {
    // A port that refuses connections.
    const port = await freePort();
    const server = await startTestServer('sqlite', { influxdbUrl: `http://127.0.0.1:${port}`, rateLimit: '0' });
    try {
      const started = performance.now();
      for (let i = 0; i < 50; i++) {
        const res = await fetch(`${server.url}/v1/checkupgrade`, { method: 'POST', body: '{"appVersion":"v1.0.0"}' });
        expect(res.status).toBe(200);
      }
      expect(performance.now() - started).toBeLessThan(5000);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toMatch(/flotilla_checkins_accepted_total\{app="default"\} 50/);
    } finally {
      await server.stop();
    }
  });
});
