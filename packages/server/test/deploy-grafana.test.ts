// deploy/grafana/: two dashboards whose every query names only what Flotilla really produces. The
// Prometheus one against a real server's /metrics and /api/v1/drift/metrics (metric names, label names,
// route values); the InfluxDB one against what the sink really writes (measurements, tags, fields,
// captured on a loopback stand-in), and, with FLOTILLA_TEST_INFLUXDB_URL, run on a real InfluxDB.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerDriftMetrics } from '../src/drift/metrics.ts';
import { adminToken, startTestServer, type TestServer, writeTemp } from './support/server.ts';
import { makeTempDir } from './support/temp-dir.ts';

// biome-ignore lint/suspicious/noExplicitAny: walking dashboard JSON
type Json = Record<string, any>;
const dashboard = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../../deploy/grafana/${name}`, import.meta.url), 'utf8')) as Json;
const prometheus = dashboard('flotilla-prometheus.json');
const influx = dashboard('flotilla-influxdb.json');
const panelsOf = (d: Json) => (d.panels as Json[]).filter((p) => p.type !== 'row');
const targetsOf = (d: Json): Json[] =>
  panelsOf(d).flatMap((p) => (p.targets as Json[]).map((t) => ({ panel: p.title, ...t })));

describe.each([
  ['flotilla-prometheus.json', prometheus, 'prometheus'],
  ['flotilla-influxdb.json', influx, 'influxdb'],
])('%s is a Grafana dashboard', (_, d, type) => {
  it('with a recent schema, a data source variable every panel uses, and panels on the grid', () => {
    expect(d.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(d.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(d.title).toBeTruthy();
    expect(d.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource', query: type }),
    );
    const ids = (d.panels as Json[]).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of d.panels as Json[]) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w, p.title).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          expect(cells.has(`${i},${j}`), `${p.title} overlaps`).toBe(false);
          cells.add(`${i},${j}`);
        }
      }
    }
    for (const p of panelsOf(d)) {
      // Grafana's own variable syntax, not a template string.
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana variable reference
      expect(p.datasource, p.title).toEqual({ type, uid: '${datasource}' });
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets) expect(t.datasource, p.title).toEqual(p.datasource);
    }
  });
});

describe('the Prometheus dashboard names only metrics, labels and routes the server exposes', () => {
  let server: TestServer;
  let scraped = '';
  const labels = new Map<string, Set<string>>();

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    // Requests to every route the dashboard filters on, so their series exist.
    for (const t of targetsOf(prometheus)) {
      for (const [, route] of (t.expr as string).matchAll(/route="([^"]+)"/g)) {
        for (const method of ['GET', 'POST']) await fetch(`${server.url}${route}`, { method });
      }
    }
    const auth = { authorization: `Bearer ${adminToken}` };
    for (const path of ['/metrics', '/api/v1/drift/metrics']) {
      const res = await fetch(`${server.url}${path}`, { headers: auth });
      expect(res.status, path).toBe(200);
      scraped += await res.text();
    }
    // Label names from the registries the two endpoints serve.
    const drift = new Registry();
    registerDriftMetrics(drift, { db: undefined as never, maxSeries: 1, opvic: false });
    for (const registry of [server.metrics.registry, drift]) {
      for (const metric of registry.getMetricsAsArray()) {
        labels.set(metric.name, new Set((metric as unknown as { labelNames?: string[] }).labelNames ?? []));
      }
    }
  });
  afterAll(async () => {
    await server?.stop();
  });

  /** Sample names the scrape can hold: each family, and a histogram's or summary's series. */
  const known = () => {
    const names = new Map<string, string>();
    for (const [, name = '', type] of scraped.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      names.set(name, name);
      if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.set(name + s, name);
      if (type === 'summary') for (const s of ['_sum', '_count']) names.set(name + s, name);
    }
    return names;
  };

  it('every metric', () => {
    const names = known();
    expect(names.get('flotilla_http_request_duration_seconds_bucket')).toBe('flotilla_http_request_duration_seconds');
    expect(names.has('flotilla_drift_places')).toBe(true);
    const targets = targetsOf(prometheus);
    expect(targets.length).toBeGreaterThan(25);
    for (const t of targets) {
      const used = (t.expr as string).match(/\bflotilla_[a-z0-9_]+/g) ?? [];
      expect(used.length, t.panel).toBeGreaterThan(0);
      for (const name of used) expect(names.has(name), `${t.panel}: ${name}`).toBe(true);
    }
  });

  it('every label in by (…), in selectors and in legends, and every route value', () => {
    const names = known();
    for (const t of targetsOf(prometheus)) {
      const expr = t.expr as string;
      const families = (expr.match(/\bflotilla_[a-z0-9_]+/g) ?? []).map((n) => names.get(n) as string);
      const allowed = new Set(families.flatMap((f) => [...(labels.get(f) ?? [])]));
      if (/_bucket\b/.test(expr)) allowed.add('le');
      const grouped = [...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => (m[1] ?? '').split(/,\s*/));
      const selected = [...expr.matchAll(/\{([^}]*)\}/g)].flatMap((m) =>
        [...(m[1] ?? '').matchAll(/(\w+)\s*(?:=~|!=|=)/g)].map((l) => l[1] as string),
      );
      for (const label of [...grouped, ...selected]) expect(allowed, `${t.panel}: ${label}`).toContain(label);
      for (const [, label] of (t.legendFormat as string).matchAll(/\{\{(\w+)\}\}/g)) {
        expect(allowed, `${t.panel}: legend ${label}`).toContain(label);
      }
      for (const [, route] of expr.matchAll(/route="([^"]+)"/g)) {
        expect(scraped, `${t.panel}: route ${route}`).toContain(`route="${route}"`);
      }
    }
  });
});

interface Captured {
  db: Set<string>;
  lines: string[];
  statements: string[];
}

/** A stand-in InfluxDB 1.x on loopback that keeps every write and statement. */
async function captureInflux() {
  const captured: Captured = { db: new Set(), lines: [], statements: [] };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/write') {
        captured.db.add(url.searchParams.get('db') ?? '');
        captured.lines.push(...body.split('\n').filter(Boolean));
        res.writeHead(204).end();
        return;
      }
      captured.statements.push(new URLSearchParams(body).get('q') ?? '');
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ results: [{ statement_id: 0 }] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    captured,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** Check-ins from one app through a real server whose sink writes to `influxdbUrl`; closing flushes it. */
async function sendCheckins(influxdbUrl: string, app: string) {
  const dir = makeTempDir('flotilla-grafana-');
  const server = await startTestServer(
    'sqlite',
    {
      applicationName: app,
      requestSchema: writeTemp(dir, 's.json', { extraTagInfoSchema: { kubernetesVersion: { dataType: 'string' } } }),
      influxdbUrl,
      trustedProxies: '127.0.0.1/32',
      geodb: 'embedded',
      rateLimit: '0',
    },
    { dir },
  );
  for (const [version, ip] of [
    ['v1.2.3', '8.8.8.8'],
    ['v1.3.0', '1.1.1.1'],
  ]) {
    const res = await fetch(`${server.url}/v1/checkupgrade`, {
      method: 'POST',
      headers: { 'x-forwarded-for': ip as string },
      body: JSON.stringify({ appVersion: version, extraTagInfo: { kubernetesVersion: 'v1.30.2' } }),
    });
    expect(res.status).toBe(200);
  }
  await server.stop();
}

/** Measurement → its tag and field keys, from line protocol (keys here need no unescaping). */
function schemaOf(captured: Captured): Map<string, { tags: Set<string>; fields: Set<string> }> {
  const schema = new Map<string, { tags: Set<string>; fields: Set<string> }>();
  const entry = (m: string) => {
    if (!schema.has(m)) schema.set(m, { tags: new Set(), fields: new Set() });
    return schema.get(m) as { tags: Set<string>; fields: Set<string> };
  };
  for (const line of captured.lines) {
    const [series = '', fields = ''] = line.split(/(?<!\\) /);
    const [measurement = '', ...tags] = series.split(/(?<!\\),/);
    const e = entry(measurement);
    for (const t of tags) e.tags.add(t.split('=')[0] as string);
    for (const f of fields.split(/(?<!\\),/)) e.fields.add(f.split('=')[0] as string);
  }
  // The continuous queries: SELECT count("value") AS total INTO "into" FROM … GROUP BY time(…), "tag".
  for (const q of captured.statements) {
    const m = /SELECT count\("(\w+)"\) AS (\w+) INTO "(\w+)" FROM "(\w+)" GROUP BY time\([^)]*\)(?:, "(\w+)")?/.exec(q);
    if (!m) continue;
    const e = entry(m[3] as string);
    e.fields.add(m[2] as string);
    if (m[5]) e.tags.add(m[5]);
  }
  return schema;
}

describe('the InfluxDB dashboard names only what the sink writes', () => {
  it('measurements, fields, tags and the database name', async () => {
    const fake = await captureInflux();
    try {
      await sendCheckins(fake.url, 'grafana_test');
    } finally {
      await fake.close();
    }
    expect([...fake.captured.db]).toEqual(['grafana_test_upgrade_responder']);
    expect(influx.description).toContain('<app>_upgrade_responder');
    const schema = schemaOf(fake.captured);
    expect(schema.get('upgrade_request')?.tags).toContain('app_version');
    expect(schema.get('by_app_version_down_sampling')?.fields).toEqual(new Set(['total']));
    const targets = targetsOf(influx);
    expect(targets.length).toBeGreaterThan(6);
    for (const t of targets) {
      const q = t.query as string;
      const from = /FROM "(\w+)"/.exec(q)?.[1] as string;
      const m = schema.get(from);
      expect(m, `${t.panel}: measurement ${from}`).toBeDefined();
      for (const [, field] of q.matchAll(/\w+\("(\w+)"\)/g))
        expect(m?.fields, `${t.panel}: field ${field}`).toContain(field);
      const groupBy = /GROUP BY (.*?)(?: fill\(|$)/.exec(q)?.[1] ?? '';
      const tags = [...groupBy.matchAll(/"(\w+)"/g)].map((g) => g[1] as string);
      for (const tag of tags) expect(m?.tags, `${t.panel}: tag ${tag}`).toContain(tag);
      for (const [, tag] of ((t.alias as string | undefined) ?? '').matchAll(/\$tag_(\w+)/g)) {
        expect(tags, `${t.panel}: alias $tag_${tag}`).toContain(tag);
      }
    }
  });

  const influxUrl = process.env.FLOTILLA_TEST_INFLUXDB_URL;
  it.runIf(influxUrl)('every query runs on a real InfluxDB holding what the server wrote', async () => {
    const app = `grafana_${process.pid}_${Date.now()}`;
    const db = `${app}_upgrade_responder`;
    await sendCheckins(influxUrl as string, app);
    const query = async (q: string) => {
      const res = await fetch(`${influxUrl}/query?${new URLSearchParams({ q, db })}`);
      return (await res.json()) as { error?: string; results: Array<{ error?: string; series?: Json[] }> };
    };
    try {
      for (const t of targetsOf(influx)) {
        const q = (t.query as string).replaceAll('$timeFilter', 'time > now() - 1h').replaceAll('$__interval', '1m');
        const answer = await query(q);
        expect(answer.error, t.panel).toBeUndefined();
        expect(answer.results[0]?.error, `${t.panel}: ${q}`).toBeUndefined();
        // The raw points are there at once; the down-sampled ones only after a query period ends.
        if (q.includes('FROM "upgrade_request"')) expect(answer.results[0]?.series?.length, t.panel).toBeGreaterThan(0);
      }
    } finally {
      await query(`DROP DATABASE "${db}"`);
    }
  });
});
