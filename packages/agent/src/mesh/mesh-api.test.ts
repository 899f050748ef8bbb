import { afterEach, describe, expect, it } from 'vitest';
import type { PairSummary } from './contracts.ts';
import { type ApiSample, MAX_SAMPLES, type MeshApi, startMeshApi } from './mesh-api.ts';
import { createMeshMetrics } from './mesh-metrics.ts';
import { apiSamples } from './node-samples.ts';

const minute = Date.UTC(2026, 0, 1, 12, 0);
const summary = (to: string, phase: PairSummary['phase'], p50: number | undefined, at = minute): PairSummary => ({
  from: 'eagle',
  to,
  phase,
  minute: at,
  count: 10,
  failed: p50 === undefined ? 10 : 0,
  ...(p50 === undefined ? {} : { min: p50, p50, p99: p50 * 2, max: p50 * 2 }),
});

describe('apiSamples', () => {
  it('serves the latest minute per pair and phase in canary-bot units, with rtt_total and rtt_request', () => {
    const samples = apiSamples([
      summary('duck', 'connect', 0.0003, minute - 60_000),
      summary('duck', 'connect', 0.0001),
      summary('duck', 'request', 0.0002),
      summary('owl', 'request', undefined),
    ]);
    const find = (to: string, type: string) => samples.find((s) => s.to === to && s.type === type);
    expect(find('duck', 'connect')).toEqual({
      from: 'eagle',
      to: 'duck',
      type: 'connect',
      value: '100000',
      ts: '2026-01-01T12:01:00.000Z',
      count: 10,
      failed: 0,
      p99: '200000',
    });
    expect(find('duck', 'rtt_request')?.value).toBe('200000');
    expect(find('duck', 'rtt_total')?.value).toBe('300000');
    expect(find('owl', 'request')?.value).toBe('NaN');
    expect(find('owl', 'rtt_total')).toBeUndefined();
    expect(samples.filter((s) => s.to === 'duck')).toHaveLength(4);
    expect(apiSamples([summary('duck', 'request', 0.0002)], new Set(['duck']))).toEqual([]);
  });
});

describe('the API port', () => {
  let api: MeshApi | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  async function start(samples: ApiSample[]) {
    const metrics = createMeshMetrics({ nodeCount: () => 2 });
    api = await startMeshApi({
      listenAddress: '127.0.0.1',
      port: 0,
      tokens: ['api-token'],
      name: 'eagle',
      nodes: () => ['duck', 'owl'],
      samples: () => samples,
      metrics: async () => {
        const text = await metrics.text();
        metrics.stop();
        return text;
      },
    });
    const port = api.port;
    return (path: string, init: RequestInit & { token?: string } = {}) =>
      fetch(`http://127.0.0.1:${port}${path}`, {
        ...init,
        headers: init.token ? { authorization: `Bearer ${init.token}` } : {},
      });
  }

  it('wants the token on samples, nodes and metrics, and serves the OpenAPI document without one', async () => {
    const call = await start([]);
    for (const path of ['/api/v1/samples', '/api/v1/nodes', '/metrics']) {
      const res = await call(path);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: expect.stringContaining('token') } });
      expect((await call(path, { token: 'api-tokeN' })).status).toBe(401);
    }
    expect(await (await call('/api/v1/nodes', { token: 'api-token' })).json()).toEqual({
      nodes: ['eagle', 'duck', 'owl'],
    });
    const metrics = await (await call('/metrics', { token: 'api-token' })).text();
    expect(metrics).toContain('node_count 2');
    expect(metrics).toContain('# TYPE rtt histogram');
    const openapi = (await (await call('/api/v1/openapi.json')).json()) as { openapi: string; paths: object };
    expect(openapi.openapi).toBe('3.1.0');
    expect(Object.keys(openapi.paths)).toEqual([
      '/api/v1/samples',
      '/api/v1/nodes',
      '/metrics',
      '/api/v1/openapi.json',
    ]);
    expect((await call('/api/v1/other', { token: 'api-token' })).status).toBe(404);
    expect((await call('/api/v1/nodes', { method: 'POST', body: 'x', token: 'api-token' })).status).toBe(405);
  });

  it('bounds the samples answer', async () => {
    const one: ApiSample = { from: 'a', to: 'b', type: 'request', value: '1', ts: '2026-01-01T00:00:00.000Z' };
    const call = await start(Array.from({ length: MAX_SAMPLES + 5 }, () => one));
    const body = (await (await call('/api/v1/samples', { token: 'api-token' })).json()) as {
      samples: ApiSample[];
      truncated?: boolean;
    };
    expect(body.samples).toHaveLength(MAX_SAMPLES);
    expect(body.truncated).toBe(true);
  });
});
