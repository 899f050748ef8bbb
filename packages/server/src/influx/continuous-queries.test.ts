import { describe, expect, it } from 'vitest';
import { continuousQueries, describeCqChange, formatInfluxDuration, parseCqShape } from './continuous-queries.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

describe('formatInfluxDuration', () => {
  it.each([
    [HOUR, '1h'],
    [30 * MIN, '30m'],
    [2 * HOUR, '2h'],
    [90 * MIN, '90m'],
    [24 * HOUR, '1d'],
    [36 * HOUR, '36h'],
    [7 * 24 * HOUR, '1w'],
    [45_000, '45s'],
    [1500, '1500ms'],
  ])('%d ms → %s', (ms, expected) => {
    expect(formatInfluxDuration(ms)).toBe(expected);
  });

  it.each([0, -HOUR, 1.5, Number.NaN])('rejects %d', (ms) => {
    expect(() => formatInfluxDuration(ms)).toThrow(/invalid query period/);
  });
});

describe('continuousQueries', () => {
  it("creates upgrade-responder's three queries, then one per tag key", () => {
    const qs = continuousQueries('app_upgrade_responder', HOUR, ['kubernetesVersion', 'cni-plugin']);
    expect(qs.map((q) => q.name)).toEqual([
      'cq_upgrade_request_down_sampling',
      'cq_by_app_version_down_sampling',
      'cq_by_country_code_down_sampling',
      'cq_by_kubernetes_version_down_sampling',
      'cq_by_cni_plugin_down_sampling',
    ]);
    expect(qs[0]?.statement).toBe(
      'CREATE CONTINUOUS QUERY "cq_upgrade_request_down_sampling" ON "app_upgrade_responder" BEGIN SELECT ' +
        'count("value") AS total INTO "upgrade_request_down_sampling" FROM "upgrade_request" GROUP BY time(1h) END',
    );
    expect(qs[3]?.statement).toContain(
      'INTO "by_kubernetes_version_down_sampling" FROM "upgrade_request" GROUP BY time(1h), "kubernetes_version" END',
    );
  });

  it('skips tag keys whose query names are taken or invalid', () => {
    const names = continuousQueries('db', HOUR, ['appVersion', 'countryCode', 'time', 'a', 'a']).map((q) => q.name);
    expect(names).toEqual([
      'cq_upgrade_request_down_sampling',
      'cq_by_app_version_down_sampling',
      'cq_by_country_code_down_sampling',
      'cq_by_a_down_sampling',
    ]);
  });
});

describe('parseCqShape', () => {
  // The form SHOW CONTINUOUS QUERIES prints in InfluxDB 1.6.
  const stored =
    'CREATE CONTINUOUS QUERY cq_by_app_version_down_sampling ON x_upgrade_responder BEGIN SELECT count(value) ' +
    'AS total INTO x_upgrade_responder.autogen.by_app_version_down_sampling FROM ' +
    'x_upgrade_responder.autogen.upgrade_request GROUP BY time(90m), app_version END';

  it('matches what we would create', () => {
    const [, wanted] = continuousQueries('x_upgrade_responder', 90 * MIN, []);
    expect(parseCqShape(stored)).toEqual(wanted?.shape);
  });

  it('unquotes identifiers that InfluxDB quotes (keywords, dots)', () => {
    const shape = parseCqShape(
      'CREATE CONTINUOUS QUERY cq_by_key_down_sampling ON d BEGIN SELECT count(value) AS total INTO ' +
        'd.autogen.by_key_down_sampling FROM d.autogen.upgrade_request GROUP BY time(2h), "key" END',
    );
    expect(shape?.groupBy).toBe('time(2h), key');
    expect(shape?.into).toBe('by_key_down_sampling');
  });

  it('describes a changed period', () => {
    const [, wanted] = continuousQueries('x_upgrade_responder', 2 * HOUR, []);
    if (!wanted) throw new Error('no query');
    expect(describeCqChange(parseCqShape(stored), wanted.shape, stored)).toEqual([
      'GROUP BY time(90m), app_version → time(2h), app_version',
    ]);
    expect(describeCqChange(undefined, wanted.shape, 'garbage')).toEqual(['unrecognised definition: garbage']);
  });
});
