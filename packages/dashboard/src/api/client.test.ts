import { afterEach, describe, expect, it, vi } from 'vitest';
import { getEarly, request } from './client.ts';

/** A fetch that answers each call with the next of `answers` and records the paths asked. */
function fakeFetch(answers: Array<{ status: number; body: unknown }>) {
  const asked: string[] = [];
  vi.stubGlobal('fetch', async (path: string) => {
    asked.push(path);
    const next = answers.shift() ?? { status: 500, body: { error: { code: 'x', message: 'no more answers' } } };
    return new Response(JSON.stringify(next.body), { status: next.status });
  });
  return asked;
}

describe('early GETs', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('are answered once: the first request for the path takes the early answer, the next asks again', async () => {
    const asked = fakeFetch([
      { status: 200, body: { n: 1 } },
      { status: 200, body: { n: 2 } },
    ]);
    getEarly('/api/v1/early-a');
    getEarly('/api/v1/early-a'); // pending already: not asked twice
    expect(asked).toEqual(['/api/v1/early-a']);
    await expect(request('GET', '/api/v1/early-a')).resolves.toEqual({ n: 1 });
    await expect(request('GET', '/api/v1/early-a')).resolves.toEqual({ n: 2 });
    expect(asked).toHaveLength(2);
  });

  it('ask again when the early answer failed', async () => {
    const asked = fakeFetch([
      { status: 503, body: { error: { code: 'unavailable', message: 'busy' } } },
      { status: 200, body: { ok: true } },
    ]);
    getEarly('/api/v1/early-b');
    await expect(request('GET', '/api/v1/early-b')).resolves.toEqual({ ok: true });
    expect(asked).toEqual(['/api/v1/early-b', '/api/v1/early-b']);
  });

  it('are never taken by a request with another method', async () => {
    const asked = fakeFetch([
      { status: 200, body: { early: true } },
      { status: 200, body: { posted: true } },
    ]);
    getEarly('/api/v1/early-c');
    await expect(request('POST', '/api/v1/early-c', {})).resolves.toEqual({ posted: true });
    expect(asked).toHaveLength(2);
  });
});
