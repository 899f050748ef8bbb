import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { parse } from 'yaml';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { resolveDriftUpstreams } from '../config/drift-upstreams.ts';
import { registerDriftMetrics } from './metrics.ts';
import { putRow, running } from './resolver.test-support.ts';
import { createResolver } from './resolver.ts';
import { FakeUpstream } from './upstreams/fake-upstream.test-support.ts';

const releases = ['v2.0.0', 'v1.9.0', 'v1.8.1', 'v1.8.0', 'v1.7.0'].map((tag) => ({ tag_name: tag }));
const coredns = { provider: 'github', strategy: 'releases', repo: 'coredns/coredns' };

describeEachStore(allStoreKinds)('drift metrics on %s', (kind) => {
  const handle = useMigratedDatabase(kind);
  let fake: FakeUpstream;
  beforeEach(async () => {
    fake = await new FakeUpstream().start();
    fake.answer('/repos/coredns/coredns/releases?per_page=100', {
      headers: { 'x-ratelimit-remaining': '57', 'x-ratelimit-limit': '60' },
      body: JSON.stringify(releases),
    });
  });
  afterEach(() => fake.stop());

  async function setUp(options: { maxSeries: number; opvic: boolean }) {
    const db = handle.current.db;
    const registry = new Registry();
    const metrics = registerDriftMetrics(registry, { db, ...options, cacheMs: 0 });
    const resolver = createResolver({
      db,
      config: { ...resolveDriftUpstreams({}, process.cwd()), github: { baseUrl: fake.origin } },
      onFetch: (provider, result) => metrics.fetches.inc({ provider, result }),
    });
    await putRow(db, { place: 'eu-1', subject: 'coredns', versions: [running('1.7.0')], upstream: coredns });
    await putRow(db, { place: 'eu-2', subject: 'coredns', versions: [running('2.0.0')], upstream: coredns });
    await putRow(db, { place: 'eu-3', subject: 'coredns', versions: [running('v1.9.0')], upstream: coredns });
    await resolver.runOnce();
    await putRow(db, { place: 'eu-4', subject: 'coredns', versions: [running('1.8.0')], upstream: coredns });
    return registry.metrics();
  }

  it('counts places by severity, gauges each place, and reports fetches and quota', async () => {
    const text = await setUp({ maxSeries: 10_000, opvic: false });
    expect(text).toContain('flotilla_drift_places{environment="prod",subject="coredns",behind="major"} 2');
    expect(text).toContain('flotilla_drift_places{environment="prod",subject="coredns",behind="none"} 1');
    expect(text).toContain('flotilla_drift_places{environment="prod",subject="coredns",behind="pending"} 1');
    expect(text).toContain('flotilla_drift_majors_behind{environment="prod",place="eu-1",subject="coredns"} 1');
    expect(text).toContain('flotilla_drift_minors_behind{environment="prod",place="eu-1",subject="coredns"} 2');
    expect(text).toContain(
      'flotilla_drift_version_info{environment="prod",place="eu-1",subject="coredns",running_version="1.7.0",latest_version="v2.0.0"} 1',
    );
    expect(text).toContain('flotilla_drift_upstream_fetches_total{provider="github",result="ok"} 1');
    expect(text).toContain('flotilla_drift_upstream_quota_remaining{provider="github"} 57');
    expect(text).toContain('flotilla_drift_upstreams_failing{provider="github"} 0');
    expect(text).toMatch(/flotilla_drift_upstream_last_fetch_age_seconds\{provider="github"\} \d/);
    expect(text).toContain('flotilla_drift_series_dropped 0');
    expect(text).not.toContain('opvic_');
  });

  it('caps the per-place series and counts what it drops', async () => {
    const text = await setUp({ maxSeries: 2, opvic: false });
    expect(text.match(/^flotilla_drift_majors_behind\{/gm)).toHaveLength(2);
    expect(text).toContain('flotilla_drift_series_dropped 1');
  });

  it("exposes Opvic's metric names when asked", async () => {
    const text = await setUp({ maxSeries: 10_000, opvic: true });
    expect(text).toContain(
      'opvic_controlplane_major_versions_count{version_id="coredns",agent_id="eu-1",running_version="1.7.0",remote_provider="github",remote_repo="coredns/coredns",latest_version="v2.0.0",available_major_versions="v2.0.0"} 1',
    );
    expect(text).toMatch(/opvic_controlplane_version_resource_count\{version_id="coredns",agent_id="eu-1",.*\} 1/);
    expect(text).toMatch(/opvic_controlplane_agent_last_heartbeat\{agent_id="eu-1",tags=""\} \d+/);
    expect(text).toContain('opvic_provider_github_rate_limit_remaining 57');
  });
});

it('the example alert rules name only metrics the server exposes', async () => {
  const file = readFileSync(new URL('../../../../deploy/prometheus/drift-alerts.yaml', import.meta.url), 'utf8');
  const rules = (parse(file) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }).groups.flatMap(
    (g) => g.rules,
  );
  expect(rules.length).toBeGreaterThan(5);
  const registry = new Registry();
  registerDriftMetrics(registry, { db: undefined as never, maxSeries: 1, opvic: false });
  const known = new Set(registry.getMetricsAsArray().map((m) => m.name));
  for (const rule of rules) {
    const names = rule.expr.match(/\b(?:flotilla|opvic)_[a-z_]+/g) ?? [];
    expect(names.length, rule.alert).toBeGreaterThan(0);
    for (const name of names) expect(known, `${rule.alert}: ${name}`).toContain(name);
  }
});
