import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import { installErrorHandling } from '../http/error-handler.ts';
import { dashboardDist, serveDashboard } from './routes.ts';

function fakeDist(): string {
  const dist = makeTempDir('flotilla-dist-');
  mkdirSync(join(dist, 'assets'));
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>dash</title>');
  writeFileSync(join(dist, 'assets', 'index-abc123.js'), 'console.log(1)');
  // The build's precompressed siblings (their content only has to differ from the original's).
  writeFileSync(join(dist, 'assets', 'index-abc123.js.br'), 'brotli bytes');
  writeFileSync(join(dist, 'assets', 'index-abc123.js.gz'), 'gzip bytes');
  writeFileSync(join(dist, 'favicon.svg'), '<svg/>');
  return dist;
}

describe('serving the dashboard', () => {
  let app: FastifyInstance;
  afterEach(async () => {
    await app?.close();
  });
  async function build(dist: string | null) {
    app = Fastify();
    installErrorHandling(app);
    app.get('/healthz', async () => ({ status: 'ok' }));
    await app.register(async (child) => serveDashboard(child, dist));
    return app;
  }

  it('serves index.html for client routes, with no-cache and the security headers', async () => {
    await build(fakeDist());
    for (const url of ['/', '/usage?app=demo', '/settings/deep/link']) {
      const res = await app.inject({ url });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toContain('text/html');
      expect(res.body).toContain('<title>dash</title>');
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['content-security-policy']).toContain("default-src 'self'");
      expect(res.headers['content-security-policy']).not.toContain('unsafe-inline');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('same-origin');
    }
  });

  it('caches hashed assets for a year, and 404s a missing asset instead of sending HTML', async () => {
    await build(fakeDist());
    const js = await app.inject({ url: '/assets/index-abc123.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.body).toBe('console.log(1)');
    expect((await app.inject({ url: '/favicon.svg' })).headers['cache-control']).toBe('no-cache');
    const missing = await app.inject({ url: '/assets/index-gone.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('not_found');
  });

  it('sends the precompressed sibling the request accepts, and says the answer varies by it', async () => {
    await build(fakeDist());
    const url = '/assets/index-abc123.js';
    const br = await app.inject({ url, headers: { 'accept-encoding': 'gzip, deflate, br' } });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.body).toBe('brotli bytes');
    expect(br.headers['content-type']).toContain('javascript');
    expect(br.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(br.headers.vary).toMatch(/accept-encoding/i);
    const gz = await app.inject({ url, headers: { 'accept-encoding': 'gzip' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.body).toBe('gzip bytes');
    const plain = await app.inject({ url });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toBe('console.log(1)');
    expect(plain.headers.vary).toMatch(/accept-encoding/i);
    // A file without siblings goes as it is, whatever the request accepts.
    const svg = await app.inject({ url: '/favicon.svg', headers: { 'accept-encoding': 'br' } });
    expect(svg.headers['content-encoding']).toBeUndefined();
    expect(svg.body).toBe('<svg/>');
  });

  it('never answers API, check-in or probe paths with the page, nor files outside dist', async () => {
    await build(fakeDist());
    for (const url of ['/api/v1/nope', '/api', '/v1/nope', '/metrics/x', '/readyz']) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type']).toContain('application/json');
    }
    expect((await app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const outside = await app.inject({ url: '/assets/..%2f..%2f..%2fetc%2fpasswd' });
    expect(outside.body).not.toContain('root:');
  });

  it('explains how to build the dashboard when it is not built', async () => {
    await build(makeTempDir('flotilla-empty-'));
    const res = await app.inject({ url: '/usage' });
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain('npm run build -w @flotilla/dashboard');
    await app.close();
    await build(null);
    expect((await app.inject({ url: '/' })).body).toContain('not built');
  });

  it('finds the dashboard package through module resolution', () => {
    expect(dashboardDist()).toMatch(/dashboard[/\\]dist$/);
  });
});
