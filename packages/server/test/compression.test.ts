import { request as httpRequest } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, startTestServer, type TestServer, writeTemp } from './support/server.ts';
import { makeTempDir } from './support/temp-dir.ts';

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A GET that keeps the body as it came over the wire (fetch would decode it). */
function rawGet(url: string, headers: Record<string, string>, method = 'GET', body?: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const auth = { authorization: `Bearer ${adminToken}` };
// Enough versions that the check-in answer is well over the compression threshold.
const versions = Array.from({ length: 40 }, (_, i) => ({
  name: `v1.${i}.0`,
  releaseDate: '2025-01-10T10:00:00Z',
  tags: [i === 0 ? 'latest' : 'stable'],
}));

describe('compressed answers', () => {
  let server: TestServer;
  beforeAll(async () => {
    const config = writeTemp(makeTempDir('flotilla-compress-'), 'versions.json', { versions });
    server = await startTestServer('sqlite', { upgradeResponseConfig: config, applicationName: 'demo' });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('compresses a JSON answer with brotli or gzip as the request allows, and says it varies', async () => {
    const url = `${server.url}/api/openapi.json`;
    const plain = await rawGet(url, auth);
    expect(plain.headers['content-encoding']).toBeUndefined();
    const br = await rawGet(url, { ...auth, 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers.vary).toMatch(/accept-encoding/i);
    expect(br.body.length).toBeLessThan(plain.body.length / 4);
    expect(JSON.parse(brotliDecompressSync(br.body).toString())).toEqual(JSON.parse(plain.body.toString()));
    const gz = await rawGet(url, { ...auth, 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).equals(plain.body)).toBe(true);
  });

  it('leaves small answers and the check-in answers as they are', async () => {
    const small = await rawGet(`${server.url}/api/v1/whoami`, { ...auth, 'accept-encoding': 'br' });
    expect(small.status).toBe(200);
    expect(small.headers['content-encoding']).toBeUndefined();
    const checkin = await rawGet(
      `${server.url}/v1/checkupgrade`,
      { 'accept-encoding': 'br, gzip', 'content-type': 'application/json' },
      'POST',
      JSON.stringify({ appVersion: 'v1.0.0' }),
    );
    expect(checkin.status).toBe(200);
    expect(checkin.body.length).toBeGreaterThan(2048);
    expect(checkin.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(checkin.body.toString()).versions).toHaveLength(40);
  });

  it('streams a log follow uncompressed, event by event', async () => {
    const left = new AbortController();
    try {
      const res = await fetch(`${server.url}/api/v1/logs?follow=1`, {
        headers: { ...auth, 'accept-encoding': 'br, gzip' },
        signal: left.signal,
      });
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      expect(res.headers.get('content-encoding')).toBeNull();
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const first = await reader.read();
      expect(new TextDecoder().decode(first.value)).toContain('connected');
    } finally {
      left.abort();
    }
  });
});
