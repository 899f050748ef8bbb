import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import { resolveServerConfig } from './config.ts';
import { resolveDriftUpstreams } from './drift-upstreams.ts';

describe('drift upstream options', () => {
  it('has public defaults: 1 h TTL, no credentials, no allowed private hosts', () => {
    const config = resolveDriftUpstreams({}, process.cwd());
    expect(config).toMatchObject({ ttlMs: 3_600_000, allowHosts: [], opvicMetrics: false, maxSeries: 10_000 });
    expect(config.github).toEqual({});
    expect(config.registries).toEqual({});
    expect(resolveDriftUpstreams({ driftOpvicMetrics: 'false' }, process.cwd()).opvicMetrics).toBe(false);
  });

  it('reads flags and env vars through the server configuration', () => {
    const config = resolveServerConfig(
      { driftUpstreamTtl: '15m', driftGithubUrl: 'https://ghe.example.com/api/v3/', driftOpvicMetrics: true as never },
      {
        FLOTILLA_DRIFT_GITHUB_TOKEN: 'ghp_secret',
        FLOTILLA_DRIFT_UPSTREAM_ALLOW_HOST: 'charts.internal, 127.0.0.1:5000',
        FLOTILLA_DRIFT_REGISTRY_CREDENTIALS: 'ghcr.io=bot:tok:en,registry.internal:5000=u:p',
      },
    );
    expect(config.driftUpstreams).toMatchObject({
      ttlMs: 900_000,
      github: { baseUrl: 'https://ghe.example.com/api/v3', token: 'ghp_secret' },
      allowHosts: ['charts.internal', '127.0.0.1:5000'],
      opvicMetrics: true,
      registries: {
        'ghcr.io': { username: 'bot', password: 'tok:en' },
        'registry.internal:5000': { username: 'u', password: 'p' },
      },
    });
  });

  it('reads registry credentials from a JSON file', () => {
    const dir = makeTempDir('drift-creds-');
    try {
      writeFileSync(join(dir, 'creds.json'), JSON.stringify({ 'Quay.io': { username: 'u', password: 'p' } }));
      expect(resolveDriftUpstreams({ driftRegistryCredentials: '@creds.json' }, dir).registries).toEqual({
        'quay.io': { username: 'u', password: 'p' },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad values without repeating secrets', () => {
    const bad = (o: Parameters<typeof resolveDriftUpstreams>[0]) => () => resolveDriftUpstreams(o, process.cwd());
    expect(bad({ driftUpstreamTtl: '5s' })).toThrow(/--drift-upstream-ttl: at least 10s/);
    expect(bad({ driftUpstreamTtl: 'soon' })).toThrow(/--drift-upstream-ttl/);
    expect(bad({ driftGithubUrl: 'ftp://x' })).toThrow(/--drift-github-url/);
    expect(bad({ driftNpmRegistry: 'https://u:hunter2@npm.example' })).toThrow(/not the URL/);
    expect(bad({ driftUpstreamAllowHost: 'http://x' })).toThrow(/allow-host/);
    expect(bad({ driftMetricsMaxSeries: 'many' })).toThrow(/max-series/);
    let message = '';
    try {
      resolveDriftUpstreams({ driftRegistryCredentials: 'hunter2-token-only' }, process.cwd());
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/host=user:token/);
    expect(message).not.toContain('hunter2');
  });
});
